"""Messages between canisters waiting to be executed (the IC's CanisterQueues, one subnet).

One FIFO for the whole local subnet: requests and responses are executed in the order they
were sent, so two calls from canister A to canister B run in the order A made them, as the
interface spec's "Ordering guarantees" require (the IC keeps one queue per canister pair; a
single queue is a stricter order that keeps this guarantee). A request's response slot is
reserved when it is sent: at most `QUEUE_CAPACITY` calls from one canister to another may be
outstanding, beyond that `ic0.call_perform` fails (icchat.replica.system_api).
"""

from __future__ import annotations

import collections
from dataclasses import dataclass

from icchat.ic.principal import Principal

QUEUE_CAPACITY = 500  # DEFAULT_QUEUE_CAPACITY of rs/replicated_state's canister queues


@dataclass(frozen=True)
class Request:
    caller: Principal
    callee: Principal
    method: str
    arg: bytes
    cycles: int
    callback_id: int  # in the caller's call context manager


@dataclass(frozen=True)
class Response:
    originator: Principal  # whose callback runs
    respondent: Principal
    callback_id: int
    reply: bytes | None  # None: rejected
    reject_code: int = 0
    reject_message: str = ""
    refund: int = 0  # cycles sent with the request that the callee did not keep

    @property
    def size(self) -> int:
        """The bytes transmitted (the IC's payload_size_bytes): the reply, or the reject's message
        (the IC adds the in-memory size of its reject code)."""
        return len(self.reply) if self.reply is not None else len(self.reject_message.encode())


Message = Request | Response


class MessageQueues:
    def __init__(self) -> None:
        self._messages: collections.deque[Message] = collections.deque()

    def push(self, message: Message) -> None:
        self._messages.append(message)

    def pop(self) -> Message | None:
        return self._messages.popleft() if self._messages else None

    def __len__(self) -> int:
        return len(self._messages)
