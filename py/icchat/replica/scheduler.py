"""Executing messages until their call contexts respond (the IC's scheduler and message routing,
for one local subnet).

An ingress message, a canister's request, a response, a heartbeat or a timer runs as its own
execution, atomic on its own (icchat.replica.execution_environment). What a committed execution
did is then booked here, as the interface spec's "Call context" and "Ordering guarantees"
sections require: the calls it performed get callbacks in its call context and their requests
join the queue (icchat.replica.queues: calls from A to B run in the order A made them); a reply
or reject goes to the context's origin (the user's `PendingCall`, or a response to the calling
canister's callback, carrying the cycles it did not accept); a context with no outstanding
callback closes, answered "did not reply" if it never responded; a stopping canister stops
once its last context has closed, and its stop_canister calls are answered then. Uninstalling a
canister's code rejects its contexts that have not responded and deletes them all: the responses
still to come credit their refunds and run nothing.

A trapped execution sends nothing; a trapped callback runs its cleanup closure (whose changes
persist), and its context is answered with the trap once no other callback is outstanding.
Rejects carry the IC's codes and texts: no such canister (3, IC0301), stopped or stopping
(5, IC0508/IC0509), no such method (5, IC0536), a trap (5), `ic0.msg_reject` (4, IC0406).

Requests to the management canister run here too, with the calling canister as the caller;
`http_request` is prepared (its cost checked and taken) under the replica lock, sent in a
thread of its own off the lock, and its response (transformed by a query of the caller, run
under the lock) is queued to the caller's callback when it arrives. Every entry point runs the
queue empty before it returns; the caller holds the replica lock.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Protocol

from icchat.ic.principal import Principal
from icchat.replica import cycles, errors
from icchat.replica.api_table import Mode
from icchat.replica.call_context import (
    Callback,
    CallContext,
    FromCanister,
    FromIngress,
    FromSystem,
    Origin,
)
from icchat.replica.canisters import Canisters
from icchat.replica.errors import ErrorCode, ExecutionError, Reject
from icchat.replica.execution import Outcome
from icchat.replica.execution_environment import ExecutionEnvironment
from icchat.replica.management import ManagementCanister, StopPending
from icchat.replica.queues import MessageQueues, Request, Response
from icchat.replica.state import CanisterState, Status

log = logging.getLogger("icchat.replica")
MANAGEMENT = Principal.management()
EMPTY_REPLY = b"DIDL\x00\x00"  # Candid of `()`: stop_canister's reply
UNINSTALLED = "Canister has been uninstalled."

TransformFn = Callable[[str, bytes], bytes]


class PreparedOutcall(Protocol):
    """An HTTPS outcall accepted and paid for (icchat.replica.outcalls)."""

    cost: int

    def run(self, transform: TransformFn) -> bytes: ...


class OutcallService(Protocol):
    def prepare(self, arg: bytes, caller: Principal, cycles: int) -> PreparedOutcall: ...


class PendingCall:
    """An ingress message's outcome, set once its call context responds (maybe later, from
    another thread, when it waits on an HTTPS outcall)."""

    def __init__(self) -> None:
        self._done = threading.Event()
        self._reply: bytes | None = None
        self._reject: Reject | None = None

    def settle(self, result: bytes | Reject) -> None:
        if isinstance(result, Reject):
            self._reject = result
        else:
            self._reply = result
        self._done.set()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    def result(self) -> bytes:
        """The reply, or raises the Reject (waits until there is one)."""
        self._done.wait()
        if self._reject is not None:
            raise self._reject
        assert self._reply is not None
        return self._reply


def reply_of(canister_id: Principal, outcome: Outcome) -> bytes:
    """An execution's reply, or the Reject it stands for."""
    result = _result(canister_id, outcome.response)
    if isinstance(result, Reject):
        raise result
    return result


def _result(canister_id: Principal, response: tuple[str, bytes | str] | None) -> bytes | Reject:
    if response is None:
        return errors.did_not_reply(canister_id)
    kind, value = response
    if kind == "reply":
        assert isinstance(value, bytes)
        return value
    assert isinstance(value, str)
    return errors.canister_reject(value)


class Scheduler:
    def __init__(
        self, canisters: Canisters, execution: ExecutionEnvironment, management: ManagementCanister,
        clock: Callable[[], int], lock: threading.RLock, outcalls: Callable[[], OutcallService],
        changed: Callable[[], None],
    ) -> None:
        self.canisters = canisters
        self.execution = execution
        self.management = management
        self.clock = clock
        self.lock = lock
        self.outcalls = outcalls  # made on first use
        self.changed = changed  # state changed: a checkpoint is due (the replica's debounce)
        self.queues = MessageQueues()
        self._ingress: dict[int, PendingCall] = {}
        self._next_ingress = 0
        management.stop_cancelled = self._cancel_stops
        management.code_uninstalled = self._reject_open_contexts

    # --- entry points (the caller holds the lock) -----------------------------------------------

    def ingress(self, canister: CanisterState, method: str, arg: bytes, sender: Principal) -> PendingCall:
        """An inducted ingress update: runs it and everything it causes that can run now."""
        pending, origin = self._new_ingress(sender)
        context = canister.system.call_contexts.open(origin, 0)
        self._run_request(canister, context, method, arg, sender)
        self.drain()
        return pending

    def ingress_to_management(self, method: str, arg: bytes, sender: Principal, size: int) -> PendingCall:
        pending, origin = self._new_ingress(sender)
        try:
            self._settle(origin, MANAGEMENT, self.management.call(method, arg, sender, ingress_bytes=size), 0)
        except StopPending as stopping:
            stopping.canister.system.stop_waiters.append((origin, 0))
        except Reject as reject:
            self._settle(origin, MANAGEMENT, reject, 0)
        self.drain()
        return pending

    def system_task(self, canister: CanisterState, mode: Mode) -> None:
        """A heartbeat or global timer: a call context nobody waits on; a trap goes to the log."""
        context = canister.system.call_contexts.open(FromSystem(), 0)
        try:
            outcome = self.execution.run_system_task(canister, mode, self.clock(), context)
        except ExecutionError as exc:
            failure = exc.to_reject(canister.id)
            self.execution.log_debug(canister.system, f"[TRAP]: {mode.label}: {failure.message}")
            self._finish(canister, context, failure)
        else:
            self._committed(canister, context, outcome)
        self.drain()

    def drain(self) -> None:
        """Execute queued messages, oldest first, until none is left."""
        while (message := self.queues.pop()) is not None:
            self.changed()
            try:
                if isinstance(message, Request):
                    self._deliver_request(message)
                else:
                    self._deliver_response(message)
            except Exception:  # a replica bug must not stall every other call
                log.exception("delivering %r failed", message)

    # --- executing ----------------------------------------------------------------------------------

    def _new_ingress(self, sender: Principal) -> tuple[PendingCall, Origin]:
        pending = PendingCall()
        self._ingress[self._next_ingress] = pending
        origin = FromIngress(self._next_ingress, sender)
        self._next_ingress += 1
        return pending, origin

    def _run_request(self, canister: CanisterState, context: CallContext, method: str, arg: bytes, caller: Principal) -> None:
        try:
            outcome = self.execution.execute_update(canister, method, arg, caller, self.clock(), context)
        except ExecutionError as exc:
            self._finish(canister, context, exc.to_reject(canister.id))
        except Reject as reject:  # it could not prepay its execution (IC0207)
            self._finish(canister, context, reject)
        else:
            self._committed(canister, context, outcome)

    def _committed(self, canister: CanisterState, context: CallContext, outcome: Outcome) -> None:
        """Book a committed execution: send its calls, deliver its response, maybe close."""
        context.instructions += outcome.instructions
        context.available_cycles -= outcome.cycles_accepted
        manager = canister.system.call_contexts
        for call in outcome.calls:
            callback_id = manager.register(
                Callback(context.id, call.callee, call.on_reply, call.on_reject, call.on_cleanup, call.cycles)
            )
            self.queues.push(Request(canister.id, call.callee, call.method, call.arg, call.cycles, callback_id))
        if outcome.response is not None:
            self._respond(canister, context, _result(canister.id, outcome.response))
        self._finish(canister, context)

    def _finish(self, canister: CanisterState, context: CallContext, failure: Reject | None = None) -> None:
        """After an execution in `context` (`failure`: it trapped): close the context once no
        callback is outstanding, answering it if it never responded."""
        if context.outstanding:
            return
        if not context.responded:
            self._respond(canister, context, failure or errors.did_not_reply(canister.id))
        canister.system.call_contexts.close(context)
        self._maybe_stopped(canister)

    def _respond(self, canister: CanisterState, context: CallContext, result: bytes | Reject) -> None:
        context.responded = True
        refund, context.available_cycles = context.available_cycles, 0
        self._settle(context.origin, canister.id, result, refund)

    def _settle(self, origin: Origin, respondent: Principal, result: bytes | Reject, refund: int) -> None:
        """Deliver a response to whoever made the call."""
        match origin:
            case FromIngress(message_id=message_id):
                self._ingress.pop(message_id).settle(result)
            case FromCanister(caller=caller, callback_id=callback_id):
                self.queues.push(_response(caller, respondent, callback_id, result, refund))

    def _maybe_stopped(self, canister: CanisterState) -> None:
        system = canister.system
        if system.status is not Status.STOPPING or system.call_contexts.contexts:
            return
        system.status = Status.STOPPED
        system.version += 1
        canister.touch()
        waiters, system.stop_waiters = system.stop_waiters, []
        for origin, attached in waiters:
            self._settle(origin, MANAGEMENT, EMPTY_REPLY, attached)

    def _cancel_stops(self, canister: CanisterState) -> None:
        """start_canister on a stopping canister: "all stop_canister calls which are processing
        fail (and are rejected)" (interface spec, IC method start_canister)."""
        waiters, canister.system.stop_waiters = canister.system.stop_waiters, []
        cancelled = Reject.of(ErrorCode.CANISTER_STOPPING_CANCELLED, f"Canister {canister.id}'s stop request was cancelled.")
        for origin, attached in waiters:
            self._settle(origin, MANAGEMENT, cancelled, attached)

    def _reject_open_contexts(self, canister: CanisterState) -> None:
        """Interface spec, IC method uninstall_code: "Uninstalling a canister's code will reject
        all calls that the canister has not yet responded to [...] Outstanding responses to the
        canister will not be processed, even if they arrive after code has been installed again.
        Cycles attached to such responses will still be refunded though." The reject is the
        IC's: CANISTER_REJECT (IC0406) `Canister has been uninstalled.`, with the cycles the
        context had not accepted."""
        manager = canister.system.call_contexts
        for context in list(manager.contexts.values()):
            if not context.responded:
                self._respond(canister, context, errors.canister_reject(UNINSTALLED))
            context.deleted = True
            if not context.outstanding:
                manager.close(context)
        self._maybe_stopped(canister)

    # --- delivering messages ---------------------------------------------------------------------------

    def _deliver_request(self, request: Request) -> None:
        if request.callee == MANAGEMENT:
            self._management_request(request)
            return
        try:
            canister = self.canisters.get(request.callee)  # IC0301, reject code 3 (destination invalid)
            if canister.system.status is Status.STOPPED:
                raise errors.canister_stopped(canister.id)
            if canister.system.status is Status.STOPPING:
                raise errors.canister_stopping(canister.id)
        except Reject as reject:
            self.queues.push(_response(request.caller, request.callee, request.callback_id, reject, request.cycles))
            return
        context = canister.system.call_contexts.open(FromCanister(request.caller, request.callback_id), request.cycles)
        self._run_request(canister, context, request.method, request.arg, request.caller)

    def _deliver_response(self, response: Response) -> None:
        try:
            canister = self.canisters.get(response.originator)
        except Reject:
            return  # deleted meanwhile: nobody to deliver to
        manager = canister.system.call_contexts
        if response.callback_id not in manager.callbacks:
            return
        callback, context = manager.take(response.callback_id)
        # Credited whatever the callback does: the cycles the callee did not keep, and the
        # response transmission reserved but not used.
        cycles.credit_response(canister, response.refund, response.size)
        if context.deleted:  # the code that made the call was uninstalled: nothing runs
            cycles.release_execution_reserve(canister)
            self._finish(canister, context)
            return
        try:
            outcome = self.execution.execute_callback(canister, context, callback, response, self.clock())
        except (ExecutionError, Reject) as exc:
            failure = exc.to_reject(canister.id) if isinstance(exc, ExecutionError) else exc
            if callback.on_cleanup is not None:
                self._cleanup(canister, context, callback, response)
            self._finish(canister, context, failure)
        else:
            self._committed(canister, context, outcome)

    def _cleanup(self, canister: CanisterState, context: CallContext, callback: Callback, response: Response) -> None:
        assert callback.on_cleanup is not None
        try:
            self.execution.execute_cleanup(canister, context, callback.on_cleanup, response, self.clock())
        except (ExecutionError, Reject) as exc:
            message = exc.to_reject(canister.id).message if isinstance(exc, ExecutionError) else exc.message
            self.execution.log_debug(canister.system, f"[TRAP]: cleanup: {message}")

    # --- the management canister, called by canisters ------------------------------------------------

    def _management_request(self, request: Request) -> None:
        origin = FromCanister(request.caller, request.callback_id)
        if request.method == "http_request":
            self._start_outcall(request)
            return
        try:
            reply = self.management.call(request.method, request.arg, request.caller, from_canister=True)
            kept = 0
            if request.method == "deposit_cycles":
                self.management.deposit(request.arg, request.cycles)
                kept = request.cycles
        except StopPending as stopping:
            stopping.canister.system.stop_waiters.append((origin, request.cycles))
            return
        except Reject as reject:
            self._settle(origin, MANAGEMENT, reject, request.cycles)
            return
        self._settle(origin, MANAGEMENT, reply, request.cycles - kept)

    def _start_outcall(self, request: Request) -> None:
        try:
            prepared = self.outcalls().prepare(request.arg, request.caller, request.cycles)
        except Reject as reject:
            self.queues.push(_response(request.caller, MANAGEMENT, request.callback_id, reject, request.cycles))
            return
        refund = request.cycles - prepared.cost  # the cost is kept whatever the outcome, as on the IC
        thread = threading.Thread(
            target=self._run_outcall, args=(prepared, request, refund), name="icchat-outcall", daemon=True
        )
        thread.start()

    def _run_outcall(self, prepared: PreparedOutcall, request: Request, refund: int) -> None:
        """Off the lock: the request goes out; the response is queued to the caller's callback."""
        result: bytes | Reject
        try:
            result = prepared.run(lambda method, arg: self._transform(request.caller, method, arg))
        except Reject as reject:
            result = reject
        except Exception as exc:  # a bug of the outcall service must still answer the canister
            log.exception("HTTPS outcall failed")
            result = Reject(errors.RejectCode.SYS_TRANSIENT, f"the local replica's HTTPS outcall failed: {exc}")
        with self.lock:
            self.queues.push(_response(request.caller, MANAGEMENT, request.callback_id, result, refund))
            self.drain()

    def _transform(self, caller: Principal, method: str, arg: bytes) -> bytes:
        """The outcall's transform: a query of the calling canister, under the lock."""
        with self.lock:
            canister = self.canisters.get(caller)
            try:
                outcome = self.execution.execute_transform(canister, method, arg, self.clock())
            except ExecutionError as exc:
                raise exc.to_reject(canister.id) from None
            return reply_of(canister.id, outcome)


def _response(originator: Principal, respondent: Principal, callback_id: int, result: bytes | Reject, refund: int) -> Response:
    if isinstance(result, Reject):
        return Response(originator, respondent, callback_id, None, int(result.code), result.message, refund)
    return Response(originator, respondent, callback_id, result, refund=refund)
