"""Cycles charged as a 13-node IC subnet charges them (docs/replica.md, "Cycles"): every figure is
the price table's formula (icchat.ic.prices) applied to what the meter counted."""

from __future__ import annotations

from replica_helpers import CONTROLLER, STRANGER, as_u64, reject_of, u64

from icchat.ic import candid, prices
from icchat.ic.principal import Principal
from icchat.replica.limits import (
    INSTALL_INSTRUCTION_LIMIT,
    SYSTEM_TASK_INSTRUCTION_LIMIT,
    UPDATE_INSTRUCTION_LIMIT,
)
from icchat.replica.management import METHODS

MANAGEMENT = Principal.management()


def manage(replica, method: str, value, sender=CONTROLLER):
    func = METHODS[method]
    return candid.decode(replica.update(MANAGEMENT, method, candid.encode(func.args, [value]), sender=sender), func.rets)


def balance(replica, cid) -> int:
    return replica.canister_info(cid).cycles


def last_instructions(replica, cid) -> int:
    """What the meter counted for the canister's last execution."""
    return replica.canister(cid).execution_state.instance.meter.used()


def status(replica, cid) -> dict:
    return manage(replica, "canister_status", {"canister_id": cid})[0]


def set_freezing_threshold(replica, cid, seconds: int) -> None:
    manage(replica, "update_settings", {"canister_id": cid, "settings": {"freezing_threshold": seconds}})


def test_an_update_costs_its_induction_plus_5m_plus_its_instructions(replica, canister):
    before = balance(replica, canister)
    counted = as_u64(replica.update(canister, "spin", u64(10_000)))
    used = last_instructions(replica, canister)
    assert 10_000 < counted <= used  # the canister's own counter, read before its reply
    assert balance(replica, canister) == before - prices.ingress_induction_cycles(len("spin") + 8) - 5_000_000 - used
    assert prices.update_execution_cycles(used) == 5_000_000 + used  # 1 cycle per instruction on 13 nodes


def test_queries_and_inspect_message_are_free(replica, canister):
    before = balance(replica, canister)
    for _ in range(3):
        assert as_u64(replica.query(canister, "spin_q", u64(100_000))) > 100_000
    replica.inspect_message(canister, "inc", sender=STRANGER)
    assert balance(replica, canister) == before


def test_a_query_method_called_as_an_update_is_charged_like_an_update(replica, canister):
    before = balance(replica, canister)
    replica.update(canister, "spin_q", u64(10_000))
    used = last_instructions(replica, canister)
    assert balance(replica, canister) == before - prices.ingress_induction_cycles(len("spin_q") + 8) - prices.update_execution_cycles(used)


def test_a_trap_pays_for_the_instructions_it_ran(replica, canister):
    before = balance(replica, canister)
    assert reject_of(replica.update, canister, "trap").error_code == "IC0503"
    used = last_instructions(replica, canister)
    assert used > 0
    assert balance(replica, canister) == before - prices.ingress_induction_cycles(len("trap")) - prices.update_execution_cycles(used)


def test_install_code_costs_5m_plus_its_instructions(replica, sysapi_wasm):
    cid = replica.create_canister(controllers=[CONTROLLER], cycles=10**13)
    replica.install_code(cid, sysapi_wasm, b"hello", sender=CONTROLLER)
    instance = replica.canister(cid).execution_state.instance
    used = instance.instructions_at_start + instance.meter.used()  # (start) then canister_init
    assert balance(replica, cid) == 10**13 - prices.update_execution_cycles(used)


def test_install_code_needs_its_whole_limit_above_the_freezing_threshold(replica, sysapi_wasm):
    cid = replica.create_canister(controllers=[CONTROLLER], cycles=10**9)
    reject = reject_of(replica.install_code, cid, sysapi_wasm, b"", sender=CONTROLLER)
    missing = prices.update_execution_cycles(INSTALL_INSTRUCTION_LIMIT) - 10**9  # an empty canister keeps no reserve
    assert reject.error_code == "IC0207"
    assert reject.message == (
        f"Canister installation failed with `Canister {cid} is out of cycles: please top up the canister with at least "
        f"{missing:_} additional cycles`.\nTop up the canister with more cycles. See documentation: "
        "http://internetcomputer.org/docs/current/references/execution-errors#install-code-not-enough-cycles"
    )
    assert balance(replica, cid) == 10**9 and replica.canister_info(cid).module_hash is None


def test_canister_status_shows_the_idle_burn_of_the_memory_held(replica, canister):
    record = status(replica, canister)
    assert record["idle_cycles_burned_per_day"] == record["memory_size"] * 127_000 * 86_400 // 2**30 > 0
    assert record["reserved_cycles"] == 0


def facts_balances(replica, cid) -> tuple[int, int]:
    """The balance and the liquid balance the sysapi canister's `facts` update reads (burning nothing)."""
    out = replica.update(cid, "facts", u64(0))
    return int.from_bytes(out[:16], "little"), int.from_bytes(out[16:32], "little")


def test_the_liquid_balance_is_the_balance_less_the_freezing_limit(replica, canister):
    """Spec, ic0.canister_liquid_cycle_balance128: "the current amount of cycles that is available
    for spending in calls and execution"; abstract behaviour: `liquid_balance(balance,
    reserved_balance, freezing_limit) = balance - max(freezing_limit - reserved_balance, 0)`, the
    freezing limit being "the amount of idle cycles burned by the canister during its
    freezing_threshold". No cycles are reserved here (canister_status: reserved_cycles 0)."""
    record = status(replica, canister)
    memory, seconds = record["memory_size"], record["settings"]["freezing_threshold"]
    assert (record["reserved_cycles"], seconds) == (0, 2_592_000)  # the default: 30 days
    held, liquid = facts_balances(replica, canister)
    assert liquid == held - prices.freezing_threshold_cycles(seconds, memory) > 0

    # A freezing threshold that leaves 1B above the reserve once this update's prepayment is out.
    per_day = prices.idle_cycles_per_day(memory)
    prepaid = prices.ingress_induction_cycles(len("facts") + 8) + prices.update_execution_cycles(UPDATE_INSTRUCTION_LIMIT)
    seconds = (balance(replica, canister) - prepaid - 10**9) * 86_400 // per_day
    set_freezing_threshold(replica, canister, seconds)
    held, liquid = facts_balances(replica, canister)
    assert liquid == held - prices.freezing_threshold_cycles(seconds, memory)
    assert 0 < liquid < 2 * 10**9 < held


def test_a_canister_that_cannot_prepay_refuses_updates_but_answers_queries(replica, canister):
    memory = status(replica, canister)["memory_size"]
    per_day = prices.idle_cycles_per_day(memory)
    # A freezing threshold that leaves 20B above the reserve: less than an update's 40B prepayment.
    seconds = (balance(replica, canister) - 20 * 10**9) * 86_400 // per_day
    set_freezing_threshold(replica, canister, seconds)
    reserve = prices.freezing_threshold_cycles(seconds, memory)
    held = balance(replica, canister)  # after update_settings' own induction (charged once it applied)
    assert 19 * 10**9 < held - reserve < 21 * 10**9

    reject = reject_of(replica.update, canister, "inc", sender=CONTROLLER)
    after_induction = held - prices.ingress_induction_cycles(len("inc"))
    missing = reserve + prices.update_execution_cycles(UPDATE_INSTRUCTION_LIMIT) - after_induction
    assert (reject.error_code, reject.code) == ("IC0207", 2)
    assert reject.message == (
        f"Canister {canister} is out of cycles: please top up the canister with at least {missing:_} additional cycles"
    )
    assert balance(replica, canister) == after_induction  # the message was received (and paid for), never run
    assert reject_of(replica.update, canister, "inc", sender=STRANGER).message == f"Canister {canister} is out of cycles"
    assert as_u64(replica.query(canister, "read")) == 0  # not frozen: queries answer, for free


def test_a_frozen_canister_refuses_ingress_and_queries_until_a_top_up(replica, canister):
    memory = status(replica, canister)["memory_size"]
    set_freezing_threshold(replica, canister, 10**12)  # a reserve far above the balance: frozen
    reserve = prices.freezing_threshold_cycles(10**12, memory)
    held = balance(replica, canister)
    assert reserve > held

    reject = reject_of(replica.update, canister, "inc", sender=CONTROLLER)  # the ingress filter: nothing is charged
    missing = reserve + prices.ingress_induction_cycles(len("inc")) - held
    assert (reject.error_code, reject.message) == (
        "IC0207", f"Canister {canister} is out of cycles: please top up the canister with at least {missing:_} additional cycles"
    )
    assert reject_of(replica.inspect_message, canister, "inc").error_code == "IC0207"
    # Its status too is out of reach by ingress: the canister a call to aaaaa-aa is about pays for it.
    assert reject_of(status, replica, canister).error_code == "IC0207"
    reject = reject_of(replica.query, canister, "read")
    assert (reject.error_code, reject.message) == (
        "IC0207",
        f"Canister {canister} is unable to process query calls because it's frozen. Please top up the canister with cycles and try again.",
    )
    replica.tick()  # a frozen canister runs no heartbeat and pays nothing for one
    assert balance(replica, canister) == held

    manage(replica, "provisional_top_up_canister", {"canister_id": canister, "amount": missing + 50 * 10**9}, sender=STRANGER)
    assert as_u64(replica.query(canister, "read")) == 0
    assert as_u64(replica.update(canister, "inc")) == 1


def test_a_small_update_settings_can_unfreeze_a_canister(replica, canister):
    set_freezing_threshold(replica, canister, 10**12)
    assert reject_of(replica.query, canister, "read").error_code == "IC0207"
    set_freezing_threshold(replica, canister, 2_592_000)  # paid after it applies, as on the IC
    assert as_u64(replica.query(canister, "read")) == 0


def test_heartbeats_and_storage_are_charged_over_replica_time(replica, canister):
    memory = status(replica, canister)["memory_size"]
    replica.tick()  # starts the storage clock (and runs a heartbeat)
    start_ns = replica.canister(canister).system.idle_charged_ns
    held = balance(replica, canister)
    replica.advance_time(3_600)
    replica.tick()
    seconds = (replica.canister(canister).system.idle_charged_ns - start_ns) // 10**9
    assert seconds >= 3_600
    heartbeat = last_instructions(replica, canister)
    assert balance(replica, canister) == held - prices.storage_cycles(memory, seconds) - prices.update_execution_cycles(heartbeat)
    assert prices.storage_cycles(memory, seconds) == memory * 127_000 * seconds // 2**30 > 0


def test_a_canister_that_cannot_pay_for_its_storage_is_uninstalled(replica, canister):
    memory = status(replica, canister)["memory_size"]
    reserve = prices.freezing_threshold_cycles(2_592_000, memory)
    replica.update(canister, "facts", u64(balance(replica, canister)))  # burns down to the reserve, never below
    left = balance(replica, canister)
    assert reserve < left < reserve + prices.update_execution_cycles(UPDATE_INSTRUCTION_LIMIT)  # + the unused prepayment
    replica.tick()
    replica.advance_time(10**10)  # ~317 years of storage: more than `left` pays for
    replica.tick()
    info = replica.canister_info(canister)
    assert (info.cycles, info.module_hash) == (0, None)
    assert replica.canister(canister).system.history[-1]["details"] == {"code_uninstall": None}


def test_a_canister_that_cannot_prepay_a_heartbeat_runs_none(replica, canister):
    """A canister with less than a heartbeat's prepayment above its reserve runs none."""
    memory = status(replica, canister)["memory_size"]
    per_day = prices.idle_cycles_per_day(memory)
    seconds = (balance(replica, canister) - prices.update_execution_cycles(SYSTEM_TASK_INSTRUCTION_LIMIT) + 10**9) * 86_400 // per_day
    set_freezing_threshold(replica, canister, seconds)
    held = balance(replica, canister)
    assert replica.tick() == 0
    assert balance(replica, canister) == held


def test_a_failed_install_or_upgrade_pays_for_what_it_ran_not_for_its_limit(replica, sysapi_wasm):
    cid = replica.create_canister(controllers=[CONTROLLER], cycles=10**13)
    assert reject_of(replica.install_code, cid, sysapi_wasm, b"trap please", sender=CONTROLLER).error_code == "IC0503"
    spent = 10**13 - balance(replica, cid)
    assert 5_000_000 < spent < 5_000_000 + 10**7  # (start) and canister_init up to its trap: a few instructions
    replica.install_code(cid, sysapi_wasm, b"hello", sender=CONTROLLER)
    held = balance(replica, cid)
    replica.update(cid, "set_pre_upgrade", bytes([0xFF, 1]))  # pre_upgrade traps from now on
    held -= prices.ingress_induction_cycles(len("set_pre_upgrade") + 2) + prices.update_execution_cycles(last_instructions(replica, cid))
    assert balance(replica, cid) == held
    assert reject_of(replica.install_code, cid, sysapi_wasm, b"", mode="upgrade", sender=CONTROLLER).error_code == "IC0503"
    assert 5_000_000 < held - balance(replica, cid) < 5_000_000 + 10**7
