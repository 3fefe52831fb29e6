"""Loading canister modules: WASM features the IC supports, and the IC's refusals (at install)."""

from __future__ import annotations

import gzip

import pytest
from replica_helpers import CONTROLLER, reject_of, wat

REPLY = '(import "ic0" "msg_reply_data_append" (func $append (param i32 i32))) (import "ic0" "msg_reply" (func $reply))'


def install(replica, module: bytes):
    cid = replica.create_canister(controllers=[CONTROLLER])
    replica.install_code(cid, module, sender=CONTROLLER)
    return cid


def refused(replica, module: bytes) -> str:
    cid = replica.create_canister(controllers=[CONTROLLER])
    reject = reject_of(replica.install_code, cid, module, sender=CONTROLLER)
    assert reject.error_code == "IC0505", reject
    assert reject.message.startswith(f"Error from Canister {cid}: Canister's Wasm module is not valid: ")
    assert replica.canister_info(cid).module_hash is None
    return reject.message


def test_simd_bulk_memory_and_multi_value(replica):
    module = wat(f"""(module {REPLY} (memory (export "memory") 1)
      (func $pair (result i32 i32) (i32.const 3) (i32.const 4))
      (func (export "canister_query features")
        (v128.store (i32.const 0) (i32x4.add (v128.const i32x4 1 2 3 4) (v128.const i32x4 10 20 30 40)))
        (memory.fill (i32.const 16) (i32.const 0x2a) (i32.const 4))
        (memory.copy (i32.const 20) (i32.const 0) (i32.const 4))
        (i32.store8 (i32.const 24) (i32.add (call $pair)))
        (call $append (i32.const 0) (i32.const 25)) (call $reply)))""")
    out = replica.query(install(replica, module), "features")
    assert out[:16] == b"".join(v.to_bytes(4, "little") for v in (11, 22, 33, 44))
    assert out[16:20] == b"\x2a" * 4 and out[20:24] == (11).to_bytes(4, "little") and out[24] == 7


@pytest.mark.parametrize(("body", "feature"), [
    ("(func (result v128) (f32x4.relaxed_madd (v128.const i32x4 0 0 0 0) (v128.const i32x4 0 0 0 0) (v128.const i32x4 0 0 0 0)))",
     "relaxed SIMD"),
    ("(func $loop (return_call $loop))", "tail calls"),
])
def test_features_the_ic_disables_are_refused_at_install(replica, body, feature):
    message = refused(replica, wat(f'(module (memory (export "memory") 1) {body})'))
    assert "Wasmtime failed to validate wasm module" in message and f"{feature} support is not enabled" in message


def test_start_function_runs_at_install_with_only_s_functions(replica):
    ok = wat("""(module (import "ic0" "stable64_grow" (func $grow (param i64) (result i64)))
      (memory (export "memory") 1) (func $start (drop (call $grow (i64.const 2)))) (start $start))""")
    cid = install(replica, ok)
    assert replica.canister(cid).execution_state.stable.size_pages == 2
    bad = wat("""(module (import "ic0" "msg_caller_size" (func $size (result i32)))
      (memory (export "memory") 1) (func $start (drop (call $size))) (start $start))""")
    cid = replica.create_canister(controllers=[CONTROLLER])
    reject = reject_of(replica.install_code, cid, bad, sender=CONTROLLER)
    assert '"ic0_msg_caller_size" cannot be executed in start mode' in reject.message
    assert replica.canister(cid).execution_state.stable.size_pages == 0


def test_not_wasm(replica):
    assert "Wasm" in refused(replica, b"\x00asm\x01\x00\x00\x00garbage")
    refused(replica, b"hello world")
    refused(replica, gzip.compress(b"not wasm inside gzip"))


def test_unsupported_ic_function_is_reported_at_install_by_name(replica):
    module = wat('(module (import "ic0" "call_with_best_effort_response" (func (param i32))) (memory 1))')
    message = refused(replica, module)
    assert ("Module imports function 'call_with_best_effort_response' from 'ic0' that is not supported by the icchat "
            "local replica (best-effort inter-canister calls)") in message


def test_unknown_import_uses_the_ic_wording(replica):
    message = refused(replica, wat('(module (import "ic0" "no_such_call" (func)))'))
    assert "Wasm module has an invalid import section. Module imports function 'no_such_call' from 'ic0' that is not exported by the runtime." in message
    message = refused(replica, wat('(module (import "env" "msg_reply" (func)))'))
    assert 'Module imports function "msg_reply" from "env", expected to be imported from one of ["ic0"] instead.' in message
    assert "Importing globals is not allowed." in refused(replica, wat('(module (import "env" "g" (global i32)))'))


def test_import_with_wrong_signature(replica):
    message = refused(replica, wat('(module (import "ic0" "msg_reply" (func (param i32))))'))
    assert "Wasm module has an invalid function signature. Expected input params [] for 'msg_reply', got [I32]." in message
    message = refused(replica, wat('(module (import "ic0" "msg_arg_data_size" (func (result i64))))'))
    assert "Expected return type [I32] for 'msg_arg_data_size', got [I64]." in message


def test_exports_follow_the_spec(replica):
    assert "Exporting reserved function 'canister_foo' with \"canister_\" prefix" in refused(
        replica, wat('(module (func (export "canister_foo")))')
    )
    message = refused(replica, wat('(module (func (export "canister_query m")) (func (export "canister_update m")))'))
    assert "Duplicate function 'm' exported multiple times with different call types" in message
    message = refused(replica, wat('(module (func (export "canister_update m") (param i32)))'))
    assert "Expected input params [] for 'canister_update m', got [I32]." in message
    message = refused(replica, wat('(module (func (export "canister_init") (result i32) (i32.const 0)))'))
    assert "Expected return type [] for 'canister_init', got [I32]." in message


def test_all_entry_point_kinds_are_accepted(replica):
    names = ["canister_init", "canister_pre_upgrade", "canister_post_upgrade", "canister_inspect_message",
             "canister_heartbeat", "canister_global_timer", "canister_query q", "canister_update u",
             "canister_composite_query c", "not_an_entry_point"]
    module = wat("(module " + " ".join(f'(func (export "{n}"))' for n in names) + ")")
    install(replica, module)


@pytest.mark.parametrize("compress", [False, True])
def test_modules_over_100_mib_are_refused(replica, compress):
    body = bytes(100 * 1024 * 1024 + 1)
    module = gzip.compress(body, compresslevel=1) if compress else body
    message = refused(replica, module)
    assert "Wasm module size of" in message and "exceeds the maximum allowed size of 104857600." in message
