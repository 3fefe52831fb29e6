"""The parts of dfx.json's and icp.yaml's schemas that icchat's files use, as checked structures.

Sources (field names match exactly):
- dfx.json: dfinity/sdk docs/dfx-json-schema.json (`dfx schema`), ConfigCanistersCanister and
  CanisterMetadataSection; `gzip`/`init_arg` from later dfx releases.
- icp.yaml: dfinity/icp-cli docs/schemas/icp-yaml-schema.json (v1.3): CanisterManifest, BuildStep
  (script | pre-built), SyncStep (script | plugin), Recipe; the built-in `assets` sync step is gone
  since 0.3 (asset uploads are the @dfinity/asset-canister recipe's plugin, v2.2.1 and later).
"""

from __future__ import annotations

from typing import Any

DFX_TOP = {"canisters", "defaults", "dfx", "networks", "output_env_file", "profile", "version"}
DFX_CANISTER = {"args", "build", "candid", "declarations", "dependencies", "frontend", "gzip", "init_arg",
                "initialization_values", "main", "metadata", "optimize", "package", "post_install", "remote",
                "shrink", "source", "specified_id", "type", "wasm"}
DFX_REQUIRED = {"assets": {"source", "type"}, "custom": {"candid", "type", "wasm"},
                "rust": {"candid", "package", "type"}, "motoko": {"type"}}
DFX_METADATA = {"name", "networks", "path", "visibility"}
DFX_NETWORK = {"bind", "providers", "type", "replica", "bitcoin", "canister_http", "playground"}

ICP_TOP = {"canisters", "networks", "environments", "dependencies"}
ICP_CANISTER = {"name", "build", "sync", "settings", "init_args", "recipe"}
ICP_BUILD_STEPS = {"script": ({"type", "command", "commands"}, [{"command"}, {"commands"}]),
                   "pre-built": ({"type", "path", "url", "sha256"}, [{"path"}, {"url"}])}
ICP_SYNC_STEPS = {"script": ({"type", "command", "commands"}, [{"command"}, {"commands"}]),
                  "plugin": ({"type", "path", "url", "sha256", "dirs", "files"}, [{"path"}, {"url"}])}
ICP_RECIPE = {"type", "sha256", "configuration"}


def _keys(where: str, value: Any, allowed: set[str], required: set[str] = frozenset()) -> list[str]:
    if not isinstance(value, dict):
        return [f"{where}: expected an object"]
    errors = [f"{where}: unknown field {k!r}" for k in value if k not in allowed]
    errors += [f"{where}: missing {k!r}" for k in sorted(required - value.keys())]
    return errors


def _strings(where: str, value: Any) -> list[str]:
    ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
    return [] if ok else [f"{where}: expected a list of strings"]


def check_dfx(config: Any) -> list[str]:
    errors = _keys("dfx.json", config, DFX_TOP, {"canisters"})
    for name, canister in (config.get("canisters") or {}).items():
        where = f"canisters.{name}"
        kind = canister.get("type", "motoko") if isinstance(canister, dict) else None
        if kind not in DFX_REQUIRED:
            errors.append(f"{where}: type {kind!r} is not one of {sorted(DFX_REQUIRED)}")
            continue
        errors += _keys(where, canister, DFX_CANISTER, DFX_REQUIRED[kind])
        for field in ("candid", "wasm", "main", "package"):
            if field in canister and not isinstance(canister[field], str):
                errors.append(f"{where}.{field}: expected a string")
        for field in ("source", "dependencies"):
            if field in canister:
                errors += _strings(f"{where}.{field}", canister[field])
        if "build" in canister and not isinstance(canister["build"], str):
            errors += _strings(f"{where}.build", canister["build"])
        for i, section in enumerate(canister.get("metadata", [])):
            errors += _keys(f"{where}.metadata[{i}]", section, DFX_METADATA, {"name"})
            if section.get("visibility", "public") not in ("public", "private"):
                errors.append(f"{where}.metadata[{i}].visibility: public or private")
        for field in ("gzip", "shrink"):
            if field in canister and not isinstance(canister[field], bool):
                errors.append(f"{where}.{field}: expected a boolean")
    for name, network in (config.get("networks") or {}).items():
        errors += _keys(f"networks.{name}", network, DFX_NETWORK)
        if network.get("type", "persistent") not in ("ephemeral", "persistent"):
            errors.append(f"networks.{name}.type: ephemeral or persistent")
    return errors


def _steps(where: str, steps: Any, kinds: dict[str, tuple[set[str], list[set[str]]]]) -> list[str]:
    if not isinstance(steps, dict) or not isinstance(steps.get("steps"), list):
        return [f"{where}: expected {{steps: [...]}}"]
    errors = _keys(where, steps, {"steps"})
    for i, step in enumerate(steps["steps"]):
        at = f"{where}.steps[{i}]"
        kind = step.get("type") if isinstance(step, dict) else None
        if kind not in kinds:
            errors.append(f"{at}: type {kind!r} is not one of {sorted(kinds)}")
            continue
        allowed, one_of = kinds[kind]
        errors += _keys(at, step, allowed, {"type"})
        if sum(all(k in step for k in option) for option in one_of) != 1:
            errors.append(f"{at}: needs exactly one of {[sorted(o) for o in one_of]}")
        if "commands" in step:
            errors += _strings(f"{at}.commands", step["commands"])
    return errors


def check_icp(config: Any) -> list[str]:
    errors = _keys("icp.yaml", config, ICP_TOP, {"canisters"})
    names = []
    for i, canister in enumerate(config.get("canisters") or []):
        where = f"canisters[{i}]"
        if isinstance(canister, str):
            continue  # a path to a canister.yaml
        errors += _keys(where, canister, ICP_CANISTER, {"name"})
        names.append(canister.get("name"))
        if ("recipe" in canister) == ("build" in canister):
            errors.append(f"{where}: needs exactly one of recipe or build")
        if "recipe" in canister:
            errors += _keys(f"{where}.recipe", canister["recipe"], ICP_RECIPE, {"type"})
            kind = canister["recipe"].get("type", "")
            if kind.startswith("@") and "@v" not in kind[1:]:
                errors.append(f"{where}.recipe.type: registry recipes need an explicit @vX.Y.Z")
        if "build" in canister:
            errors += _steps(f"{where}.build", canister["build"], ICP_BUILD_STEPS)
        if canister.get("sync") is not None:
            errors += _steps(f"{where}.sync", canister["sync"], ICP_SYNC_STEPS)
    if len(names) != len(set(names)):
        errors.append("icp.yaml: canister names are not unique")
    return errors
