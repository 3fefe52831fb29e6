"""Executes accepted ingress calls in order, off the HTTP threads, recording their status.

The replica runs one message at a time anyway (as a subnet does per canister); a queue and one
worker let the HTTP layer answer `202 Accepted` at once for asynchronous calls and let slow
calls never hold an HTTP thread that is not waiting for them.
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass
from typing import Any

from icchat.ic.principal import Principal
from icchat.replica.errors import ErrorCode, Reject
from icchat.replica.http.request_status import RequestStatus, RequestStatusStore

log = logging.getLogger("icchat.replica.http")


@dataclass(frozen=True)
class IngressCall:
    status: RequestStatus
    canister_id: Principal
    method: str
    arg: bytes
    sender: Principal


class IngressQueue:
    def __init__(self, replica: Any, requests: RequestStatusStore) -> None:
        self.replica = replica
        self.requests = requests
        self._queue: queue.Queue[IngressCall | None] = queue.Queue()
        self._worker = threading.Thread(target=self._run, name="icchat-ingress", daemon=True)
        self._worker.start()

    def submit(self, call: IngressCall) -> None:
        self._queue.put(call)

    def close(self) -> None:
        self._queue.put(None)
        self._worker.join()

    def _run(self) -> None:
        while (call := self._queue.get()) is not None:
            self.requests.processing(call.status)
            try:
                reply = self.replica.update(call.canister_id, call.method, call.arg, sender=call.sender, inspect=False)
            except Reject as reject:
                self.requests.rejected(call.status, int(reject.code), reject.message, reject.error_code)
            except Exception as exc:  # an engine bug must not stop ingress; the caller sees why
                log.exception("ingress execution failed")
                self.requests.rejected(call.status, 5, f"internal error of the local replica: {exc}", ErrorCode.CANISTER_WASM_ENGINE_ERROR.value)
            else:
                self.requests.replied(call.status, reply)
            self.requests.prune(self.replica.time_ns())
