"""compile_c: zig builds canisters, caches them by input hash, and reports compiler errors clearly."""

from __future__ import annotations

import pytest
import wasmtime

from icchat.build import canister as build
from icchat.errors import UserError

SOURCE = """#include "ic0.h"
__attribute__((export_name("canister_query hi"))) void hi(void) { ic0_msg_reply_data_append("hi", 2); ic0_msg_reply(); }
"""


def test_compiles_to_a_canister_module_and_caches_it(tmp_path, monkeypatch):
    monkeypatch.setattr(build, "CACHE", tmp_path / "cache")
    source = tmp_path / "hi.c"
    source.write_text(SOURCE)
    out = build.compile_c([source], tmp_path / "out" / "hi.wasm")
    module = wasmtime.Module(wasmtime.Engine(), out.read_bytes())
    assert {(i.module, i.name) for i in module.imports} == {("ic0", "msg_reply_data_append"), ("ic0", "msg_reply")}
    assert "canister_query hi" in {e.name for e in module.exports}
    cached = list((tmp_path / "cache").iterdir())
    assert len(cached) == 1
    stamp = cached[0].stat().st_mtime_ns
    build.compile_c([source], tmp_path / "again.wasm")  # same inputs: no recompilation
    assert [p.stat().st_mtime_ns for p in (tmp_path / "cache").iterdir()] == [stamp]
    build.compile_c([source], tmp_path / "o1.wasm", opt="-O1")  # other flags: another build
    assert len(list((tmp_path / "cache").iterdir())) == 2


def test_compiler_errors_become_a_user_error(tmp_path, monkeypatch):
    monkeypatch.setattr(build, "CACHE", tmp_path / "cache")
    source = tmp_path / "broken.c"
    source.write_text("int f(void) { return undefined_name; }\n")
    with pytest.raises(UserError) as info:
        build.compile_c([source], tmp_path / "broken.wasm")
    assert "compiling" in str(info.value) and "undefined_name" in str(info.value)
    assert not (tmp_path / "broken.wasm").exists()


def test_missing_source_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="C source not found"):
        build.compile_c([tmp_path / "nope.c"], tmp_path / "x.wasm")
