"""Global timers and heartbeats, driven by `tick()` and by the background scheduler."""

from __future__ import annotations

import time

from replica_helpers import CONTROLLER, as_u64, u64


def fired(replica, cid) -> tuple[int, int]:
    state = replica.query(cid, "state")
    return as_u64(state[8:16]), as_u64(state[16:24])  # timer_fired, heartbeats


def test_global_timer_fires_once_when_due(replica, canister):
    due = replica.time_ns() + 60 * 10**9
    assert as_u64(replica.update(canister, "set_timer", u64(due))) == 0
    assert as_u64(replica.update(canister, "set_timer", u64(due))) == due  # returns the previous timer
    replica.tick()
    assert fired(replica, canister) == (0, 0)
    replica.advance_time(61)
    replica.tick()
    assert fired(replica, canister) == (1, 0)
    replica.tick()
    assert fired(replica, canister) == (1, 0)  # deactivated once it ran
    assert replica.canister(canister).system.global_timer == 0


def test_timer_is_deactivated_by_an_upgrade(replica, canister, sysapi_wasm):
    replica.update(canister, "set_timer", u64(1))
    replica.install_code(canister, sysapi_wasm, b"", mode="upgrade", sender=CONTROLLER)
    replica.tick()
    assert fired(replica, canister)[0] == 0


def test_heartbeats_run_on_every_tick(replica, canister):
    replica.update(canister, "set_heartbeat", b"\x01")
    for _ in range(3):
        replica.tick()
    assert fired(replica, canister)[1] == 3


def test_a_trapping_heartbeat_is_rolled_back_and_logged(replica, canister):
    index = {n: i for i, n in enumerate(replica.query(canister, "api_names").decode().split())}
    replica.update(canister, "set_heartbeat", b"\x01")
    replica.update(canister, "set_task_api", bytes([index["msg_reply"]]))  # not allowed in heartbeats
    replica.tick()
    assert fired(replica, canister)[1] == 0
    assert b'"ic0_msg_reply" cannot be executed in heartbeat mode' in replica.canister(canister).system.logs[-1].content


def test_stopped_canisters_get_no_heartbeats(replica, canister):
    from icchat.ic import candid
    from icchat.ic.principal import Principal
    from icchat.replica.management import METHODS

    replica.update(canister, "set_heartbeat", b"\x01")
    arg = candid.encode(METHODS["stop_canister"].args, [{"canister_id": canister}])
    replica.update(Principal.management(), "stop_canister", arg, sender=CONTROLLER)
    replica.tick()
    assert replica.canister(canister).execution_state.instance is not None
    arg = candid.encode(METHODS["start_canister"].args, [{"canister_id": canister}])
    replica.update(Principal.management(), "start_canister", arg, sender=CONTROLLER)
    assert fired(replica, canister)[1] == 0


def test_background_scheduler_runs_timers(replica, canister):
    replica.update(canister, "set_timer", u64(replica.time_ns()))
    replica.start(interval=0.02)
    deadline = time.monotonic() + 10
    while fired(replica, canister)[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    replica.stop()
    assert fired(replica, canister)[0] == 1
