"""The replica's HTTP server: one port for the IC HTTP interface and the HTTP gateway.

Threaded (one thread per connection, keep-alive), so a slow client never blocks the others.
`/api/...` goes to `api.Api`; every other request to the gateway (`gateway.handle`), which
serves canister web pages. Response bodies are iterables of chunks written as they come
(chunked transfer encoding when the length is not known up front).
"""

from __future__ import annotations

import http.server
import logging
import re
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from icchat.ic.envelope import MAX_ENVELOPE_BYTES
from icchat.replica.http.api import Api
from icchat.replica.http.certified_state import CertifiedState
from icchat.replica.http.ingress import IngressQueue
from icchat.replica.http.messages import HttpIn, HttpOut

log = logging.getLogger("icchat.replica.http")

MAX_BODY_BYTES = MAX_ENVELOPE_BYTES  # the largest request body any endpoint accepts
DRAIN_LIMIT = 64 * 1024 * 1024
IDLE_TIMEOUT = 120.0  # seconds a connection may sit silent (reading or writing) before it is closed
_DECIMAL = re.compile(r"[0-9]{1,19}")  # a Content-Length value (19 digits: within 64 bits)
CORS_HEADERS = [
    ("access-control-allow-origin", "*"),
    ("access-control-allow-methods", "GET, POST, HEAD, OPTIONS"),
    ("access-control-allow-headers", "content-type"),
    ("access-control-max-age", "86400"),
]


Handler = Callable[[Any, HttpIn], HttpOut]


def installed_gateway(replica: Any, request: HttpIn) -> HttpOut:
    """`icchat.replica.http.gateway.handle`, imported on first use (so a broken gateway module
    costs its own requests a 500, never the API), or a 404 while it is not installed."""
    try:
        from icchat.replica.http.gateway import handle
    except ModuleNotFoundError as exc:
        if exc.name == "icchat.replica.http.gateway":
            return HttpOut.text(404, "the HTTP gateway of this replica is not installed")
        raise
    return handle(replica, request)


class HttpServer:
    """`HttpServer(replica, host, port).start()` serves in background threads until `.stop()`;
    port 0 picks a free port (see `.port` / `.url`). `gateway` handles every non-`/api/`
    request (default: `icchat.replica.http.gateway.handle`, or a 404 while it is not installed)."""

    def __init__(self, replica: Any, host: str = "127.0.0.1", port: int = 4943, *, gateway: Handler | None = None) -> None:
        self.replica = replica
        self.state = CertifiedState(replica)
        self.host = host
        self.gateway = gateway or installed_gateway
        self._requested_port = port
        self._server: _ThreadingServer | None = None
        self._thread: threading.Thread | None = None
        self.ingress: IngressQueue | None = None

    @property
    def port(self) -> int:
        assert self._server is not None, "not started"
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        host = "localhost" if self.host in ("127.0.0.1", "0.0.0.0", "::1", "::") else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> HttpServer:
        self.ingress = IngressQueue(self.replica, self.state.requests)
        api = Api(self.replica, self.state, self.ingress, time.monotonic())
        try:
            server = _ThreadingServer((self.host, self._requested_port), _handler_class(self.replica, api, self.gateway))
        except OSError as exc:
            self.ingress.close()
            from icchat.errors import UserError

            raise UserError(f"cannot listen on {self.host}:{self._requested_port}: {exc.strerror or exc}") from None
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, name="icchat-http", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self.ingress is not None:
            self.ingress.close()
            self.ingress = None

    def __enter__(self) -> HttpServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve(replica: Any, host: str, port: int) -> None:
    """Serve until KeyboardInterrupt (for scripts; `icchat replica start` uses HttpServer)."""
    server = HttpServer(replica, host, port).start()
    try:
        while True:
            time.sleep(3600)
    finally:
        server.stop()


class _ThreadingServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("connection from %s ended with an error", client_address, exc_info=True)


def _handler_class(replica: Any, api: Api, gateway: Handler) -> type[http.server.BaseHTTPRequestHandler]:
    class BoundHandler(_Handler):
        pass

    BoundHandler.replica = replica
    BoundHandler.api = api
    BoundHandler.gateway = staticmethod(gateway)
    return BoundHandler


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes
    server_version = "icchat-replica"
    sys_version = ""
    # Refusals of unparsable requests get a status line (never HTTP/0.9's bare body) and one line
    # of text, like every other refusal of this server.
    default_request_version = "HTTP/1.0"
    error_content_type = "text/plain; charset=utf-8"
    error_message_format = "%(code)d %(message)s\n"
    timeout = IDLE_TIMEOUT
    replica: Any
    api: Api
    gateway: Handler

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def _dispatch(self) -> None:
        is_api = self.path.startswith("/api/")
        try:
            body = self._read_body()
            if body is None:
                return
            request = HttpIn(self.command, self.path, _host(self.headers.get("host", "")), list(self.headers.items()), body)
            if is_api:
                response = _preflight() if self.command == "OPTIONS" else self.api.handle(request)
                response.headers.extend(CORS_HEADERS)
            else:
                response = self.gateway(self.replica, request)
        except Exception as exc:  # never let a handler bug take the server down
            log.exception("request %s %s failed", self.command, self.path)
            response = HttpOut.text(500, f"internal error of the local replica: {type(exc).__name__}: {exc}")
        self._send(response)

    # Every method goes through one dispatcher; the API and the gateway decide what they allow.
    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _dispatch

    def _read_body(self) -> bytes | None:
        # Framing is read strictly (RFC 9112 6.3): any Transfer-Encoding, or Content-Length values
        # that are not one plain decimal number, would let a proxy and this server disagree on
        # where the body ends (request smuggling), so they are refused and the connection closed.
        if self.headers.get_all("transfer-encoding"):
            self._send(HttpOut.text(411, "send the request body with a Content-Length (no Transfer-Encoding)"), close=True)
            return None
        lengths = {value.strip() for value in self.headers.get_all("content-length") or ()}
        if len(lengths) > 1 or not all(_DECIMAL.fullmatch(value) for value in lengths):
            self._send(HttpOut.text(400, "invalid Content-Length"), close=True)
            return None
        length = int(lengths.pop()) if lengths else 0
        if length > MAX_BODY_BYTES:
            # Read (and drop) a moderately oversized body so the client gets to see the answer
            # instead of a broken pipe; beyond DRAIN_LIMIT just hang up after answering.
            if length <= DRAIN_LIMIT:
                remaining = length
                while remaining > 0 and (chunk := self.rfile.read(min(remaining, 1 << 20))):
                    remaining -= len(chunk)
            self._send(HttpOut.text(413, f"request body of {length} bytes exceeds the limit of {MAX_BODY_BYTES}"), close=True)
            return None
        return self.rfile.read(length) if length else b""

    def _send(self, response: HttpOut, close: bool = False) -> None:
        headers = [(k.lower(), v) for k, v in response.headers]
        known_length = any(k == "content-length" for k, _ in headers)
        head_only = self.command == "HEAD" or response.status in (204, 304) or response.status < 200
        chunked = not known_length and not head_only
        self.send_response(response.status)
        for key, value in headers:
            if key not in ("connection", "transfer-encoding", "keep-alive"):
                self.send_header(key, value)
        if chunked:
            self.send_header("transfer-encoding", "chunked")
        if close:
            self.send_header("connection", "close")
            self.close_connection = True
        self.end_headers()
        if head_only:
            _close_body(response.body)
            return
        try:
            for chunk in response.body:
                if not chunk:
                    continue
                if chunked:
                    _send_parts(self.connection, [b"%x\r\n" % len(chunk), chunk, b"\r\n"])
                else:
                    self.wfile.write(chunk)
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
        except (TimeoutError, BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception:
            # The status line is gone already: cut the connection so the client sees a broken
            # body rather than a complete-looking wrong one.
            log.warning("response body of %s %s cut off: %s", self.command, self.path, sys.exc_info()[1])
            self.close_connection = True
        finally:
            _close_body(response.body)


def _send_parts(sock: Any, parts: list[bytes]) -> None:
    """Write the pieces as one gathered send (no copy into a joined frame of megabytes)."""
    views = [memoryview(part).cast("B") for part in parts if len(part)]
    while views:
        sent = sock.sendmsg(views)
        while views and sent >= len(views[0]):
            sent -= len(views[0])
            views.pop(0)
        if views and sent:
            views[0] = views[0][sent:]


def _close_body(body: Any) -> None:
    close = getattr(body, "close", None)
    if callable(close):
        close()


def _preflight() -> HttpOut:
    return HttpOut(204, [("content-length", "0")], [])


def _host(value: str) -> str:
    value = value.strip().lower()
    if value.startswith("["):  # [::1]:4943
        return value.split("]", 1)[0] + "]"
    return value.rsplit(":", 1)[0] if ":" in value else value
