"""The WASM decoder/encoder: opcode table, round trips, instrumented modules, hostile input."""

from __future__ import annotations

import contextlib
import os

import pytest
import wasmtime
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from icchat.build.canister import compile_c
from icchat.paths import BUILD, REPO
from icchat.replica.meter import InvalidModule, MeteredModule
from icchat.replica.wasm import opcodes
from icchat.replica.wasm.code import decode_instructions
from icchat.replica.wasm.instrument import COUNTER_EXPORT, instrument
from icchat.replica.wasm.module import Module
from icchat.replica.wasm.opcodes import Imm
from icchat.replica.wasm.reader import Reader, WasmDecodeError

FUZZ_EXAMPLES = int(os.environ.get("ICCHAT_FUZZ_EXAMPLES", "300"))  # more for a long fuzz run
C_CANISTERS = [REPO / "canister" / "probes" / "sysapi.c", REPO / "canister" / "probes" / "matmul.c"]

WAT_FIXTURES = {
    "globals_tables_elements": """(module
      (import "ic0" "msg_reply" (func $reply))
      (type $t (func (result i32)))
      (memory (export "memory") 1) (table 4 funcref)
      (global $counter (mut i64) (i64.const 9)) (global $k i32 (i32.const 3))
      (global $fp (mut funcref) (ref.func $a))
      (elem (i32.const 0) $a $b) (elem declare func $b)
      (elem funcref (ref.func $a) (ref.null func))
      (data (i32.const 16) "hello")
      (func $a (result i32) (i32.const 1))
      (func $b (result i32) (call_indirect (type $t) (i32.const 0)))
      (func (export "canister_update go") (drop (call $b)) (call $reply))
      (start $a_void) (func $a_void))""",
    "simd_and_bulk": """(module (memory 1) (data $d "xyz")
      (func (export "f") (param i32) (result v128)
        (memory.init $d (i32.const 0) (i32.const 0) (i32.const 3)) (data.drop $d)
        (i8x16.shuffle 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15
           (v128.load8_lane 3 (local.get 0) (v128.const i64x2 1 2))
           (i16x8.replace_lane 7 (v128.load64_zero (local.get 0)) (i32.const 5)))))""",
}


def _wat_for(key: int, name: str) -> str | None:
    """A function whose body uses the operator once (stack-polymorphic after `unreachable`)."""
    imm = opcodes.OPS[key].imm
    operand = {
        Imm.NONE: "", Imm.MEMARG: "", Imm.LANE: "1", Imm.MEMARG_LANE: "1", Imm.I32: "7",
        Imm.I64: "7", Imm.F32: "1.5", Imm.F64: "1.5", Imm.INDEX: "0", Imm.FUNC: "0",
        Imm.BYTES16: "i32x4 1 2 3 4" if name == "v128.const" else " ".join(map(str, range(16))),
        Imm.HEAPTYPE: "func", Imm.CALL_INDIRECT: "(type 0)", Imm.TWO_INDICES: "0 0",
        Imm.BR_TABLE: "0 0",
    }.get(imm)
    if operand is None or name in ("select_t", "block", "loop", "if", "else", "end"):
        return None
    return (f'(module (type (func)) (memory 1) (table 1 funcref) (data "x") (elem func 0)'
            f" (func unreachable {name} {operand} unreachable))")


def test_opcode_table_matches_wasmtimes_assembler():
    """Every operator's key (numbering) and immediates, as wasmtime's WAT assembler encodes it."""
    checked = 0
    for key, op in opcodes.OPS.items():
        wat = _wat_for(key, op.name)
        if wat is None:
            continue
        module = Module.decode(wasmtime.wat2wasm(wat))
        keys = [i.key for i in module.body(0).instructions]
        assert keys == [0x00, key, 0x00, 0x0B], op.name
        checked += 1
    assert checked > 400


@pytest.mark.parametrize("name", sorted(WAT_FIXTURES))
def test_wat_fixtures_round_trip_and_reencode(name):
    wasm = wasmtime.wat2wasm(WAT_FIXTURES[name])
    module = Module.decode(wasm)
    assert module.encode() == wasm
    for section_id, encode in ((1, module.encode_types), (2, module.encode_imports),
                               (3, module.encode_functions), (7, module.encode_exports)):
        section = module.section(section_id)
        if section is not None:
            assert encode() == module.data[section.start : section.end]


@pytest.fixture(scope="module")
def c_modules() -> dict[str, bytes]:
    return {path.stem: compile_c([path], BUILD / "test" / "meter" / f"{path.stem}.wasm").read_bytes()
            for path in C_CANISTERS}


def test_zig_built_modules_round_trip(c_modules):
    for wasm in c_modules.values():
        assert Module.decode(wasm).encode() == wasm


def test_instrumented_modules_validate_and_keep_their_interface(c_modules):
    engine = wasmtime.Engine()
    for wasm in [*c_modules.values(), *(wasmtime.wat2wasm(w) for w in WAT_FIXTURES.values())]:
        original = Module.decode(wasm)
        result = instrument(wasm)
        wasmtime.Module.validate(engine, result.wasm)
        out = Module.decode(result.wasm)
        names = {e.name for e in out.exports}
        assert {e.name for e in original.exports if e.kind == 0} <= names
        assert COUNTER_EXPORT in names
        assert [(i.module, i.name) for i in out.imports[:2]] == [
            ("__", "out_of_instructions"), ("__", "try_grow_wasm_memory")]
        assert len(out.functions) == len(original.functions) + 1


def test_mutable_globals_and_start_are_exported():
    result = instrument(wasmtime.wat2wasm(WAT_FIXTURES["globals_tables_elements"]))
    assert result.persistent_globals == ["__persistent_mutable_global_0", "__persistent_mutable_global_2"]
    assert result.start_export == "canister_start"
    assert Module.decode(result.wasm).start is None


def test_instrumented_module_computes_the_same(engine):
    wat = """(module (memory (export "memory") 1)
      (func $fib (param i32) (result i32) (if (result i32) (i32.lt_u (local.get 0) (i32.const 2))
        (then (local.get 0))
        (else (i32.add (call $fib (i32.sub (local.get 0) (i32.const 1)))
                       (call $fib (i32.sub (local.get 0) (i32.const 2)))))))
      (func (export "fib") (param i32) (result i32) (call $fib (local.get 0))))"""
    plain_store = wasmtime.Store(engine)
    plain_store.set_fuel(10**9)
    plain = wasmtime.Instance(plain_store, wasmtime.Module(engine, wasmtime.wat2wasm(wat)), [])
    metered = MeteredModule.load(engine, wasmtime.wat2wasm(wat))
    assert metered.persistent_globals == []
    from icchat.replica.meter import Meter

    store = wasmtime.Store(engine)
    meter = Meter(store)
    linker = wasmtime.Linker(engine)
    metered.define_host_functions(linker, store, meter)
    meter.begin(10**9)
    instance = linker.instantiate(store, metered.module)
    meter.attach(instance)
    assert instance.exports(store)["fib"](store, 20) == plain.exports(plain_store)["fib"](plain_store, 20) == 6765


def test_decoder_errors_are_typed():
    for data in (b"", b"\0asm", b"\0asm\x01\0\0\0\x01\x05\x01", b"\0asm\x01\0\0\0\x63\x00"):
        with pytest.raises(WasmDecodeError):
            Module.decode(data)
    with pytest.raises(WasmDecodeError, match="unknown or unsupported opcode"):
        decode_instructions(Reader(b"\xff\x0b"))
    with pytest.raises(WasmDecodeError, match="LEB128"):
        Reader(b"\xff\xff\xff\xff\xff\x7f").u32()


@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzzed_modules_never_crash_the_loader(engine, c_modules, data):
    """Random and mutated modules: loading either succeeds or raises InvalidModule."""
    seeds = [*c_modules.values(), *(wasmtime.wat2wasm(w) for w in WAT_FIXTURES.values())]
    seed = seeds[data.draw(st.integers(0, len(seeds) - 1))]
    mode = data.draw(st.sampled_from(["random", "flip", "truncate", "splice"]))
    if mode == "random":
        wasm = b"\0asm\x01\0\0\0" + data.draw(st.binary(max_size=200))
    elif mode == "flip":
        wasm = bytearray(seed)
        for _ in range(data.draw(st.integers(1, 8))):
            wasm[data.draw(st.integers(8, len(wasm) - 1))] = data.draw(st.integers(0, 255))
        wasm = bytes(wasm)
    elif mode == "truncate":
        wasm = seed[: data.draw(st.integers(0, len(seed)))]
    else:
        at = data.draw(st.integers(8, len(seed)))
        wasm = seed[:at] + data.draw(st.binary(max_size=32)) + seed[at:]
    with contextlib.suppress(InvalidModule):
        MeteredModule.load(engine, wasm)
    with contextlib.suppress(WasmDecodeError):  # the decoder alone, even on what wasmtime refuses
        instrument(wasm)
