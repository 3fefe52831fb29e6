"""The management canister through its Candid interface, as agents call it."""

from __future__ import annotations

from replica_helpers import CONTROLLER, STRANGER, as_u64, reject_of

from icchat.ic import candid, prices
from icchat.ic.principal import Principal
from icchat.replica import RejectCode
from icchat.replica.management import METHODS

MANAGEMENT = Principal.management()


def call(replica, method: str, value=None, sender=CONTROLLER):
    func = METHODS[method]
    arg = candid.encode(func.args, [] if value is None else [value])
    return candid.decode(replica.update(MANAGEMENT, method, arg, sender=sender), func.rets)


def create(replica, amount: int = 10**13, **settings) -> Principal:
    settings.setdefault("controllers", [CONTROLLER])
    return call(replica, "provisional_create_canister_with_cycles", {"settings": settings, "amount": amount})[0]["canister_id"]


def test_canister_ids_are_sequential_canister_principals(replica):
    first, second = create(replica), create(replica)
    assert second.canister_index() == first.canister_index() + 1
    assert first == Principal.from_canister_index(0) and str(first) == "rwlgt-iiaaa-aaaaa-aaaaa-cai"


def test_canister_status_matches_the_spec_record(replica, canister):
    [status] = call(replica, "canister_status", {"canister_id": canister})
    assert status["status"] == {"running": None}
    assert status["settings"]["controllers"] == [CONTROLLER]
    assert status["settings"]["freezing_threshold"] == 2_592_000
    assert status["settings"]["log_visibility"] == {"controllers": None}
    assert status["settings"]["wasm_memory_limit"] == 3 * 1024**3
    assert status["cycles"] == replica.canister_info(canister).cycles  # after this call's ingress induction
    assert status["idle_cycles_burned_per_day"] == prices.idle_cycles_per_day(status["memory_size"]) > 0
    assert status["module_hash"] == replica.canister_info(canister).module_hash
    assert status["memory_metrics"]["wasm_memory_size"] > 0
    assert status["memory_size"] >= status["memory_metrics"]["wasm_memory_size"]


def test_canister_status_decodes_with_the_python_agents_management_interface(replica, canister):
    """icp-py-core ships its own (older) ic.did: our reply must decode with its types too."""
    from icp_candid import decode as icp_decode
    from icp_candid.did_loader import DIDLoader
    from icp_canister.management import management_did

    func = DIDLoader().load_did_source(management_did)["methods"]["canister_status"]
    reply = replica.update(MANAGEMENT, "canister_status", candid.encode(METHODS["canister_status"].args, [{"canister_id": canister}]), sender=CONTROLLER)
    [decoded] = icp_decode(reply, func.retTypes)
    record = decoded["value"]
    assert record["cycles"] == replica.canister_info(canister).cycles
    assert [str(p) for p in record["settings"]["controllers"]] == [CONTROLLER.to_text()]


def test_only_controllers_manage_with_the_ic_wording(replica, canister):
    for method in ("canister_status", "stop_canister", "start_canister", "uninstall_code", "delete_canister"):
        reject = reject_of(call, replica, method, {"canister_id": canister}, sender=STRANGER)
        assert (reject.code, reject.error_code) == (RejectCode.CANISTER_ERROR, "IC0512"), method
        assert reject.message.startswith(f"Only the controllers of the canister {canister} can control it.\n")


def test_update_settings_changes_controllers(replica, canister):
    call(replica, "update_settings", {"canister_id": canister, "settings": {"controllers": [CONTROLLER, STRANGER]}})
    assert set(replica.canister_info(canister).controllers) == {CONTROLLER, STRANGER}
    assert replica.query(canister, "is_controller", STRANGER.raw) == (1).to_bytes(8, "little")
    call(replica, "update_settings", {"canister_id": canister, "settings": {"controllers": [STRANGER]}}, sender=STRANGER)
    assert reject_of(call, replica, "canister_status", {"canister_id": canister}).error_code == "IC0512"
    too_many = [Principal.self_authenticating(bytes([i])) for i in range(11)]
    reject = reject_of(call, replica, "update_settings", {"canister_id": canister, "settings": {"controllers": too_many}}, sender=STRANGER)
    assert "'controllers' length exceeds maximum size allowed of 10" in reject.message


def test_stop_start_and_delete(replica, canister):
    call(replica, "stop_canister", {"canister_id": canister})
    assert replica.canister_info(canister).status == "stopped"
    reject = reject_of(replica.update, canister, "inc")
    assert (reject.error_code, reject.message) == ("IC0508", f"Canister {canister} is stopped")
    assert reject_of(replica.query, canister, "read").error_code == "IC0508"
    call(replica, "start_canister", {"canister_id": canister})
    assert as_u64(replica.update(canister, "inc")) == 1
    reject = reject_of(call, replica, "delete_canister", {"canister_id": canister})
    assert (reject.error_code, reject.message) == ("IC0510", f"Canister {canister} must be stopped before it is deleted.")
    call(replica, "stop_canister", {"canister_id": canister})
    call(replica, "delete_canister", {"canister_id": canister})
    assert reject_of(replica.query, canister, "read").error_code == "IC0301"
    assert create(replica) != canister  # ids are never reused


def test_uninstall_code_empties_the_canister(replica, canister):
    call(replica, "uninstall_code", {"canister_id": canister})
    assert replica.canister_info(canister).module_hash is None
    assert reject_of(replica.query, canister, "read").error_code == "IC0537"


def test_top_up_and_provisional_amounts(replica):
    cid = create(replica, amount=123)
    assert replica.canister_info(cid).cycles == 123
    call(replica, "provisional_top_up_canister", {"canister_id": cid, "amount": 1000}, sender=STRANGER)
    assert replica.canister_info(cid).cycles == 1123


def test_canister_only_methods_are_refused_to_users(replica):
    for method, value in (("create_canister", {}), ("raw_rand", None)):
        reject = reject_of(call, replica, method, value)
        assert (reject.code, reject.message) == (RejectCode.CANISTER_REJECT, f"Only canisters can call ic00 method {method}")


def test_unknown_methods_and_bad_arguments(replica):
    reject = reject_of(replica.update, MANAGEMENT, "no_such_method", b"DIDL\x00\x00")
    assert reject.message == "Management canister has no method 'no_such_method'"
    reject = reject_of(replica.update, MANAGEMENT, "canister_status", b"not candid")
    assert reject.error_code == "IC0408" and reject.message.startswith("Error decoding candid: ")


def test_specified_id_and_its_conflicts(replica):
    wanted = Principal.from_canister_index(77)
    got = call(replica, "provisional_create_canister_with_cycles", {"specified_id": wanted, "settings": None})[0]["canister_id"]
    assert got == wanted
    reject = reject_of(call, replica, "provisional_create_canister_with_cycles", {"specified_id": wanted})
    assert reject.code == RejectCode.SYS_TRANSIENT


def test_fetch_canister_logs_is_a_query_for_controllers(replica, canister):
    replica.update(canister, "debug", b"log line")
    func = METHODS["fetch_canister_logs"]
    arg = candid.encode(func.args, [{"canister_id": canister}])
    [logs] = candid.decode(replica.query(MANAGEMENT, "fetch_canister_logs", arg, sender=CONTROLLER), func.rets)
    assert logs["canister_log_records"][-1]["content"] == b"log line"
    assert reject_of(replica.query, MANAGEMENT, "fetch_canister_logs", arg, sender=STRANGER).code == RejectCode.CANISTER_REJECT
    assert reject_of(replica.update, MANAGEMENT, "fetch_canister_logs", arg, sender=CONTROLLER).code == RejectCode.CANISTER_REJECT
