"""One execution of a canister entry point: what it may read, what it changes, what it answers.

The System API never sees the canister. It sees an `Execution`: the message (the IC's ApiType:
mode, caller, time, argument), a `SandboxSafeSystemState` (the IC's name: a copy of what the
System API may read of the canister's system state, taken when the execution starts), the
stable memory it may touch, and `SystemStateModifications`, where it records its writes to
system state. Those are applied to the canister's `SystemState` only when the execution commits
(`SystemStateModifications.apply_to`), so a trap discards them with its heap and stable memory
changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from icchat.ic.principal import Principal
from icchat.replica.api_table import Mode
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
    freezing_threshold: int  # burning cycles stops here
    global_timer: int


@dataclass
class SystemStateModifications:
    """An execution's writes to system state, applied only if it commits. Issue 28's outgoing
    calls and HTTPS outcalls are recorded here too, as the IC records its requests."""

    certified_data: bytes | None = None
    global_timer: int | None = None
    cycles_burned: int = 0

    def apply_to(self, system: SystemState) -> None:
        if self.certified_data is not None:
            system.certified_data = self.certified_data
        if self.global_timer is not None:
            system.global_timer = self.global_timer
        system.cycles = max(0, system.cycles - self.cycles_burned)


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
        """The cycles balance as this execution sees it (after what it burned)."""
        return max(0, self.system.cycles_balance - self.changes.cycles_burned)

    @property
    def reply_limit(self) -> int:
        return MAX_REPLICATED_REPLY if self.mode.replicated else MAX_NON_REPLICATED_REPLY


@dataclass
class Outcome:
    """What a committed or discarded execution produced, for the caller to turn into a result."""

    response: tuple[str, bytes | str] | None
    instructions: int
    accepted: bool = False
