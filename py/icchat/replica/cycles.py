"""Charging a canister's cycles as a 13-node IC application subnet does (rs/cycles_account_manager).

The one seam the execution path calls; prices and formulas are icchat.ic.prices.

- Ingress induction (`charge_ingress`): 1.2M + 2,000 per byte of the message, taken from the
  receiving canister when the message is inducted, before it runs, whatever its outcome. The
  ingress filter (`check_ingress`, at the HTTP call endpoint before inspect_message) refuses
  the message if the canister could not pay it above its freezing threshold.
- Execution (`prepay_execution` / `settle_execution`): updates, replicated queries, heartbeats,
  global timers and install_code withdraw 5M + their whole instruction limit before running (so
  a canister needs that much above its freezing threshold to run at all) and get the unused
  instructions back afterwards, trap or not: the net charge is 5M + the instructions executed.
- Inter-canister calls (`call_charges`, `credit_response`): `ic0.call_perform` withdraws the xnet
  call fee (260K) and 1,000 per byte of the request (method name + argument), and reserves the
  transmission of the largest response (2 MiB at 1,000 a byte) and the execution of its callback
  (5M + the 40B limit), as withdraw_request_cycles does. The response gives back the
  transmission it did not use (its own bytes are charged); its callback runs on the execution
  reserve, and gets the unused instructions back like any execution.
- Queries and inspect_message are free; a frozen canister (balance below its freezing threshold)
  answers no queries (`check_query`).
- Idle storage (`charge_idle`): the memory the canister holds, charged over time in steps of at
  least 10 s of replica time (the IC's duration_between_allocation_charges) down to zero; a
  canister that cannot pay is uninstalled and its remaining balance burned, as on the IC.

Refusals are the IC's IC0207 CanisterOutOfCycles, worded as CanisterOutOfCyclesError: the
missing amount is shown to controllers only ("reveal_top_up").
"""

from __future__ import annotations

from dataclasses import dataclass

from icchat.ic import prices
from icchat.ic.principal import Principal
from icchat.replica.errors import ErrorCode, Reject
from icchat.replica.limits import MAX_INTER_CANISTER_PAYLOAD, UPDATE_INSTRUCTION_LIMIT
from icchat.replica.state import CanisterState

ALLOCATION_CHARGE_INTERVAL_NS = 10 * 1_000_000_000  # duration_between_allocation_charges
NS_PER_SECOND = 1_000_000_000
# Reserved by every call until its response (prepayment_for_response_transmission / _execution).
RESPONSE_TRANSMISSION_RESERVE = prices.response_transmission_cycles(MAX_INTER_CANISTER_PAYLOAD)
RESPONSE_EXECUTION_RESERVE = prices.update_execution_cycles(UPDATE_INSTRUCTION_LIMIT)


@dataclass
class OutOfCycles(Exception):
    """The IC's CanisterOutOfCyclesError: `requested` cycles do not fit above `threshold`."""

    canister_id: Principal
    available: int
    requested: int
    threshold: int
    reveal_top_up: bool

    def __str__(self) -> str:
        if not self.reveal_top_up:
            return f"Canister {self.canister_id} is out of cycles"
        missing = self.threshold + self.requested - self.available
        return (f"Canister {self.canister_id} is out of cycles: please top up the canister with at least "
                f"{_underscored(missing)} additional cycles")

    def reject(self) -> Reject:
        return Reject.of(ErrorCode.CANISTER_OUT_OF_CYCLES, str(self))


def _underscored(n: int) -> str:
    """Cycles as the IC displays them (ic_utils_thousands: 1_234_567)."""
    return f"{n:_}"


# --- what a canister holds -----------------------------------------------------------------------------


def memory_metrics(canister: CanisterState) -> dict[str, int]:
    """The parts of the canister's memory usage (canister_status's memory_metrics)."""
    code = canister.execution_state
    module = code.module
    return {
        "wasm_memory_size": code.instance.heap.size if code.instance is not None else 0,
        "stable_memory_size": code.stable.size_bytes,
        "global_memory_size": 8 * len(module.persistent_globals) if module is not None else 0,
        "wasm_binary_size": len(module.wasm) if module is not None else 0,
        "custom_sections_size": 0,
        "canister_history_size": 0,
        "wasm_chunk_store_size": sum(len(c) for c in canister.system.chunks.values()),
        "snapshots_size": 0,
    }


def memory_usage(canister: CanisterState) -> int:
    return sum(memory_metrics(canister).values())


def idle_cycles_per_day(canister: CanisterState) -> int:
    settings = canister.system.settings
    return prices.idle_cycles_per_day(memory_usage(canister), settings.compute_allocation, settings.memory_allocation)


def freezing_threshold(canister: CanisterState) -> int:
    """Cycles the canister must keep: its idle burn over `freezing_threshold` seconds."""
    settings = canister.system.settings
    return prices.freezing_threshold_cycles(settings.freezing_threshold, memory_usage(canister),
                                            settings.compute_allocation, settings.memory_allocation)


def liquid_balance(balance: int, reserved: int, freezing_limit: int) -> int:
    """The cycles available for spending in calls and execution (interface spec, liquid_balance:
    `balance - max(freezing_limit - reserved_balance, 0)`: resource payments drain the reserved
    balance first), never below 0 (a frozen canister can spend nothing)."""
    return max(0, balance - max(freezing_limit - reserved, 0))


def is_controller(canister: CanisterState, sender: Principal) -> bool:
    return sender in canister.system.controllers


# --- charging ----------------------------------------------------------------------------------------


def ensure_can_pay(canister: CanisterState, cycles: int, sender: Principal) -> None:
    """Raise OutOfCycles unless `cycles` can leave the balance at or above the freezing threshold."""
    threshold = freezing_threshold(canister)
    if canister.system.cycles < threshold + cycles:
        raise OutOfCycles(canister.id, canister.system.cycles, cycles, threshold, is_controller(canister, sender))


def _withdraw(canister: CanisterState, cycles: int, sender: Principal) -> None:
    ensure_can_pay(canister, cycles, sender)
    canister.system.cycles -= cycles
    canister.touch()


def check_ingress(canister: CanisterState, message_bytes: int, sender: Principal) -> None:
    """The ingress filter: refuse (IC0207) a message the canister could not pay to receive."""
    try:
        ensure_can_pay(canister, prices.ingress_induction_cycles(message_bytes), sender)
    except OutOfCycles as exc:
        raise exc.reject() from None


def charge_ingress(canister: CanisterState, message_bytes: int, sender: Principal) -> None:
    """Induct an ingress message: its reception fee, or IC0207 (the message then never runs)."""
    try:
        _withdraw(canister, prices.ingress_induction_cycles(message_bytes), sender)
    except OutOfCycles as exc:
        raise exc.reject() from None


def prepay_execution(canister: CanisterState, limit: int, caller: Principal) -> int:
    """Withdraw 5M + `limit` instructions before running; raises OutOfCycles. Returns the prepayment."""
    prepaid = prices.update_execution_cycles(limit)
    _withdraw(canister, prepaid, caller)
    return prepaid


def settle_execution(canister: CanisterState, prepaid: int, limit: int, used: int) -> int:
    """Refund the instructions not executed; returns what the execution cost (5M + used)."""
    refund = min(prepaid, prices.instructions_cycles(max(0, limit - min(used, limit))))
    canister.system.cycles += refund
    canister.touch()
    return prepaid - refund


def call_charges(request_bytes: int) -> int:
    """What ic0.call_perform withdraws besides the cycles attached: the call's fee and the
    reservations for its response."""
    return prices.call_transmission_cycles(request_bytes) + RESPONSE_TRANSMISSION_RESERVE + RESPONSE_EXECUTION_RESERVE


def credit_response(canister: CanisterState, refund: int, response_bytes: int) -> None:
    """A response arrived: the cycles the callee did not keep, and the response transmission
    reserved but not used."""
    canister.system.cycles += refund + RESPONSE_TRANSMISSION_RESERVE - prices.response_transmission_cycles(response_bytes)
    canister.touch()


def release_execution_reserve(canister: CanisterState) -> None:
    """A response whose callback does not run (its context was deleted): the execution reserved for it."""
    canister.system.cycles += RESPONSE_EXECUTION_RESERVE
    canister.touch()


def charge_final_instructions(canister: CanisterState, instructions: int, sender: Principal) -> None:
    """A management canister operation's instructions (e.g. upload_chunk): no base fee, no refund."""
    try:
        _withdraw(canister, prices.instructions_cycles(instructions), sender)
    except OutOfCycles as exc:
        raise exc.reject() from None


def check_query(canister: CanisterState) -> None:
    """A frozen canister answers no queries (the IC's query handler, IC0207)."""
    if freezing_threshold(canister) > canister.system.cycles:
        raise Reject.of(
            ErrorCode.CANISTER_OUT_OF_CYCLES,
            f"Canister {canister.id} is unable to process query calls because it's frozen. "
            "Please top up the canister with cycles and try again.",
        )


def charge_idle(canister: CanisterState, now_ns: int) -> bool:
    """Charge the storage held since the last charge (whole seconds, every >= 10 s of replica time).

    Returns False when the canister could not pay: the caller uninstalls it. The first call
    only starts the clock."""
    if canister.system.idle_charged_ns == 0 or now_ns < canister.system.idle_charged_ns:
        canister.system.idle_charged_ns = now_ns
        return True
    elapsed = now_ns - canister.system.idle_charged_ns
    if elapsed < ALLOCATION_CHARGE_INTERVAL_NS:
        return True
    seconds = elapsed // NS_PER_SECOND
    canister.system.idle_charged_ns += seconds * NS_PER_SECOND
    cost = idle_cycles_per_day(canister) * seconds // prices.SECONDS_PER_DAY
    if cost == 0:
        return True
    canister.touch()
    if cost > canister.system.cycles:
        canister.system.cycles = 0  # the IC burns what is left when it uninstalls for unpaid resources
        return False
    canister.system.cycles -= cost
    return True
