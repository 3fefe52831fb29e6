"""Code installation: install, reinstall, upgrade (stable memory kept), chunked install, atomicity."""

from __future__ import annotations

import gzip
import hashlib
import random

import pytest
from replica_helpers import CONTROLLER, STRANGER, as_u64, reject_of, u64, wat

from icchat.ic import candid
from icchat.ic.principal import Principal
from icchat.replica.management import METHODS

MANAGEMENT = Principal.management()


def state(replica, cid) -> list[int]:
    data = replica.query(cid, "state")
    return [as_u64(data[i : i + 8]) for i in range(0, 64, 8)]


def test_upgrade_keeps_stable_memory_and_runs_both_hooks(replica, canister, sysapi_wasm):
    for _ in range(3):
        replica.update(canister, "inc")
    replica.update(canister, "stable_write", u64(1 << 20) + b"survives")
    version = replica.canister_info(canister).version
    replica.install_code(canister, sysapi_wasm, b"post", mode="upgrade", sender=CONTROLLER)
    counter, _, _, _, upgraded, restored, _, _ = state(replica, canister)
    assert (counter, upgraded, restored) == (3, 1, 3)  # pre_upgrade saved it, post_upgrade read it back
    assert replica.query(canister, "stable_read", u64(1 << 20) + u64(8)) == b"survives"
    assert replica.query(canister, "init_arg") == b"post"
    assert replica.canister_info(canister).version > version


def test_failed_upgrades_leave_the_canister_as_it_was(replica, canister, sysapi_wasm):
    replica.update(canister, "inc")
    replica.update(canister, "stable_write", u64(0) + b"12345678xyz")
    before = (replica.query(canister, "state"), replica.query(canister, "stable_read", u64(0) + u64(11)))
    module_hash = replica.canister_info(canister).module_hash
    # post_upgrade traps
    reject = reject_of(replica.install_code, canister, sysapi_wasm, b"trap", mode="upgrade", sender=CONTROLLER)
    assert reject.error_code == "IC0503" and "post_upgrade trapped on request" in reject.message
    assert (replica.query(canister, "state"), replica.query(canister, "stable_read", u64(0) + u64(11))) == before
    # pre_upgrade traps (after writing the counter into stable memory)
    replica.update(canister, "set_pre_upgrade", b"\xff\x01")
    before = (replica.query(canister, "state"), replica.query(canister, "stable_read", u64(0) + u64(11)))
    reject = reject_of(replica.install_code, canister, sysapi_wasm, b"", mode="upgrade", sender=CONTROLLER)
    assert "pre_upgrade trapped on request" in reject.message
    assert (replica.query(canister, "state"), replica.query(canister, "stable_read", u64(0) + u64(11))) == before
    assert replica.canister_info(canister).module_hash == module_hash
    # skip_pre_upgrade is the way out, as on the IC
    replica.install_code(canister, sysapi_wasm, b"", mode="upgrade", sender=CONTROLLER, skip_pre_upgrade=True)


def test_reinstall_wipes_heap_and_stable_memory(replica, canister, sysapi_wasm):
    replica.update(canister, "inc")
    replica.update(canister, "stable_write", u64(0) + b"gone")
    replica.update(canister, "set_certified", b"old")
    replica.install_code(canister, sysapi_wasm, b"again", mode="reinstall", sender=CONTROLLER)
    assert as_u64(replica.query(canister, "read")) == 0
    assert as_u64(replica.query(canister, "stable_size")) == 0
    assert replica.canister_info(canister).certified_data == b""
    assert replica.query(canister, "init_arg") == b"again"


def test_install_on_a_non_empty_canister_is_refused(replica, canister, sysapi_wasm):
    reject = reject_of(replica.install_code, canister, sysapi_wasm, b"", sender=CONTROLLER)
    assert reject.error_code == "IC0514"
    assert reject.message == (
        f"Canister {canister} cannot be installed because the canister is not empty. "
        "Try installing with mode='reinstall' instead."
    )


def test_failed_install_leaves_the_canister_empty(replica, sysapi_wasm):
    cid = replica.create_canister(controllers=[CONTROLLER])
    reject = reject_of(replica.install_code, cid, sysapi_wasm, b"trap", sender=CONTROLLER)
    assert "init trapped on request" in reject.message
    assert replica.canister_info(cid).module_hash is None
    replica.install_code(cid, sysapi_wasm, b"ok", sender=CONTROLLER)


def test_gzipped_module_installs_and_hash_covers_the_bytes_given(replica, sysapi_wasm):
    cid = replica.create_canister(controllers=[CONTROLLER])
    compressed = gzip.compress(sysapi_wasm)
    replica.install_code(cid, compressed, sender=CONTROLLER)
    assert replica.canister_info(cid).module_hash == hashlib.sha256(compressed).digest()
    assert as_u64(replica.update(cid, "inc")) == 1


def test_only_controllers_install(replica, canister, sysapi_wasm):
    reject = reject_of(replica.install_code, canister, sysapi_wasm, b"", mode="reinstall", sender=STRANGER)
    assert reject.error_code == "IC0512"
    assert reject.message == (
        f"Only the controllers of the canister {canister} can control it.\n"
        f"Canister's controllers: {CONTROLLER}\nSender's ID: {STRANGER}"
    )


def _call(replica, method: str, value, sender=CONTROLLER):
    func = METHODS[method]
    reply = replica.update(MANAGEMENT, method, candid.encode(func.args, [value]), sender=sender)
    return candid.decode(reply, func.rets)


def test_chunked_install_of_a_module_over_2_mib(replica):
    # A valid module with a 3 MiB data segment: too large for one ingress message.
    payload = random.Random(0).randbytes(3 * 1024 * 1024)
    module = wat(
        '(module (import "ic0" "msg_reply_data_append" (func $append (param i32 i32)))'
        ' (import "ic0" "msg_reply" (func $reply))'
        ' (memory (export "memory") 64) (data (i32.const 0) "'
        + "".join(f"\\{b:02x}" for b in payload)
        + '")'
        ' (func (export "canister_query head") (call $append (i32.const 0) (i32.const 16)) (call $reply)))'
    )
    assert len(module) > 3 * 1024 * 1024
    cid = replica.create_canister(controllers=[CONTROLLER])
    too_large = candid.encode(
        METHODS["install_code"].args,
        [{"mode": {"install": None}, "canister_id": cid, "wasm_module": module, "arg": b""}],
    )
    assert "exceeds the limit of 2097152 bytes" in reject_of(replica.update, MANAGEMENT, "install_code", too_large).message
    chunks = [module[i : i + 1024 * 1024] for i in range(0, len(module), 1024 * 1024)]
    hashes = [_call(replica, "upload_chunk", {"canister_id": cid, "chunk": c})[0]["hash"] for c in chunks]
    assert hashes == [hashlib.sha256(c).digest() for c in chunks]
    stored = _call(replica, "stored_chunks", {"canister_id": cid})[0]
    assert sorted(h["hash"] for h in stored) == sorted(hashes)
    install = {
        "mode": {"install": None},
        "target_canister": cid,
        "store_canister": None,
        "chunk_hashes_list": [{"hash": h} for h in hashes],
        "wasm_module_hash": hashlib.sha256(module).digest(),
        "arg": b"",
    }
    bad = dict(install, wasm_module_hash=bytes(32))
    assert "does not match given module hash" in reject_of(_call, replica, "install_chunked_code", bad).message
    missing = dict(install, chunk_hashes_list=[{"hash": bytes(32)}])
    assert "was not found in the chunk store" in reject_of(_call, replica, "install_chunked_code", missing).message
    _call(replica, "install_chunked_code", install)
    assert replica.query(cid, "head") == payload[:16]
    assert replica.canister_info(cid).module_hash == hashlib.sha256(module).digest()
    _call(replica, "clear_chunk_store", {"canister_id": cid})
    assert _call(replica, "stored_chunks", {"canister_id": cid}) == [[]]
    too_big = {"canister_id": cid, "chunk": bytes(1024 * 1024 + 1)}
    assert "exceeds the maximum chunk size of 1048576" in reject_of(_call, replica, "upload_chunk", too_big).message


@pytest.mark.parametrize("upgrade_mode", [{"upgrade": None}, {"upgrade": {"skip_pre_upgrade": None, "wasm_memory_persistence": None}}])
def test_install_code_through_the_management_canister(replica, sysapi_wasm, upgrade_mode):
    cid = _call(replica, "provisional_create_canister_with_cycles", {"settings": {"controllers": [CONTROLLER]}, "amount": 10**13})[0]["canister_id"]
    _call(replica, "install_code", {"mode": {"install": None}, "canister_id": cid, "wasm_module": sysapi_wasm, "arg": b"x"})
    replica.update(cid, "inc")
    _call(replica, "install_code", {"mode": upgrade_mode, "canister_id": cid, "wasm_module": sysapi_wasm, "arg": b""})
    assert as_u64(replica.query(cid, "read")) == 1
