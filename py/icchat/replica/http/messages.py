"""Plain HTTP request/response values passed between the server and its handlers.

The server (`server.py`) parses the socket; handlers (`api.py` for `/api/...`, `gateway.py` for
canister web pages) take an `HttpIn` and return an `HttpOut` whose body is an iterable of chunks,
so large bodies stream to the client without being held whole in memory.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class HttpIn:
    method: str  # "GET", "POST", "HEAD", ...
    target: str  # path and query string as sent, e.g. "/index.html?canisterId=..."
    host: str  # the Host header without the port, lower-cased ("" if absent)
    headers: list[tuple[str, str]]  # as received, in order
    body: bytes

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        for key, value in self.headers:
            if key.lower() == lowered:
                return value
        return None


@dataclass
class HttpOut:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    # Chunks sent in order. If no content-length header is given, the server uses chunked encoding.
    body: Iterable[bytes] = ()

    @classmethod
    def text(cls, status: int, message: str) -> HttpOut:
        data = message.encode()
        return cls(status, [("content-type", "text/plain; charset=utf-8"), ("content-length", str(len(data)))], [data])
