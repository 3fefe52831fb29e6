"""The llm canister's modules: its Candid interface names exactly the methods the module exports
(query or update alike), and the module the IC installs (build/canisters/llm.ic.wasm.gz) is that
module with its candid:service and icchat:canister metadata, gzipped, under the ingress limit."""

from __future__ import annotations

import gzip
import re

import wasmtime

from icchat.build.llm import LLM_DID, LLM_WASM, build_llm_wasm
from icchat.build.metadata import build_ic_modules, ic_module_path, public_metadata


def test_the_interface_is_what_the_module_exports():
    build_llm_wasm()
    exports = {e.name for e in wasmtime.Module(wasmtime.Engine(), LLM_WASM.read_bytes()).exports}
    service = LLM_DID.read_text().split("service :", 1)[1]
    declared = {f"canister_{'query' if kind.strip().endswith('query') else 'update'} {name}"
                for name, kind in re.findall(r"^\s*(\w+) : \([^)]*\) -> \(([^)]*\)[^;]*);", service, re.M)}
    assert declared == {e for e in exports if e.startswith(("canister_query ", "canister_update "))}


def test_the_ic_module_carries_the_interface():
    build_llm_wasm()
    build_ic_modules()
    module = ic_module_path("llm").read_bytes()
    assert module[:3] == b"\x1f\x8b\x08" and len(module) < 2 * 1024 * 1024
    metadata = public_metadata(module)
    assert metadata["candid:service"] == LLM_DID.read_bytes()
    assert metadata["icchat:canister"] == b"llm"
    engine = wasmtime.Engine()
    raw = wasmtime.Module(engine, LLM_WASM.read_bytes())
    ic = wasmtime.Module(engine, gzip.decompress(module))
    assert [e.name for e in ic.exports] == [e.name for e in raw.exports]
