"""One execution of a canister entry point: what it may read, what it changes, what it answers.

The System API never sees the canister. It sees an `Execution`: the message (the IC's ApiType:
mode, caller, time, argument), a `SandboxSafeSystemState` (the IC's name: a copy of what the
System API may read of the canister's system state, taken when the execution starts), the
stable memory it may touch, and `SystemStateModifications`, where it records its writes to
system state. Those are applied to the canister's `SystemState` only when the execution commits
(`SystemStateModifications.apply_to`), so a trap discards them with its heap and stable memory
changes.

Inter-canister calls follow the interface spec: a call is built with `ic0.call_new`,
`call_data_append`, `call_cycles_add128`, `call_on_cleanup` (a `CallUnderConstruction`) and
recorded by `ic0.call_perform` as an `OutgoingCall` in the modifications, so only a committed
execution's calls are ever sent; cycles attached leave the balance with it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from icchat.ic.principal import Principal
from icchat.replica import cycles
from icchat.replica.api_table import Mode
from icchat.replica.call_context import CallContext, Closure
from icchat.replica.limits import MAX_NON_REPLICATED_REPLY, MAX_REPLICATED_REPLY
from icchat.replica.stable_memory import StableMemory
from icchat.replica.state import SystemState


@dataclass(frozen=True)
class SandboxSafeSystemState:
    """What the System API may read of the canister and its subnet during one execution."""

    canister_id: Principal
    subnet_id: Principal
    root_key_der: bytes
    status_code: int
    version: int
    controllers: frozenset[Principal]
    cycles_balance: int
    freezing_threshold: int  # the freezing limit in cycles, at the start of the execution
    reserved_cycles: int  # the reserved balance, which counts towards the freezing limit
    global_timer: int
    open_calls_to: Mapping[Principal, int] = field(default_factory=dict)  # outstanding calls per callee


@dataclass
class CallUnderConstruction:
    """Between `ic0.call_new` and `ic0.call_perform`."""

    callee: Principal
    method: str
    on_reply: Closure
    on_reject: Closure
    on_cleanup: Closure | None = None
    arg_pieces: list[bytes] = field(default_factory=list)
    arg_size: int = 0
    cycles: int = 0


@dataclass(frozen=True)
class OutgoingCall:
    """A performed call, sent by the scheduler if the execution commits."""

    callee: Principal
    method: str
    arg: bytes
    cycles: int
    on_reply: Closure
    on_reject: Closure
    on_cleanup: Closure | None


@dataclass
class SystemStateModifications:
    """An execution's writes to system state, applied only if it commits; its outgoing calls
    (and their cycles) are sent only then, as the IC sends the requests of committed executions."""

    certified_data: bytes | None = None
    global_timer: int | None = None
    cycles_burned: int = 0
    cycles_sent: int = 0  # attached to performed calls
    call_charges: int = 0  # the fees and response reservations of performed calls
    cycles_accepted: int = 0  # of those the call context carries
    calls: list[OutgoingCall] = field(default_factory=list)

    def apply_to(self, system: SystemState) -> None:
        if self.certified_data is not None:
            system.certified_data = self.certified_data
        if self.global_timer is not None:
            system.global_timer = self.global_timer
        spent = self.cycles_burned + self.cycles_sent + self.call_charges
        system.cycles = max(0, system.cycles - spent) + self.cycles_accepted


@dataclass
class Execution:
    mode: Mode
    caller: Principal
    time_ns: int
    system: SandboxSafeSystemState
    stable: StableMemory  # the stable memory this execution may read and write
    arg: bytes = b""
    method_name: str = ""
    # Queries' data certificate, or a function making it: signing costs ~0.3 ms, and most
    # queries (e.g. every streaming callback) never ask for it.
    data_certificate: bytes | Callable[[], bytes] | None = None
    # The response: None until msg_reply/msg_reject, then ("reply", bytes) or ("reject", str).
    # Appended pieces are kept as they are and joined once at msg_reply (a 2 MB reply is
    # copied out of the heap once, not grown and copied again).
    reply_pieces: list[bytes] = field(default_factory=list)
    reply_size: int = 0
    response: tuple[str, bytes | str] | None = None
    accepted: bool = False  # inspect_message called accept_message
    changes: SystemStateModifications = field(default_factory=SystemStateModifications)
    # The call context this message runs in (None: queries, inspect_message, installation).
    # Read only: the scheduler applies what the execution recorded once it commits.
    context: CallContext | None = None
    reject_code: int = 0  # in a reject callback (and cleanup after one)
    reject_message: str = ""
    refunded: int = 0  # in callbacks: cycles the callee gave back
    call: CallUnderConstruction | None = None

    def certificate(self) -> bytes | None:
        """The data certificate (made on first use when it was given as a function)."""
        if callable(self.data_certificate):
            self.data_certificate = self.data_certificate()
        return self.data_certificate

    def clear_reply(self) -> None:
        self.reply_pieces.clear()
        self.reply_size = 0

    @property
    def balance(self) -> int:
        """The cycles balance as this execution sees it (after what it burned, attached to calls,
        paid and reserved for them, and accepted)."""
        changes = self.changes
        attached = changes.cycles_sent + changes.call_charges + (self.call.cycles if self.call is not None else 0)
        return max(0, self.system.cycles_balance - changes.cycles_burned - attached) + changes.cycles_accepted

    @property
    def liquid_balance(self) -> int:
        """What this execution may still burn or attach to calls without freezing the canister."""
        return cycles.liquid_balance(self.balance, self.system.reserved_cycles, self.system.freezing_threshold)

    @property
    def cycles_available(self) -> int:
        """Cycles the caller attached that this context has not accepted yet (none once it has
        responded: they went back to the caller with the response)."""
        if self.context is None or self.responded:
            return 0
        return self.context.available_cycles - self.changes.cycles_accepted

    @property
    def responded(self) -> bool:
        return self.response is not None or (self.context is not None and self.context.responded)

    @property
    def reply_limit(self) -> int:
        return MAX_REPLICATED_REPLY if self.mode.replicated else MAX_NON_REPLICATED_REPLY


@dataclass
class Outcome:
    """What a committed or discarded execution produced, for the caller to turn into a result."""

    response: tuple[str, bytes | str] | None
    instructions: int
    accepted: bool = False
    calls: list[OutgoingCall] = field(default_factory=list)  # performed by a committed execution
    cycles_accepted: int = 0
