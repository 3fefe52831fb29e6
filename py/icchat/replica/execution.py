"""One execution of a canister entry point: its inputs, its reply, and its staged system changes.

Changes to system state (certified data, the global timer, burned cycles) are staged here and
applied only when the execution commits, so a trap discards them with the heap and stable
memory changes.
"""

from __future__ import annotations

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
    data_certificate: bytes | None = None
    # The response: None until msg_reply/msg_reject, then ("reply", bytes) or ("reject", str).
    reply_buffer: bytearray = field(default_factory=bytearray)
    response: tuple[str, bytes | str] | None = None
    accepted: bool = False  # inspect_message called accept_message
    # Staged system changes.
    certified_data: bytes | None = None
    global_timer: int | None = None
    cycles_burned: int = 0

    @property
    def reply_limit(self) -> int:
        return MAX_REPLICATED_REPLY if self.mode.replicated else MAX_NON_REPLICATED_REPLY


@dataclass
class Outcome:
    """What a committed or discarded execution produced, for the caller to turn into a result."""

    response: tuple[str, bytes | str] | None
    instructions: int
    accepted: bool = False
