"""The web build: what build/web holds, that Pyodide's lock file matches the wheels we serve,
that our wheel carries only the browser-side code (stdlib imports only), and the headers file."""

from __future__ import annotations

import ast
import hashlib
import json
import sys
import zipfile
from pathlib import Path

import pytest

from icchat.build.web import (
    WEB_OUT,
    build_web,
    content_security_policy,
    ic_assets_headers,
    icchat_wheel,
    read_json5,
    render_ic_assets,
    render_model_ic_assets,
)


@pytest.fixture(scope="module")
def web() -> Path:
    return build_web()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_layout_and_build_json(web):
    info = json.loads((web / "build.json").read_text())
    for name in ("pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip"):
        assert (web / info["pyodide"] / name).is_file()
    for name in ("ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm"):
        assert (web / info["ort"] / name).is_file()
    assert not list(web.rglob("*jsep*")) and not list(web.rglob("*asyncify*"))  # no WebGPU builds
    assert (web / info["agent"]).stat().st_size > 10_000
    for page in ("index.html", "app.js", "worker.js", "weights.js", "style.css"):
        assert (web / page).is_file()
    assert not (web / "agent-entry.js").exists()
    # the engine modules and the sampler (web/sampler.mjs reads its key) in one hashed directory
    assert {info[key].rsplit("/", 1)[0] for key in ("engine", "engine_relaxed", "sampler")} == {info["engine"].rsplit("/", 1)[0]}
    assert (web / info["sampler"]).name == "icchat-sampler.wasm" and (web / info["sampler"]).is_file()
    # Content-hashed directories: the name is a function of what is inside.
    for kind in ("pyodide", "py", "ort", "agent"):
        assert [p.name for p in (web / kind).iterdir()] == [info[kind if kind != "py" else "lock"].split("/")[1]]


def test_lock_file_lists_exactly_our_wheels_with_their_hashes(web):
    info = json.loads((web / "build.json").read_text())
    lock_path = web / info["lock"]
    lock = json.loads(lock_path.read_text())
    assert lock["info"]["python"].startswith("3.14")
    served = {p.name for p in lock_path.parent.glob("*.whl")}
    assert {p["file_name"] for p in lock["packages"].values()} == served
    assert set(lock["packages"]) == {"micropip", "packaging", "icchat"}
    for package in lock["packages"].values():
        assert package["sha256"] == sha256(lock_path.parent / package["file_name"])
    assert "icchat" in info["packages"]


def test_icchat_wheel_holds_only_the_browser_side_and_imports_only_the_stdlib():
    name, data = icchat_wheel()
    assert name.startswith("icchat-") and name.endswith("-py3-none-any.whl")
    import io

    with zipfile.ZipFile(io.BytesIO(data)) as wheel:
        names = wheel.namelist()
        modules = {n: wheel.read(n) for n in names if n.endswith(".py")}
    assert "icchat/__init__.py" in names and "icchat/chat/__init__.py" in names
    assert "icchat/ic/prices.py" in names  # the price table and formulas of the page's mainnet estimate
    browser_side = {"icchat/__init__.py", "icchat/ic/__init__.py", "icchat/ic/prices.py"}
    assert all(n.startswith(("icchat/chat/", "icchat-")) or n in browser_side for n in names), names
    assert not [n for n in names if "__pycache__" in n]
    allowed = set(sys.stdlib_module_names) | {"icchat", "js", "pyodide"}
    for path, source in modules.items():
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                roots = [alias.name.split(".")[0] for alias in node.names]
                full = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                roots, full = [node.module.split(".")[0]], [node.module]
            else:
                continue
            assert set(roots) <= allowed, (path, roots)
            assert all(not f.startswith("icchat.") or f.startswith(("icchat.chat", "icchat.ic.prices"))
                       for f in full), (path, full)
    assert icchat_wheel()[1] == data  # deterministic


def test_second_build_rewrites_nothing(web):
    before = {p: p.stat().st_mtime_ns for p in web.rglob("*") if p.is_file()}
    assert build_web() == WEB_OUT
    after = {p: p.stat().st_mtime_ns for p in web.rglob("*") if p.is_file()}
    assert after == before


def test_ic_assets_headers():
    text = render_ic_assets("http://gpt2.localhost:4943", "http://127.0.0.1:4943")

    def headers(path: str) -> dict[str, str]:
        return ic_assets_headers(text, path)

    page = headers("index.html")
    assert page["Cross-Origin-Opener-Policy"] == "same-origin"
    assert page["Cross-Origin-Embedder-Policy"] == "require-corp"
    assert page["Cross-Origin-Resource-Policy"] == "same-origin"
    assert page["Cache-Control"] == "no-cache"
    csp = page["Content-Security-Policy"]
    assert "connect-src 'self' http://gpt2.localhost:4943 http://127.0.0.1:4943" in csp
    assert "'unsafe-eval'" not in csp and "'unsafe-inline'" not in csp
    assert headers("config.json")["Cache-Control"] == "no-cache"
    wasm = headers("pyodide/0123456789ab/pyodide.asm.wasm")
    assert "immutable" in wasm["Cache-Control"]
    assert wasm["Cross-Origin-Embedder-Policy"] == "require-corp"
    assert "immutable" in headers("ort/0123456789ab/ort.wasm.min.mjs")["Cache-Control"]
    assert "Content-Security-Policy" in headers("ort/0123456789ab/ort.wasm.min.mjs")  # worker scripts too
    assert read_json5(text)[0] == {"match": "**/*", "headers": headers("x/y.bin"), "allow_raw_access": False}
    assert content_security_policy().count("connect-src 'self';") == 1
    same = content_security_policy("http://abc.localhost:4943/model/", "http://abc.localhost:4943")
    assert "connect-src 'self' http://abc.localhost:4943;" in same  # origins, once each


def test_model_files_are_readable_cross_origin_from_an_isolated_page():
    for page_origin, allow in [(None, "*"), ("http://app.localhost:4943/", "http://app.localhost:4943")]:
        text = render_model_ic_assets(page_origin)
        for path in ("manifest.json", "onnx/decoder_model_merged_quantized.onnx"):
            headers = ic_assets_headers(text, path)
            assert headers["Access-Control-Allow-Origin"] == allow
            assert headers["Cross-Origin-Resource-Policy"] == "cross-origin"
        # files are fetched by content-hashed URLs: immutable; the manifest names the hashes: revalidated
        assert ic_assets_headers(text, "manifest.json")["Cache-Control"] == "no-cache"
        assert "immutable" in ic_assets_headers(text, "onnx/decoder_model_merged_quantized.onnx")["Cache-Control"]
        # the page checks each model file against its certified manifest: raw serving stays allowed
        assert read_json5(text)[0]["allow_raw_access"] is True
