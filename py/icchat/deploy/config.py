"""Per-asset settings from `.ic-assets.json5` files, in dfx's format.

A folder (or any subfolder) may hold `.ic-assets.json5` (or `.ic-assets.json`): a JSON5 array of
rules, each with a `match` glob relative to that file's folder and any of

    headers: { "Name": "value" | null }   cache: { max_age: seconds }   ignore: bool
    allow_raw_access: bool                enable_aliasing: bool         encodings: ["identity", "gzip"]
    security_policy / disable_security_policy_warning   (accepted; dfx's built-in header sets are not added)

Rules apply in order, parent folders first; a later rule overrides the fields it sets, and
headers merge by name (null removes one). A file no rule gives `allow_raw_access` gets
DEFAULT_ALLOW_RAW_ACCESS (false: certified or nothing; dfx's default is true since 0.15, see
docs/asset-canister.md). Globs: `*` and `?` stay within one path segment, `**`
spans segments, `{a,b}` alternatives, `[...]` classes. Files and folders whose name starts with a
dot are skipped unless a rule says `ignore: false`; the config files themselves never upload.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from icchat.deploy.json5 import JSON5Error, loads

CONFIG_NAMES = (".ic-assets.json5", ".ic-assets.json")
ENCODINGS = ("identity", "gzip")
_RULE_KEYS = {"match", "headers", "cache", "ignore", "allow_raw_access", "enable_aliasing", "encodings",
              "security_policy", "disable_security_policy_warning"}


# Our default, unlike dfx's (true since dfx 0.15): a file is served on `<id>.raw.<domain>`, where the
# gateway does not check the canister's certificate, only when a rule says `allow_raw_access: true`;
# otherwise the canister redirects there to the certified domain.
DEFAULT_ALLOW_RAW_ACCESS = False


class ConfigError(ValueError):
    """A config file that cannot be used; the message names the file and the rule."""


@dataclass
class AssetConfig:
    """What the rules say about one file (None: not set by any rule; allow_raw_access is always set)."""

    headers: dict[str, str] = field(default_factory=dict)
    max_age: int | None = None
    ignore: bool | None = None
    allow_raw_access: bool | None = None
    enable_aliasing: bool | None = None
    encodings: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Rule:
    base: PurePosixPath  # folder of the config file, relative to the deployed folder ("." at the top)
    pattern: re.Pattern[str]
    fields: dict[str, Any]
    source: str

    def matches(self, relpath: PurePosixPath) -> bool:
        if self.base != PurePosixPath("."):
            try:
                relpath = relpath.relative_to(self.base)
            except ValueError:
                return False
        return self.pattern.fullmatch(str(relpath)) is not None


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A glob as a regex over '/'-separated relative paths (see the module docstring)."""
    out, i, depth = [], 0, 0
    pattern = pattern.lstrip("/")
    if pattern.startswith("./"):
        pattern = pattern[2:]
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = pattern.find("]", i + 2)
            if end < 0:
                raise ConfigError(f"glob {pattern!r}: unclosed '['")
            body = pattern[i + 1:end].replace("\\", "\\\\")
            out.append("[^" + body[1:] + "]" if body.startswith("!") else "[" + body + "]")
            i = end + 1
            continue
        elif c == "{":
            out.append("(?:")
            depth += 1
        elif c == "}" and depth:
            out.append(")")
            depth -= 1
        elif c == "," and depth:
            out.append("|")
        else:
            out.append(re.escape(c))
        i += 1
    if depth:
        raise ConfigError(f"glob {pattern!r}: unclosed '{{'")
    return re.compile("".join(out))


def load_rules(folder: Path) -> list[Rule]:
    """Every rule of every config file under `folder`, parents before children."""
    rules: list[Rule] = []
    config_files = sorted((p for name in CONFIG_NAMES for p in folder.rglob(name)),
                          key=lambda p: (len(p.relative_to(folder).parts), str(p)))
    for path in config_files:
        base = PurePosixPath(path.parent.relative_to(folder).as_posix())
        source = path.relative_to(folder).as_posix()
        try:
            data = loads(path.read_text(encoding="utf-8"))
        except (JSON5Error, UnicodeDecodeError) as exc:
            raise ConfigError(f"{source}: {exc}") from None
        if not isinstance(data, list):
            raise ConfigError(f"{source}: expected an array of rules")
        for n, rule in enumerate(data):
            rules.append(_rule(rule, base, f"{source} rule {n + 1}"))
    return rules


def _rule(rule: Any, base: PurePosixPath, source: str) -> Rule:
    if not isinstance(rule, dict):
        raise ConfigError(f"{source}: a rule must be an object")
    unknown = sorted(set(rule) - _RULE_KEYS)
    if unknown:
        raise ConfigError(f"{source}: unknown field(s) {', '.join(unknown)}")
    match = rule.get("match")
    if not isinstance(match, str) or not match:
        raise ConfigError(f"{source}: `match` must be a non-empty glob string")
    headers = rule.get("headers")
    if headers is not None and not (isinstance(headers, dict)
                                    and all(isinstance(v, (str, type(None))) for v in headers.values())):
        raise ConfigError(f"{source}: `headers` must map names to strings (or null)")
    cache = rule.get("cache")
    if cache is not None:
        max_age = cache.get("max_age") if isinstance(cache, dict) else None
        if not isinstance(cache, dict) or (max_age is not None and (isinstance(max_age, bool) or not isinstance(max_age, int) or max_age < 0)):
            raise ConfigError(f"{source}: `cache` must be {{ max_age: seconds }}")
    for flag in ("ignore", "allow_raw_access", "enable_aliasing"):
        if flag in rule and not isinstance(rule[flag], bool):
            raise ConfigError(f"{source}: `{flag}` must be true or false")
    encodings = rule.get("encodings")
    if encodings is not None and (not isinstance(encodings, list) or not encodings
                                  or any(e not in ENCODINGS for e in encodings)):
        raise ConfigError(f"{source}: `encodings` must list some of {', '.join(ENCODINGS)}")
    return Rule(base, glob_regex(match), rule, source)


def config_for(relpath: PurePosixPath, rules: list[Rule]) -> AssetConfig:
    config = AssetConfig()
    for rule in rules:
        if not rule.matches(relpath):
            continue
        fields = rule.fields
        for name, value in (fields.get("headers") or {}).items():
            existing = next((k for k in config.headers if k.lower() == name.lower()), None)
            if existing is not None:
                del config.headers[existing]
            if value is not None:
                config.headers[name] = value
        if "cache" in fields and fields["cache"] is not None:
            config.max_age = fields["cache"].get("max_age")
        for flag in ("ignore", "allow_raw_access", "enable_aliasing"):
            if flag in fields:
                setattr(config, flag, fields[flag])
        if fields.get("encodings") is not None:
            config.encodings = tuple(dict.fromkeys(fields["encodings"]))
    if config.allow_raw_access is None:
        config.allow_raw_access = DEFAULT_ALLOW_RAW_ACCESS
    return config
