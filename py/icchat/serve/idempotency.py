"""`Idempotency-Key`: the same key and body get the same response, byte for byte.

On the Internet Computer every replica of a subnet sends the same HTTPS outcall, and their
answers must agree (issue 28's canister route): the first request with a key computes the reply,
the others with that key and the same body get its recorded bytes again, with
`Idempotent-Replayed: true`. A key is kept for `ttl` seconds and at most `capacity` keys (the
oldest go first). The same key with another body is refused with 422 (the IETF draft
`draft-ietf-httpapi-idempotency-key-header`'s status for a reused key; not 409, which OpenAI's
clients retry). Only finished replies are recorded: an error or a stream the client left is
computed again on the next try.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from icchat.serve.errors import ApiError

TTL_SECONDS = 3600.0
CAPACITY = 1024
MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class Recorded:
    """A response as it was sent: status, content type and body bytes."""

    status: int
    content_type: str
    body: bytes


class IdempotencyStore:
    def __init__(self, ttl: float = TTL_SECONDS, capacity: int = CAPACITY) -> None:
        self.ttl, self.capacity = ttl, capacity
        self._entries: OrderedDict[str, tuple[float, str, Recorded]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def fingerprint(method: str, path: str, body: bytes) -> str:
        return hashlib.sha256(b"%s %s\n%s" % (method.encode(), path.encode(), body)).hexdigest()

    def lookup(self, key: str, fingerprint: str) -> Recorded | None:
        """The recorded response for this key and request, None if there is none; ApiError 422
        if the key was used for another request."""
        if not key or len(key) > MAX_KEY_LENGTH:
            raise ApiError(400, f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters",
                           param="Idempotency-Key")
        with self._lock:
            self._expire(time.monotonic())
            entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[1] != fingerprint:
            raise ApiError(422, f"Idempotency-Key {key!r} was already used with a different request; "
                                "use a new key for a new request", param="Idempotency-Key",
                           code="idempotency_key_reused")
        return entry[2]

    def record(self, key: str, fingerprint: str, response: Recorded) -> None:
        with self._lock:
            now = time.monotonic()
            self._expire(now)
            self._entries[key] = (now, fingerprint, response)
            self._entries.move_to_end(key)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)

    def _expire(self, now: float) -> None:
        while self._entries and next(iter(self._entries.values()))[0] <= now - self.ttl:
            self._entries.popitem(last=False)
