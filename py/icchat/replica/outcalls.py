"""HTTPS outcalls: the management canister's `http_request`, as the IC serves it.

The IC splits an outcall in two, and so does this module. `OutcallService.prepare` is the
execution environment's part (rs/execution_environment, rs/types/types/src/canister_http.rs):
decode the request, check it against the interface spec's limits, price it and refuse it when
the caller attached too little. It runs under the replica lock; the caller takes `cost` from the
attached cycles and refunds the rest. `PreparedOutcall.run` is the adapter's and its client's
part (rs/https_outcalls): the request really goes out, once per node, each response is checked,
passed through the canister's transform, and the nodes must agree, or the call is rejected as
consensus rejects it. It runs off the lock, in its own thread; the transform it is given runs the
canister's query under the lock.

Failures are rejected with the codes and texts of the adapter and its client
(rs/https_outcalls/adapter/src/rpc_server.rs, client/src/client.rs): a connection that cannot be
opened -- refused, unresolvable, not opened within the adapter's 2 s connect timeout, or whose
certificate does not verify -- is a connection error, SYS_TRANSIENT "Connecting to <host>
failed: direct connect <error>"; a request not done within the adapter's 30 s is SYS_FATAL
"Timeout expired" (the adapter's gRPC server timeout, which tonic reports as Cancelled "Timeout
expired" and the client's grpc_status_code_to_reject maps to SYS_FATAL, as every code but
Unavailable).

Certificates are verified against the system's trust store, as the IC's nodes do (the adapter's
`with_native_roots`); `ca_file` adds CAs to it, so that a test or a local service with its own
CA can be reached over `https://`.

Differences from mainnet, all local conveniences: `nodes` replicas (default 2) make the request
instead of the subnet's 13 (the price is still the 13-node price); `http://` is allowed, to
loopback addresses only, so that a local service can be the endpoint (mainnet requires `https://`
for every URL and refuses anything else with the same text as here); a connection error names the
direct connection only, worded as the error's text rather than hyper's debug form (mainnet also
tries its SOCKS proxies and adds "and connect through socks ..."), and TLS errors are OpenSSL's
words, not rustls'; every node must return the same transformed response (mainnet needs 2f+1
equal ones) and there is no separate 60 s consensus timeout (each node's request is bounded by
`timeout_s`).
"""

from __future__ import annotations

import hashlib
import http.client
import ipaddress
import itertools
import os
import socket
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit

from icchat.ic import candid, prices
from icchat.ic.principal import Principal
from icchat.replica.errors import ErrorCode, Reject, RejectCode
from icchat.replica.limits import (
    HTTP_CONNECT_TIMEOUT_S,
    HTTP_OUTCALL_TIMEOUT_S,
    MAX_HTTP_HEADER_NAME_VALUE,
    MAX_HTTP_HEADERS,
    MAX_HTTP_HEADERS_TOTAL,
    MAX_HTTP_REQUEST_BYTES,
    MAX_HTTP_RESPONSE_BYTES,
    MAX_HTTP_URL_SIZE,
)

# The types of the interface spec's ic.did (dfinity/portal docs/references/_attachments/ic.did).
# `pricing_version` selects the IC's newer pay-as-you-go pricing; this replica prices every
# request as version 1 (the published formula), the default.
DID = candid.parse_did("""
type http_header = record { name : text; value : text };
type http_request_result = record { status : nat; headers : vec http_header; body : blob };
type http_request_args = record {
    url : text;
    max_response_bytes : opt nat64;
    method : variant { get; head; post };
    headers : vec http_header;
    body : opt blob;
    transform : opt record {
        function : func (record { response : http_request_result; context : blob }) -> (http_request_result) query;
        context : blob;
    };
    is_replicated : opt bool;
    pricing_version : opt nat32;
};
service : { http_request : (http_request_args) -> (http_request_result) }
""")
HTTP_REQUEST: candid.Func = dict(DID.service.methods)["http_request"]
HTTP_REQUEST_ARGS = DID.types["http_request_args"]
HTTP_REQUEST_RESULT = DID.types["http_request_result"]
TRANSFORM_ARGS = candid.parse_type("record { response : http_request_result; context : blob }", DID)

# (method, Candid argument) -> the Candid reply of the calling canister's query; raises Reject
# when the query traps or rejects, or is not a query of that canister.
TransformFn = Callable[[str, bytes], bytes]

USER_AGENT = "ic/1.0"  # sent when the canister sets no user-agent header, as the adapter does
READ_CHUNK = 64 * 1024


def _rejected_message(message: str) -> Reject:
    """A request refused before it goes out (the IC's CanisterRejectedMessage, IC0406, code 4)."""
    return Reject.of(ErrorCode.CANISTER_REJECTED_MESSAGE, message)


def _fatal(message: str) -> Reject:
    return Reject(RejectCode.SYS_FATAL, message)


def _transient(message: str) -> Reject:
    return Reject(RejectCode.SYS_TRANSIENT, message)


def _check_headers_and_body(headers: list[tuple[str, str]], body: bytes) -> str | None:
    """What is wrong with a request's (or a response's) headers and body, in the IC's words, or
    None (validate_http_headers_and_body: the spec's 64 headers, 8 KiB per name or value, 48 KiB
    of names and values, 2,000,000 bytes with the body)."""
    sizes = [(len(name.encode()), len(value.encode())) for name, value in headers]
    total = sum(n + v for n, v in sizes)
    if len(headers) > MAX_HTTP_HEADERS:
        return f"number of all http headers {len(headers)} exceeds {MAX_HTTP_HEADERS}"
    if (longest := max((n for n, _ in sizes), default=0)) > MAX_HTTP_HEADER_NAME_VALUE:
        return f"number of bytes to represent some http header name {longest} exceeds {MAX_HTTP_HEADER_NAME_VALUE}"
    if (longest := max((v for _, v in sizes), default=0)) > MAX_HTTP_HEADER_NAME_VALUE:
        return f"number of bytes to represent some http header value {longest} exceeds {MAX_HTTP_HEADER_NAME_VALUE}"
    if total > MAX_HTTP_HEADERS_TOTAL:
        return f"total number of bytes to represent all http header names and values {total} exceeds {MAX_HTTP_HEADERS_TOTAL}"
    if total + len(body) > MAX_HTTP_REQUEST_BYTES:
        return ("total number of bytes to represent all http header names and values and http body "
                f"{total + len(body)} exceeds {MAX_HTTP_REQUEST_BYTES}")
    return None


@dataclass(frozen=True)
class OutcallRequest:
    """A decoded, checked `http_request`: what every node sends."""

    url: str
    method: str  # GET, HEAD or POST
    headers: list[tuple[str, str]]
    body: bytes
    max_response_bytes: int
    transform: tuple[str, bytes] | None  # (method name, context)
    replicated: bool

    def priced_bytes(self) -> int:
        """The request's size as the IC prices it (CanisterHttpRequestContext::variable_parts_size)."""
        size = len(self.url.encode()) + sum(len(n.encode()) + len(v.encode()) for n, v in self.headers) + len(self.body)
        if self.transform is not None:
            size += len(self.transform[0].encode()) + len(self.transform[1])
        return size


class OutcallService:
    """The subnet's HTTPS outcall machinery: one per replica. Prices for a subnet of
    `subnet_size` nodes; sends each request from `nodes` local stand-ins for its replicas; gives
    each node's request `timeout_s` seconds from connecting to the last byte of the body, of
    which at most `connect_timeout_s` to open the TCP connection. `https://` servers must show a
    certificate for the URL's host from a CA of the system's trust store or of `ca_file` (PEM;
    give it as `Replica(outcalls=OutcallService(ca_file=...))`)."""

    def __init__(self, *, subnet_size: int = 13, nodes: int = 2, timeout_s: float = HTTP_OUTCALL_TIMEOUT_S,
                 connect_timeout_s: float = HTTP_CONNECT_TIMEOUT_S, ca_file: str | os.PathLike[str] | None = None,
                 ) -> None:
        if nodes < 1:
            raise ValueError("an outcall needs at least one node")
        self.subnet_size = subnet_size
        self.nodes = nodes
        self.timeout_s = timeout_s
        self.connect_timeout_s = connect_timeout_s
        self._tls = ssl.create_default_context()
        if ca_file is not None:
            self._tls.load_verify_locations(cafile=ca_file)
        self._request_ids = itertools.count()
        self._ids_lock = threading.Lock()

    def prepare(self, arg: bytes, caller: Principal, cycles: int) -> PreparedOutcall:
        """Decode and check a canister's `http_request` and price it; raises Reject with the IC's
        text when the argument is malformed, breaks a limit, or `cycles` do not cover the cost."""
        try:
            (args,) = candid.decode(arg, HTTP_REQUEST.args)
        except (candid.CandidError, ValueError) as exc:
            raise Reject.of(ErrorCode.INVALID_MANAGEMENT_PAYLOAD, f"Error decoding candid: {exc}") from None
        transform = args["transform"]
        if transform is not None and transform["function"].service != caller:
            raise _rejected_message(
                f"transform principal id expected to be {caller}, got {transform['function'].service}")
        url: str = args["url"]
        if len(url.encode()) > MAX_HTTP_URL_SIZE:
            raise _rejected_message(f"url size {len(url.encode())} exceeds {MAX_HTTP_URL_SIZE}")
        headers = [(h["name"], h["value"]) for h in args["headers"]]
        body: bytes = args["body"] or b""
        if problem := _check_headers_and_body(headers, body):
            raise _rejected_message(problem)
        limit = args["max_response_bytes"]
        if limit is not None and limit > MAX_HTTP_RESPONSE_BYTES:
            raise _rejected_message(
                f"max_response_bytes expected to be in the range [0..{MAX_HTTP_RESPONSE_BYTES}], got {limit}")
        request = OutcallRequest(
            url=url,
            method=next(iter(args["method"])).upper(),
            headers=headers,
            body=body,
            max_response_bytes=MAX_HTTP_RESPONSE_BYTES if limit is None else limit,
            transform=None if transform is None else (transform["function"].method, bytes(transform["context"])),
            replicated=args["is_replicated"] is not False,
        )
        cost = prices.http_outcall_cycles(request.priced_bytes(), request.max_response_bytes, self.subnet_size)
        if cycles < cost:
            raise _rejected_message(f"http_request request sent with {cycles} cycles, but {cost} cycles are required.")
        with self._ids_lock:
            request_id = next(self._request_ids)
        return PreparedOutcall(request, cost, request_id, self.nodes if request.replicated else 1,
                               _Connection(self._tls, self.connect_timeout_s, self.timeout_s))


class PreparedOutcall:
    """An outcall the IC accepted and charged: `cost` is taken, the rest of the attached cycles
    go back to the caller with the response."""

    def __init__(self, request: OutcallRequest, cost: int, request_id: int, nodes: int, connection: _Connection) -> None:
        self.request = request
        self.cost = cost
        self.transform_method = None if request.transform is None else request.transform[0]
        self.request_id = request_id
        self._nodes = nodes
        self._connection = connection

    def run(self, transform: TransformFn) -> bytes:
        """Send the request from every node at once, transform each response and return the one
        they agree on (Candid `http_request_result`, or what the transform replied); raises the
        Reject they agree on, or the IC's no-consensus reject when they differ."""
        with ThreadPoolExecutor(self._nodes) as pool:
            responses = list(pool.map(lambda _node: _fetch(self.request, self._connection), range(self._nodes)))
        outcomes = [r if isinstance(r, Reject) else self._transformed(r, transform) for r in responses]
        return self._agreed(outcomes)

    def _transformed(self, response: _Response, transform: TransformFn) -> bytes | Reject:
        """One node's response as it goes to consensus: checked as the canister's request is,
        then transformed (or Candid-encoded as it is, without a transform)."""
        if problem := _check_headers_and_body(response.headers, response.body):
            return _fatal(problem)
        result = {"status": response.status, "headers": [{"name": n, "value": v} for n, v in response.headers],
                  "body": response.body}
        if self.request.transform is None:
            return candid.encode([HTTP_REQUEST_RESULT], [result])
        method, context = self.request.transform
        outcome: bytes | Reject
        try:
            outcome = transform(method, candid.encode([TRANSFORM_ARGS], [{"response": result, "context": context}]))
        except Reject as reject:
            outcome = Reject(reject.code, reject.message)  # what the caller sees: code and text only
        size = len(outcome.message.encode()) if isinstance(outcome, Reject) else len(outcome)
        if size > self.request.max_response_bytes:
            return _fatal(f"Transformed http response exceeds limit: {self.request.max_response_bytes}")
        return outcome

    def _agreed(self, outcomes: list[bytes | Reject]) -> bytes:
        digests = [hashlib.sha256(_content(outcome)).digest() for outcome in outcomes]
        if len(set(digests)) > 1:
            counts = sorted(Counter(digests).items(), key=lambda item: item[1], reverse=True)
            hashes = ", ".join(f"[{digest.hex()}: {count}]" for digest, count in counts)
            raise _transient("No consensus could be reached. Replicas had different responses. "
                             f"Details: request_id: {self.request_id}, hashes: {hashes}")
        outcome = outcomes[0]
        if isinstance(outcome, Reject):
            raise outcome
        return outcome


def _content(outcome: bytes | Reject) -> bytes:
    if isinstance(outcome, Reject):
        return b"reject %d " % outcome.code + outcome.message.encode()
    return b"reply " + outcome


# --- one node's request (the adapter) ---------------------------------------------------------------


@dataclass(frozen=True)
class _Connection:
    """How a node connects: the certificates it trusts and its time limits."""

    tls: ssl.SSLContext
    connect_timeout_s: float
    timeout_s: float


@dataclass(frozen=True)
class _Response:
    status: int
    headers: list[tuple[str, str]]  # names lowercased, as the adapter (hyper) reports them
    body: bytes


def _fetch(request: OutcallRequest, how: _Connection) -> _Response | Reject:
    """Send `request` once and read the response within `how.timeout_s`, with the adapter's
    limits and rejects: SYS_FATAL for what the request or response gets wrong and for a request
    that runs out of time, SYS_TRANSIENT for a connection that fails."""
    try:
        parts = urlsplit(request.url)
        host, port = parts.hostname, parts.port
    except ValueError as exc:
        return _fatal(f"Failed to parse URL: {exc}")
    if parts.scheme not in ("https", "http") or not host:
        return _fatal("Url need to specify https scheme" if host else "Failed to parse URL: empty host")
    if parts.scheme == "http" and not _is_loopback(host):
        return _fatal("Url need to specify https scheme")
    deadline = time.monotonic() + how.timeout_s
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        connection = http.client.HTTPSConnection(host, port, timeout=how.timeout_s, context=how.tls)
    else:
        connection = http.client.HTTPConnection(host, port, timeout=how.timeout_s)
    try:
        try:
            connection.sock = _open(connection, how, deadline)
            response = _send(connection, request, parts.path or "/", parts.query, deadline)
        except (OSError, http.client.HTTPException) as exc:
            if isinstance(exc, TimeoutError):  # the adapter's request timeout (see the module's text)
                return _fatal("Timeout expired")
            # rpc_server.rs: CanisterHttpErrorKind::Connection, SYS_TRANSIENT in client.rs.
            return _transient(f"Connecting to {host:.50} failed: direct connect {_describe(exc)}")
        try:
            return _receive(connection, response, request.max_response_bytes, deadline)
        except TimeoutError:
            return _fatal("Timeout expired")
        except (OSError, http.client.HTTPException) as exc:
            return _transient(f"Failed to fetch body: {_describe(exc)}")
    finally:
        connection.close()


def _open(connection: http.client.HTTPConnection, how: _Connection, deadline: float) -> socket.socket:
    """The connection's socket: TCP within the connect timeout, then (for `https://`) TLS with
    the certificate checked against `how.tls` for the URL's host, within the request's time."""
    limit = min(how.connect_timeout_s, _remaining(deadline))
    try:
        sock = socket.create_connection((connection.host, connection.port), timeout=limit)
    except TimeoutError:
        if limit < how.connect_timeout_s:
            raise  # the request's own time ran out first
        # The adapter's connect timeout is a connection error (SYS_TRANSIENT), not "Timeout
        # expired": hyper's ConnectError("tcp connect error", TimedOut: Elapsed), as
        # rs/https_outcalls/adapter/tests/server_test.rs test_connect_timeout expects.
        raise ConnectionError("tcp connect error: deadline has elapsed") from None
    if not isinstance(connection, http.client.HTTPSConnection):
        return sock
    try:
        sock.settimeout(_remaining(deadline))
        return how.tls.wrap_socket(sock, server_hostname=connection.host)
    except BaseException:
        sock.close()
        raise


def _send(connection: http.client.HTTPConnection, request: OutcallRequest, path: str, query: str,
          deadline: float) -> http.client.HTTPResponse:
    """Send the request with the canister's headers (plus `user-agent: ic/1.0` when it set
    none) and read the response's status line and headers."""
    names = {name.lower() for name, _ in request.headers}
    connection.putrequest(request.method, f"{path}?{query}" if query else path,
                          skip_host="host" in names, skip_accept_encoding=True)
    for name, value in request.headers:
        connection.putheader(name, value)
    if "user-agent" not in names:
        connection.putheader("user-agent", USER_AGENT)
    if request.body or request.method == "POST":
        connection.putheader("content-length", str(len(request.body)))
    _set_timeout(connection, deadline)
    connection.endheaders(request.body or None)
    return connection.getresponse()


def _receive(connection: http.client.HTTPConnection, response: http.client.HTTPResponse, limit: int,
             deadline: float) -> _Response | Reject:
    """Read the body within what `limit` leaves after the headers (max_response_bytes counts
    header names and values and the body)."""
    headers = [(name.lower(), value) for name, value in response.getheaders()]
    if not all(_visible_ascii(value) for _, value in headers):
        return _transient("Failed to parse headers: failed to convert header to a str")
    header_bytes = sum(len(name) + len(value) for name, value in headers)
    if header_bytes > limit:
        return _fatal(f"Header size exceeds specified response size limit {limit}")
    body = bytearray()
    while True:
        _set_timeout(connection, deadline)
        chunk = response.read1(READ_CHUNK)
        if not chunk:
            break
        body += chunk
        if len(body) > limit - header_bytes:
            return _fatal(f"Http body exceeds size limit of {limit} bytes.")
    return _Response(response.status, headers, bytes(body))


def _set_timeout(connection: http.client.HTTPConnection, deadline: float) -> None:
    """Bound the next socket operation by what is left of the request's time: a server that
    trickles its answer still times out when the request's time is up."""
    remaining = _remaining(deadline)
    if connection.sock is not None:  # None once the response took the socket over (http.client)
        connection.sock.settimeout(remaining)


def _remaining(deadline: float) -> float:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError
    return remaining


def _visible_ascii(value: str) -> bool:
    """What the adapter can read as text (hyper's HeaderValue::to_str): tabs and visible ASCII."""
    return all(char == "\t" or " " <= char <= "~" for char in value)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _describe(exc: BaseException) -> str:
    """An error the way the adapter's Rust text words it, e.g. `tcp connect error: Connection
    refused (os error 111)`."""
    if isinstance(exc, socket.gaierror):
        return f"dns error: failed to lookup address information: {exc.strerror}"
    if isinstance(exc, OSError) and not isinstance(exc, ssl.SSLError) and exc.errno is not None and exc.strerror:
        return f"tcp connect error: {exc.strerror} (os error {exc.errno})"
    return str(exc) or type(exc).__name__
