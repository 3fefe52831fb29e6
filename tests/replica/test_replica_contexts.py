"""Every supported System API function, called in every execution context the replica runs.

The expected availability below is transcribed from the interface specification's "Overview of
imports" (letters: I init/post_upgrade, G pre_upgrade, U update, RQ/NRQ query in (non-)
replicated mode, CQ composite query, F inspect_message, T heartbeat/global timer; `*` = all of
them). A call outside its contexts must trap with the IC's contract-violation wording.
"""

from __future__ import annotations

import pytest
from replica_helpers import CONTROLLER, api_index, as_u64, u64

from icchat.replica import Reject

ALL = "I G U RQ NRQ CQ F T"
SPEC = {
    "msg_arg_data_size": "I U RQ NRQ CQ F",
    "msg_arg_data_copy": "I U RQ NRQ CQ F",
    "msg_caller_size": ALL,
    "msg_caller_copy": ALL,
    "msg_caller_info_data_size": "U RQ NRQ CQ F",
    "msg_caller_info_data_copy": "U RQ NRQ CQ F",
    "msg_caller_info_signer_size": "U RQ NRQ CQ F",
    "msg_caller_info_signer_copy": "U RQ NRQ CQ F",
    "msg_reject_code": "",
    "msg_reject_msg_size": "",
    "msg_reject_msg_copy": "",
    "msg_deadline": "U RQ NRQ CQ",
    "msg_reply_data_append": "U RQ NRQ CQ",
    "msg_reply": "U RQ NRQ CQ",
    "msg_reject": "U RQ NRQ CQ",
    "msg_cycles_available128": "U RQ",
    "msg_cycles_refunded128": "",
    "msg_cycles_accept128": "U RQ",
    "cycles_burn128": "I G U RQ T",
    "canister_self_size": ALL,
    "canister_self_copy": ALL,
    "canister_cycle_balance128": ALL,
    "canister_liquid_cycle_balance128": ALL,
    "canister_status": ALL,
    "canister_version": ALL,
    "subnet_self_size": ALL,
    "subnet_self_copy": ALL,
    "msg_method_name_size": "F",
    "msg_method_name_copy": "F",
    "accept_message": "F",
    "stable64_size": ALL,
    "stable64_grow": ALL,
    "stable64_write": ALL,
    "stable64_read": ALL,
    "root_key_size": "I G U RQ T",
    "root_key_copy": "I G U RQ T",
    "certified_data_set": "I G U T",
    "data_certificate_present": ALL,
    "data_certificate_size": "NRQ CQ",
    "data_certificate_copy": "NRQ CQ",
    "time": ALL,
    "global_timer_set": "I G U T",
    "performance_counter": ALL,
    "is_controller": ALL,
    "in_replicated_execution": ALL,
    "debug_print": ALL,
    "msg_cycles_available": "U RQ",
    "msg_cycles_refunded": "",
    "msg_cycles_accept": "U RQ",
    "canister_cycle_balance": ALL,
    "stable_size": ALL,
    "stable_grow": ALL,
    "stable_write": ALL,
    "stable_read": ALL,
}
MODE_NAMES = {
    "I": "init", "G": "pre upgrade", "U": "update", "RQ": "replicated query", "NRQ": "non replicated query",
    "CQ": "composite query", "F": "inspect message", "T": "global timer",
}


def _outcome(call) -> str | None:
    """None if the call ran, else the contract-violation message."""
    try:
        call()
    except Reject as reject:
        if reject.code == 4:  # msg_reject: the canister rejected, which means the call was allowed
            return None
        return reject.message
    return None


def _run(replica, wasm, cid, selector: bytes, context: str) -> str | None:
    if context == "U":
        return _outcome(lambda: replica.update(cid, "try_update", selector))
    if context == "RQ":
        return _outcome(lambda: replica.update(cid, "try_query", selector))
    if context == "NRQ":
        return _outcome(lambda: replica.query(cid, "try_query", selector))
    if context == "CQ":
        return _outcome(lambda: replica.query(cid, "try_composite", selector))
    if context == "F":
        return _outcome(lambda: replica.inspect_message(cid, "try_inspect", selector))
    if context == "I":
        fresh = replica.create_canister(controllers=[CONTROLLER])
        return _outcome(lambda: replica.install_code(fresh, wasm, selector, sender=CONTROLLER))
    if context == "G":
        replica.update(cid, "set_pre_upgrade", selector[4:5])
        try:
            return _outcome(lambda: replica.install_code(cid, wasm, b"", "upgrade", sender=CONTROLLER))
        finally:
            replica.update(cid, "set_pre_upgrade", b"\xff")
    if context == "T":
        replica.update(cid, "set_task_api", selector[4:5])
        replica.update(cid, "set_timer", u64(1))  # already due
        replica.tick()
        ran = as_u64(replica.query(cid, "state")[24:32])
        replica.update(cid, "set_task_api", b"\xff")
        if ran == 1:
            return None
        return replica.canister(cid).system.logs[-1].content.decode()
    raise AssertionError(context)


@pytest.fixture(scope="module")
def setup(sysapi_wasm):
    from icchat.replica import Replica

    with Replica() as replica:
        cid = replica.create_canister(controllers=[CONTROLLER])
        replica.install_code(cid, sysapi_wasm, sender=CONTROLLER)
        yield replica, cid


@pytest.mark.parametrize("context", MODE_NAMES)
def test_each_function_is_available_exactly_where_the_spec_says(setup, sysapi_wasm, context):
    replica, cid = setup
    index = api_index(replica, cid)
    assert set(index) == set(SPEC), "the test canister must call every supported function"
    wrong = []
    for name, allowed in SPEC.items():
        error = _run(replica, sysapi_wasm, cid, b"api:" + bytes([index[name]]), context)
        expected_ok = context in allowed.split()
        if expected_ok and error is not None:
            wrong.append(f"{name} trapped in {context}: {error[:200]}")
        if not expected_ok:
            needle = f'"ic0_{name}" cannot be executed in {MODE_NAMES[context]} mode'
            if error is None or needle not in error:
                wrong.append(f"{name} in {context}: expected the contract violation, got {error!r:.200}")
    assert not wrong, "\n".join(wrong)
