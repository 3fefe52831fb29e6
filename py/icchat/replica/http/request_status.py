"""Statuses of ingress calls, kept and pruned as the IC keeps them.

received → processing → replied | rejected, and once the request's ingress expiry has passed the
reply is dropped and the status becomes `done` (so a request id can never be executed twice);
`done` entries are forgotten a while later. Entries remember their sender and the effective
canister (or subnet) id they were sent to: only that sender may read the status, and only there.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from icchat.ic.principal import Principal

FORGET_DONE_AFTER_NS = 5 * 60 * 10**9  # beyond the 5-minute ingress window, as on the IC


@dataclass
class RequestStatus:
    sender: Principal
    ingress_expiry: int
    effective_id: Principal  # the canister or subnet id of the URL the call was sent to
    status: str = "received"
    reply: bytes | None = None
    reject: tuple[int, str, str | None] | None = None  # code, message, error code
    done_event: threading.Event = field(default_factory=threading.Event)

    def tree(self) -> dict[str, Any]:
        """This status as state-tree entries under `request_status/<id>`."""
        node: dict[str, Any] = {"status": self.status}
        if self.status == "replied" and self.reply is not None:
            node["reply"] = self.reply
        if self.status == "rejected" and self.reject is not None:
            code, message, error_code = self.reject
            node.update({"reject_code": code, "reject_message": message})
            if error_code:
                node["error_code"] = error_code
        return node


class RequestStatusStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[bytes, RequestStatus] = {}

    def submit(
        self, request_id: bytes, sender: Principal, ingress_expiry: int, effective_id: Principal
    ) -> tuple[RequestStatus, bool]:
        """The entry for this request and whether it is new (a resubmission is not executed again)."""
        with self._lock:
            entry = self._entries.get(request_id)
            if entry is not None:
                return entry, False
            entry = self._entries[request_id] = RequestStatus(sender, ingress_expiry, effective_id)
            return entry, True

    def get(self, request_id: bytes) -> RequestStatus | None:
        with self._lock:
            return self._entries.get(request_id)

    def forget(self, request_id: bytes) -> None:
        """Drop a request refused before execution (it may be sent again)."""
        with self._lock:
            self._entries.pop(request_id, None)

    def processing(self, entry: RequestStatus) -> None:
        with self._lock:
            entry.status = "processing"

    def replied(self, entry: RequestStatus, reply: bytes) -> None:
        with self._lock:
            entry.status, entry.reply = "replied", reply
        entry.done_event.set()

    def rejected(self, entry: RequestStatus, code: int, message: str, error_code: str | None) -> None:
        with self._lock:
            entry.status, entry.reject = "rejected", (code, message, error_code)
        entry.done_event.set()

    def prune(self, now_ns: int) -> None:
        with self._lock:
            for request_id, entry in list(self._entries.items()):
                if entry.ingress_expiry >= now_ns or entry.status not in ("replied", "rejected", "done"):
                    continue
                if entry.status != "done":
                    entry.status, entry.reply, entry.reject = "done", None, None
                elif now_ns - entry.ingress_expiry > FORGET_DONE_AFTER_NS:
                    del self._entries[request_id]

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
