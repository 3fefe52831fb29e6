"""One execution of a canister entry point: its inputs, its reply, and its staged system changes.

Changes to system state (certified data, the global timer, burned cycles) are staged here and
applied only when the execution commits, so a trap discards them with the heap and stable
memory changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from icchat.ic.principal import Principal
from icchat.replica.api_table import Mode
from icchat.replica.limits import MAX_NON_REPLICATED_REPLY, MAX_REPLICATED_REPLY


@dataclass
class Execution:
    mode: Mode
    caller: Principal
    time_ns: int
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
    # Staged system changes.
    certified_data: bytes | None = None
    global_timer: int | None = None
    cycles_burned: int = 0

    def certificate(self) -> bytes | None:
        """The data certificate (made on first use when it was given as a function)."""
        if callable(self.data_certificate):
            self.data_certificate = self.data_certificate()
        return self.data_certificate

    def clear_reply(self) -> None:
        self.reply_pieces.clear()
        self.reply_size = 0

    @property
    def reply_limit(self) -> int:
        return MAX_REPLICATED_REPLY if self.mode.replicated else MAX_NON_REPLICATED_REPLY


@dataclass
class Outcome:
    """What a committed or discarded execution produced, for the caller to turn into a result."""

    response: tuple[str, bytes | str] | None
    instructions: int
    accepted: bool = False
