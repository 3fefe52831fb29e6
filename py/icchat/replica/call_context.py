"""Call contexts and callbacks of one canister (the IC's CallContextManager), as plain data.

Interface spec, "Call context": every message a canister receives opens a call context, which
stays open until it is responded to (reply or reject) and no callback of the calls made in it
is outstanding. Each outgoing call registers a callback (reply, reject and optional cleanup
closures) in the context that made it; its response is executed as a message of its own, unless
the canister's code was uninstalled meanwhile (the context is then deleted). The
scheduler (icchat.replica.scheduler) opens, responds to and closes contexts; executions only
read them (icchat.replica.execution) and record what they change.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import NamedTuple

from icchat.ic.principal import Principal


class FromIngress(NamedTuple):
    """The context of an ingress message: its reply goes to the user's pending call."""

    message_id: int
    sender: Principal


class FromCanister(NamedTuple):
    """The context of a request from another canister: its reply goes to that callback."""

    caller: Principal
    callback_id: int


@dataclass(frozen=True)
class FromSystem:
    """A heartbeat or global timer: nobody waits for a response."""


Origin = FromIngress | FromCanister | FromSystem


@dataclass(frozen=True)
class Closure:
    """A function of the canister's table and the environment value it is called with."""

    fun: int
    env: int


@dataclass
class Callback:
    call_context_id: int
    respondent: Principal
    on_reply: Closure
    on_reject: Closure
    on_cleanup: Closure | None
    cycles_sent: int


@dataclass
class CallContext:
    id: int
    origin: Origin
    available_cycles: int  # attached by the caller and not accepted yet
    responded: bool = False
    outstanding: int = 0  # callbacks not yet executed
    # Its canister was uninstalled: the responses to its calls are not processed (only their
    # refunds are credited), and it closes once the last of them has come back.
    deleted: bool = False
    instructions: int = 0  # of its executions so far (performance_counter type 1)

    @property
    def caller(self) -> Principal:
        match self.origin:
            case FromIngress(sender=sender):
                return sender
            case FromCanister(caller=caller):
                return caller
        return Principal.management()


@dataclass
class CallContextManager:
    contexts: dict[int, CallContext] = field(default_factory=dict)
    callbacks: dict[int, Callback] = field(default_factory=dict)
    next_context_id: int = 0
    next_callback_id: int = 0

    def open(self, origin: Origin, cycles: int) -> CallContext:
        context = CallContext(self.next_context_id, origin, cycles)
        self.contexts[context.id] = context
        self.next_context_id += 1
        return context

    def register(self, callback: Callback) -> int:
        callback_id = self.next_callback_id
        self.callbacks[callback_id] = callback
        self.contexts[callback.call_context_id].outstanding += 1
        self.next_callback_id += 1
        return callback_id

    def take(self, callback_id: int) -> tuple[Callback, CallContext]:
        """The callback a response is for, unregistered, and its (still open) context."""
        callback = self.callbacks.pop(callback_id)
        context = self.contexts[callback.call_context_id]
        context.outstanding -= 1
        return callback, context

    def close(self, context: CallContext) -> None:
        del self.contexts[context.id]

    def open_calls_to(self) -> Counter[Principal]:
        """Outstanding calls per callee (each holds a reserved slot for its response)."""
        return Counter(callback.respondent for callback in self.callbacks.values())
