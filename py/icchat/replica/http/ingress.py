"""Executes accepted ingress calls in order, off the HTTP threads, recording their status.

The replica runs one message at a time anyway (as a subnet does per canister); a queue and one
worker let the HTTP layer answer `202 Accepted` at once for asynchronous calls and let slow
calls never hold an HTTP thread that is not waiting for them. A call whose call context waits
on something outside the replica (an HTTPS outcall) does not hold the worker either: a thread
of its own waits for it and publishes its outcome, while the next calls run.

A reply is published only once the state it came from is on disk (group commit: one checkpoint
for the calls that ran back to back), as on the IC, where a certified reply is part of the
finalized state: a replica killed right after answering still has what it answered. If the
checkpoint fails (a full disk), the replies of that group are published (they happened, in
memory) and new calls are refused with a transient reject naming the cause until a checkpoint
succeeds again.
"""

from __future__ import annotations

import functools
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from icchat.ic.principal import Principal
from icchat.replica.errors import ErrorCode, Reject
from icchat.replica.http.request_status import RequestStatus, RequestStatusStore
from icchat.replica.scheduler import PendingCall

log = logging.getLogger("icchat.replica.http")

# A group's replies are published once the queue is empty, or it holds this many calls, or its
# first call ended this long ago (a checkpoint costs tens of ms: long calls are not held back).
GROUP_COMMIT_MAX = 16
GROUP_COMMIT_WAIT_S = 0.05


@dataclass(frozen=True)
class IngressCall:
    status: RequestStatus
    canister_id: Principal
    method: str
    arg: bytes
    sender: Principal
    size: int  # the signed request's bytes: what its induction costs (icchat.ic.prices)


class IngressQueue:
    def __init__(self, replica: Any, requests: RequestStatusStore) -> None:
        self.replica = replica
        self.requests = requests
        self._queue: queue.Queue[IngressCall | None] = queue.Queue()
        self._storage_error: str | None = None  # why the last checkpoint failed (a full disk)
        self._worker = threading.Thread(target=self._run, name="icchat-ingress", daemon=True)
        self._worker.start()

    def refuse_if_storage_fails(self) -> None:
        """Raise a transient Reject while the replica cannot save its state (a full disk), so
        no new call runs that could not be made durable; tries a checkpoint first, so calls are
        taken again as soon as there is space."""
        if self._storage_error is None:
            return
        try:
            self.replica.checkpoint()
        except Exception as exc:
            self._storage_error = str(exc)
            raise Reject(2, "the local replica cannot save its state, so it takes no update calls until it "
                            f"can: {exc}") from None
        self._storage_error = None

    def submit(self, call: IngressCall) -> None:
        self._queue.put(call)

    def close(self) -> None:
        self._queue.put(None)
        self._worker.join()

    def _run(self) -> None:
        pending: list[Callable[[], None]] = []
        first_done = 0.0
        while (call := self._queue.get()) is not None:
            publish = self._execute(call)
            if publish is None:
                continue
            pending.append(publish)
            if len(pending) == 1:
                first_done = time.monotonic()
            if (self._queue.empty() or len(pending) >= GROUP_COMMIT_MAX
                    or time.monotonic() - first_done >= GROUP_COMMIT_WAIT_S):
                self._publish(pending)
        self._publish(pending)

    def _execute(self, call: IngressCall) -> Callable[[], None] | None:
        """Run the call; returns what publishes its outcome (None: a thread publishes it later)."""
        self.requests.processing(call.status)
        try:
            pending = self.replica.submit_update(call.canister_id, call.method, call.arg, sender=call.sender,
                                                 inspect=False, ingress_bytes=call.size)
        except Exception as exc:
            return self._outcome(call, exc)
        if not pending.done:
            threading.Thread(target=self._publish_later, args=(call, pending), name="icchat-ingress-wait",
                             daemon=True).start()
            return None
        return self._outcome(call, pending)

    def _publish_later(self, call: IngressCall, pending: PendingCall) -> None:
        pending.wait()
        self._publish([self._outcome(call, pending)])

    def _outcome(self, call: IngressCall, pending: PendingCall | Exception) -> Callable[[], None]:
        try:
            if isinstance(pending, Exception):
                raise pending
            reply = pending.result()
        except Reject as reject:
            return functools.partial(self.requests.rejected, call.status, int(reject.code), reject.message,
                                     reject.error_code)
        except Exception as exc:  # an engine bug must not stop ingress; the caller sees why
            log.exception("ingress execution failed", exc_info=exc)
            return functools.partial(self.requests.rejected, call.status, 5, f"internal error of the local replica: {exc}",
                                     ErrorCode.CANISTER_WASM_ENGINE_ERROR.value)
        return functools.partial(self.requests.replied, call.status, reply)

    def _publish(self, pending: list[Callable[[], None]]) -> None:
        if not pending:
            return
        try:
            self.replica.checkpoint()  # no-op for an in-memory replica
            self._storage_error = None
        except Exception as exc:  # e.g. a full disk: these replies happened (in memory); refuse new calls
            self._storage_error = str(exc)
            log.error("replies published without a checkpoint (not durable yet): %s", exc)
        for publish in pending:
            publish()
        pending.clear()
        self.requests.prune(self.replica.time_ns())
