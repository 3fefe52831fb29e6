"""The chat page: assemble build/web/ from web/ and the self-hosted runtimes.

Layout (every runtime file under a directory named by its content hash, so it can be cached
`immutable`; the page's own small files are served `no-cache` and revalidated):

    index.html style.css app.js worker.js weights.js ...   the page (web/*)
    build.json                                              where the hashed runtime files are
    .ic-assets.json5                                        per-file headers (COOP/COEP/CORP, CSP, cache)
    pyodide/<hash>/   pyodide.mjs pyodide.asm.mjs pyodide.asm.wasm python_stdlib.zip
    py/<hash>/        pyodide-lock.json + micropip, packaging and icchat wheels (our hashes)
    ort/<hash>/       ort.wasm.min.mjs ort-wasm-simd-threaded.mjs ort-wasm-simd-threaded.wasm
    agent/<hash>/     agent.js (esbuild bundle of @icp-sdk/core, web/agent-entry.js)
    engine/<hash>/    icchat-engine[-threads][-relaxed].wasm (the gpt2 canister's C model for the
                      browser, one thread / shared memory, SIMD128 / relaxed SIMD: icchat.build.engine)
                      and icchat-sampler.wasm (its sampler alone, for onnxruntime-web's logits)

A deploy uploads this folder plus config.json and a `.ic-assets.json5` that names the model's and
the API's origins (the CSP allows exactly those besides 'self'): icchat.build.site.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import shutil
import subprocess
import zipfile
from pathlib import Path
from urllib.parse import urlsplit

from icchat.build.engine import build_engine_modules, build_sampler_wasm
from icchat.digest import sha256_file
from icchat.errors import UserError
from icchat.paths import BUILD, NODE_MODULES, REPO

WEB_SRC = REPO / "web"
WEB_OUT = BUILD / "web"
WHEEL_CACHE = BUILD / "cache" / "wheels"
PY_SRC = REPO / "py" / "icchat"

PYODIDE_FILES = ("pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip")
ORT_FILES = ("ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")
# Pure-Python wheels Pyodide 314 can install (Python 3.14); pinned by their PyPI SHA-256.
PYPI_WHEELS = {
    "micropip-0.11.1-py3-none-any.whl":
        "768de165adb8e66906039d8fec4127a57f522dfdf8e6fbff877a4616941ecfd3",
    "packaging-26.1-py3-none-any.whl":
        "5d9c0669c6285e491e0ced2eee587eaf67b670d94a19e94e3984a481aba6802f",
}
# What the browser-side wheel holds: the package root, the chat runtime and the IC price table
# with its formulas (the page's mainnet estimate); stdlib only.
ICCHAT_WHEEL_PARTS = ("__init__.py", "chat", "ic/__init__.py", "ic/prices.py")
# The page's own files; anything else in web/ (the agent entry, templates) is build input.
PAGE_SUFFIXES = (".html", ".css", ".js", ".mjs", ".svg", ".png")
# Inputs of the agent bundle: served only inside agent/<hash>/agent.js.
AGENT_SOURCES = ("agent-entry.js", "verify-manifest.mjs", "onchain.mjs", "llm-route.mjs")
NOT_SERVED = AGENT_SOURCES


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_if_changed(path: Path, data: bytes) -> None:
    if path.is_file() and path.stat().st_size == len(data) and path.read_bytes() == data:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def copy_if_changed(src: Path, dst: Path) -> None:
    if dst.is_file() and dst.stat().st_size == src.stat().st_size and sha256_file(dst) == sha256_file(src):
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)


def hashed_dir(kind: str, files: dict[str, bytes | Path]) -> tuple[str, dict[str, bytes | Path]]:
    """The directory name `kind/<12 hex>` for a set of files: their names and content."""
    digest = hashlib.sha256()
    for name in sorted(files):
        item = files[name]
        digest.update(name.encode() + b"\0")
        digest.update((sha256_bytes(item) if isinstance(item, bytes) else sha256_file(item)).encode())
    return f"{kind}/{digest.hexdigest()[:12]}", files


def place(out: Path, rel_dir: str, files: dict[str, bytes | Path]) -> None:
    for name, item in files.items():
        target = out / rel_dir / name
        if isinstance(item, bytes):
            write_if_changed(target, item)
        else:
            copy_if_changed(item, target)


# --- wheels -----------------------------------------------------------------------------------

def pypi_wheels() -> dict[str, Path]:
    """micropip + packaging from PyPI (cached under build/cache/wheels/), hash-checked."""
    missing = [name for name in PYPI_WHEELS if not (WHEEL_CACHE / name).is_file()]
    if missing:
        WHEEL_CACHE.mkdir(parents=True, exist_ok=True)
        specs = [name.split("-")[0] + "==" + name.split("-")[1] for name in missing]
        cmd = [str(REPO / ".venv" / "bin" / "python"), "-m", "pip", "download", "-q", "--no-deps",
               "--python-version", "3.14", "--only-binary=:all:", "-d", str(WHEEL_CACHE), *specs]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise UserError(f"could not download {', '.join(specs)} from PyPI: {proc.stderr.strip()[-300:]}")
    wheels = {}
    for name, want in PYPI_WHEELS.items():
        path = WHEEL_CACHE / name
        if sha256_file(path) != want:
            raise UserError(f"{path} does not match its pinned SHA-256 (delete it and rebuild)")
        wheels[name] = path
    return wheels


def icchat_wheel() -> tuple[str, bytes]:
    """Our pure-Python wheel with only the browser-side code, built deterministically."""
    from icchat import __version__

    files: dict[str, bytes] = {}
    for part in ICCHAT_WHEEL_PARTS:
        src = PY_SRC / part
        paths = [src] if src.is_file() else sorted(p for p in src.rglob("*") if p.is_file())
        for path in paths:
            if "__pycache__" in path.parts or path.suffix in (".pyc", ".pyo"):
                continue
            files["icchat/" + path.relative_to(PY_SRC).as_posix()] = path.read_bytes()
    dist = f"icchat-{__version__}.dist-info"
    files[f"{dist}/METADATA"] = (f"Metadata-Version: 2.1\nName: icchat\nVersion: {__version__}\n"
                                 "Summary: icchat chat runtime (browser subset)\n").encode()
    files[f"{dist}/WHEEL"] = (b"Wheel-Version: 1.0\nGenerator: icchat.build.web\n"
                              b"Root-Is-Purelib: true\nTag: py3-none-any\n")
    files[f"{dist}/top_level.txt"] = b"icchat\n"
    record = []
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    record.append(f"{dist}/RECORD,,")
    files[f"{dist}/RECORD"] = ("\n".join(record) + "\n").encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, files[name])
    return f"icchat-{__version__}-py3-none-any.whl", buf.getvalue()


def lock_file(wheels: dict[str, bytes | Path]) -> bytes:
    """pyodide-lock.json listing only the wheels we serve, with the SHA-256 of OUR files."""
    upstream = json.loads((NODE_MODULES / "pyodide" / "pyodide-lock.json").read_text())
    packages = {}
    for file_name, item in sorted(wheels.items()):
        name, version = file_name.split("-")[:2]
        digest = sha256_bytes(item) if isinstance(item, bytes) else sha256_file(item)
        entry = dict(upstream["packages"].get(name) or {
            "name": name, "version": version, "imports": [name], "depends": [],
            "install_dir": "site", "package_type": "package", "tool": {}, "unvendored_tests": False})
        entry.update(file_name=file_name, sha256=digest, version=version)
        packages[name] = entry
    return (json.dumps({"info": upstream["info"], "packages": packages}, indent=1) + "\n").encode()


# --- the JS agent bundle ----------------------------------------------------------------------

def agent_bundle() -> bytes:
    """esbuild of web/agent-entry.js (@icp-sdk/core and our modules it imports) as one ES
    module; cached by its inputs."""
    entry = WEB_SRC / "agent-entry.js"
    lock = REPO / "package-lock.json"
    sources = b"".join((WEB_SRC / name).read_bytes() for name in AGENT_SOURCES)
    key = sha256_bytes(sources + lock.read_bytes())[:16]
    cached = BUILD / "cache" / f"agent-{key}.js"
    if not cached.is_file():
        esbuild = NODE_MODULES / ".bin" / "esbuild"
        if not esbuild.exists():
            raise UserError("esbuild is missing: run ./dev up (npm packages)")
        tmp = cached.with_name(cached.name + ".tmp.js")
        proc = subprocess.run([str(esbuild), str(entry), "--bundle", "--format=esm", "--platform=browser",
                               "--minify", "--log-level=warning", f"--outfile={tmp}"],
                              capture_output=True, text=True, cwd=REPO, timeout=300)
        if proc.returncode != 0:
            raise UserError(f"esbuild failed on {entry}: {proc.stderr.strip()[-500:]}")
        tmp.replace(cached)
    return cached.read_bytes()


# --- .ic-assets.json5 -------------------------------------------------------------------------

def origin_of(url: str) -> str:
    """scheme://host[:port] of a URL (a CSP source must not carry a path here)."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        raise UserError(f"not an absolute URL: {url!r}")
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(model_origin: str | None = None, api_origin: str | None = None) -> str:
    """'self' plus the model's and the replica's origins (URLs are reduced to their origins);
    compiling WebAssembly needs 'wasm-unsafe-eval', nothing needs 'unsafe-eval'."""
    extra = " ".join(dict.fromkeys(origin_of(o) for o in (model_origin, api_origin) if o))
    connect = f"'self' {extra}".strip()
    return "; ".join([
        "default-src 'self'",
        "script-src 'self' 'wasm-unsafe-eval'",
        "worker-src 'self' blob:",
        f"connect-src {connect}",
        "img-src 'self' data:",
        "style-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'none'",
    ])


def render_ic_assets(model_origin: str | None = None, api_origin: str | None = None) -> str:
    """dfx's `.ic-assets.json5` for build/web: isolation headers on everything, the CSP on the
    page, immutable caching for the content-hashed runtime directories, no-cache for the rest."""
    isolation = {
        "Cross-Origin-Opener-Policy": "same-origin",
        "Cross-Origin-Embedder-Policy": "require-corp",
        "Cross-Origin-Resource-Policy": "same-origin",
        "X-Content-Type-Options": "nosniff",
    }
    page = {**isolation, "Content-Security-Policy": content_security_policy(model_origin, api_origin),
            "Referrer-Policy": "no-referrer"}
    rules = [
        # allow_raw_access false: on <id>.raw.<domain> (no certificate check) the page redirects to
        # the certified domain, with our asset canister and with dfx's (whose default is true)
        {"match": "**/*", "headers": {**isolation, "Cache-Control": "no-cache"}, "allow_raw_access": False},
        {"match": "**/*.{html,js,mjs}", "headers": {**page, "Cache-Control": "no-cache"}},
        *({"match": f"{kind}/**/*", "headers": {"Cache-Control": "public, max-age=31536000, immutable"}}
          for kind in ("pyodide", "py", "ort", "agent", "engine")),
        {"match": "config.json", "headers": {"Cache-Control": "no-cache"}},
    ]
    body = ",\n".join("  " + json.dumps(rule) for rule in rules)
    return ("// Generated by icchat.build.web (render_ic_assets): headers per file, later rules win.\n"
            "// The CSP allows only 'self', the model's origin and the replica/IC API host.\n"
            f"[\n{body},\n]\n")


def read_json5(text: str) -> object:
    """The subset of JSON5 that render_ic_assets writes: JSON plus // comment lines and trailing commas."""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("//")]
    return json.loads(re.sub(r",(\s*[\]}])", r"\1", "\n".join(lines)))


def glob_regex(pattern: str) -> re.Pattern[str]:
    """dfx-style globs: `**/` any directories (or none), `*` within a name, `{a,b}` choices."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "{":
            end = pattern.index("}", i)
            out += "(?:" + "|".join(re.escape(p) for p in pattern[i + 1:end].split(",")) + ")"
            i = end + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + r"\Z")


def ic_assets_headers(ic_assets: str, path: str) -> dict[str, str]:
    """The headers `.ic-assets.json5` text gives the file at `path` (relative): later rules win."""
    headers: dict[str, str] = {}
    for rule in read_json5(ic_assets):
        if glob_regex(rule["match"]).match(path):
            headers.update(rule.get("headers", {}))
    return headers


def render_model_ic_assets(page_origin: str | None = None) -> str:
    """`.ic-assets.json5` for the model files on their own origin (the gpt2 canister): the page
    fetches them cross-origin (CORS) from a `require-corp` page, so they need
    Access-Control-Allow-Origin (the page's origin, or `*`) and CORP cross-origin. The manifest
    is revalidated; the other files are immutable under their content-hashed URLs."""
    allow = origin_of(page_origin) if page_origin else "*"
    cors = {"Access-Control-Allow-Origin": allow, "Cross-Origin-Resource-Policy": "cross-origin",
            "X-Content-Type-Options": "nosniff"}
    if allow != "*":
        cors["Vary"] = "Origin"
    # The page asks for every file as <path>?sha256=<its hash> (the canister ignores the query), so
    # a cached answer can never be stale; the manifest, which names the hashes, is revalidated.
    # Raw access (`<id>.raw.<domain>`, no certificate check by the gateway) stays allowed for the
    # model files, unlike the page's: the page checks every file against the SHA-256 its certified
    # manifest lists, so a raw answer cannot slip a wrong byte in, and benchmarks compare both ways.
    rules = [{"match": "**/*", "headers": {**cors, "Cache-Control": "public, max-age=31536000, immutable"},
              "allow_raw_access": True},
             {"match": "manifest.json", "headers": {**cors, "Cache-Control": "no-cache"}}]
    body = ",\n".join("  " + json.dumps(rule) for rule in rules)
    return ("// Generated by icchat.build.web (render_model_ic_assets): model files, read cross-origin.\n"
            f"[\n{body},\n]\n")


def write_ic_assets(web_dir: Path, model_origin: str | None, api_origin: str | None) -> Path:
    path = Path(web_dir) / ".ic-assets.json5"
    write_if_changed(path, render_ic_assets(model_origin, api_origin).encode())
    return path


# --- the build --------------------------------------------------------------------------------

def page_files() -> dict[str, Path]:
    if not (WEB_SRC / "index.html").is_file():
        raise UserError(f"{WEB_SRC}/index.html is missing")
    return {p.name: p for p in sorted(WEB_SRC.iterdir())
            if p.is_file() and p.suffix in PAGE_SUFFIXES and p.name not in NOT_SERVED}


def build_web(out: Path = WEB_OUT) -> Path:
    """Assemble the page into `out` (default build/web/); only changed files are rewritten."""
    pyodide_src = NODE_MODULES / "pyodide"
    ort_src = NODE_MODULES / "onnxruntime-web" / "dist"
    for path in [pyodide_src / n for n in PYODIDE_FILES] + [ort_src / n for n in ORT_FILES]:
        if not path.is_file():
            raise UserError(f"{path} is missing: run ./dev up (npm packages)")

    wheel_name, wheel_bytes = icchat_wheel()
    engine_modules = build_engine_modules()
    sampler = build_sampler_wasm()
    wheels: dict[str, bytes | Path] = {**pypi_wheels(), wheel_name: wheel_bytes}
    dirs = {
        "pyodide": hashed_dir("pyodide", {n: pyodide_src / n for n in PYODIDE_FILES}),
        "py": hashed_dir("py", {**wheels, "pyodide-lock.json": lock_file(wheels)}),
        "ort": hashed_dir("ort", {n: ort_src / n for n in ORT_FILES}),
        "agent": hashed_dir("agent", {"agent.js": agent_bundle()}),
        "engine": hashed_dir("engine", {path.name: path for path in [*engine_modules.values(), sampler]}),
    }
    out.mkdir(parents=True, exist_ok=True)
    for rel_dir, files in dirs.values():
        place(out, rel_dir, files)
    for name, path in page_files().items():
        copy_if_changed(path, out / name)

    build_info = {
        "pyodide": dirs["pyodide"][0] + "/",
        "lock": dirs["py"][0] + "/pyodide-lock.json",
        "packages": ["icchat"],
        "ort": dirs["ort"][0] + "/",
        "agent": dirs["agent"][0] + "/agent.js",
        # the icchat engine: one thread / shared memory, each also with relaxed SIMD
        **{key: f"{dirs['engine'][0]}/{path.name}" for key, path in engine_modules.items()},
        "sampler": f"{dirs['engine'][0]}/{sampler.name}",  # web/sampler.mjs finds it here
    }
    write_if_changed(out / "build.json", (json.dumps(build_info, indent=2) + "\n").encode())
    write_ic_assets(out, None, None)  # same-origin only; a deploy renders the real origins (icchat.build.site)
    prune(out, {rel for rel, _ in dirs.values()}, set(page_files()))
    return out


def prune(out: Path, keep_dirs: set[str], page: set[str]) -> None:
    """Drop runtime directories of earlier builds and page files no longer in web/."""
    keep_files = page | {"build.json", "config.json", ".ic-assets.json5"}
    for child in out.iterdir():
        if child.is_file() and child.name not in keep_files:
            child.unlink()
    for kind in ("pyodide", "py", "ort", "agent", "engine"):
        root = out / kind
        if not root.is_dir():
            continue
        for child in root.iterdir():
            if f"{kind}/{child.name}" not in keep_dirs:
                shutil.rmtree(child)
