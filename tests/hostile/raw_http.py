"""Raw-socket HTTP for the hostile tests: send any bytes, read one answer (or see the connection
closed), with a deadline so a hanging server fails the test instead of stalling it."""

from __future__ import annotations

import contextlib
import http.client
import socket
from dataclasses import dataclass

DEADLINE = 20.0  # seconds any single answer may take


@dataclass
class Answer:
    status: int | None  # None: the server closed the connection without an answer
    headers: dict[str, str]
    body: bytes


def exchange(port: int, data: bytes, *, method: str = "GET", timeout: float = DEADLINE) -> Answer:
    """Send `data` on a fresh connection and read one response."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(data)  # the server may hang up on a bad start before reading everything
        return read_answer(sock, method)


def read_answer(sock: socket.socket, method: str = "GET") -> Answer:
    response = http.client.HTTPResponse(sock, method=method)
    try:
        response.begin()
    except (http.client.RemoteDisconnected, ConnectionResetError):
        return Answer(None, {}, b"")
    except TimeoutError as exc:
        raise AssertionError("the server neither answered nor closed the connection in time") from exc
    try:
        body = response.read()
    except http.client.IncompleteRead as exc:
        body = exc.partial
    return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, body)


def request_bytes(method: str, target: str, host: str, headers: list[tuple[str, str]] = (), body: bytes = b"") -> bytes:
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
    lines += [f"{k}: {v}" for k, v in headers]
    if body and not any(k.lower() in ("content-length", "transfer-encoding") for k, _ in headers):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
