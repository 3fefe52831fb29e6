"""HTTPS outcalls (icchat.replica.outcalls) against real HTTP servers started here.

Each test quotes the rule it checks: the interface spec's "IC method `http_request`"
(dfinity/portal docs/references/ic-interface-spec.md), the cycles cost formulas page
(docs/references/cycles-cost-formulas.mdx) or, for the texts of rejects, the IC code that
produces them (dfinity/ic rs/types/types/src/canister_http.rs, rs/https_outcalls). Transforms are
plain Python functions standing for the calling canister's query: (method, Candid argument) ->
Candid reply, raising Reject where the query would trap; the `https://` tests also go through a
real replica and the probe canister (canister/probes/caller.c), with a CA made here.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from replica_helpers import CONTROLLER, PROBES
from test_replica_calls import call_spec, calls

from icchat.build.canister import compile_c
from icchat.ic import candid, prices
from icchat.ic.principal import Principal
from icchat.paths import BUILD
from icchat.replica import Replica
from icchat.replica.errors import Reject, RejectCode
from icchat.replica.outcalls import (
    HTTP_REQUEST,
    HTTP_REQUEST_RESULT,
    TRANSFORM_ARGS,
    OutcallService,
)

CALLER = Principal.from_canister_index(7)
PLENTY = 10**13  # cycles attached when the test is not about the price


class Handler(BaseHTTPRequestHandler):
    """Behaviour by path: /echo (the request as JSON), /varying (a body that differs on every
    request), /answer (the same answer wrapped in a varying request id), /slow?s=, /big?n=,
    /trickle (one byte every 50 ms, forever), /headers?n=&size= (many response headers), /latin1
    (a header value that is not ASCII)."""

    server: Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    def _handle(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length)
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        with self.server.lock:
            self.server.requests.append({"method": self.command, "path": self.path,
                                         "headers": [[k.lower(), v] for k, v in self.headers.items()],
                                         "body": body.decode()})
            count = len(self.server.requests)
        if url.path == "/echo":
            self._reply(json.dumps(self.server.requests[-1]).encode())
        elif url.path == "/varying":
            self._reply(f"request {count}".encode())
        elif url.path == "/answer":
            self._reply(json.dumps({"id": f"req-{count}", "answer": "forty-two"}).encode())
        elif url.path == "/slow":
            time.sleep(float(query["s"]))
            self._reply(b"late")
        elif url.path == "/big":
            self._reply(b"x" * int(query["n"]))
        elif url.path == "/trickle":
            self.send_response_only(200)
            self.end_headers()
            while True:
                try:
                    self.wfile.write(b"x")
                    self.wfile.flush()
                except OSError:
                    return
                time.sleep(0.05)
        elif url.path == "/latin1":
            self._reply(b"ok", [("x-name", "caf\u00e9")])
        elif url.path == "/headers":
            self._reply(b"ok", [(f"x-h{i}", "v" * int(query["size"])) for i in range(int(query["n"]))])
        else:
            self._reply(b"not found", status=404)

    def _reply(self, body: bytes, headers: list[tuple[str, str]] = (), status: int = 200) -> None:
        # No Date or Server header: every node must be able to get the same bytes.
        self.send_response_only(status)
        self.send_header("content-type", "text/plain")
        self.send_header("content-length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.lock = threading.Lock()
        self.requests: list[dict[str, Any]] = []
        self.scheme = "http" if tls is None else "https"
        if tls is not None:
            self.socket = tls.wrap_socket(self.socket, server_side=True)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # an outcall stops reading at its limit
            super().handle_error(request, client_address)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.server_address[1]}{path}"


@pytest.fixture
def server() -> Iterator[Server]:
    httpd = Server()
    yield from _serving(httpd)


def _serving(httpd: Server) -> Iterator[Server]:
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@dataclass(frozen=True)
class Authority:
    """A certificate authority made by the test: its certificate (in `cert_file`, PEM, what
    `OutcallService(ca_file=)` is given) and its key, to issue server certificates."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    cert_file: Path

    @classmethod
    def make(cls, directory: Path) -> Authority:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "icchat test CA")])
        cert = (_valid_for_a_day(x509.CertificateBuilder().subject_name(name).issuer_name(name)
                                 .public_key(key.public_key()))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                             content_commitment=False, key_encipherment=False,
                                             data_encipherment=False, key_agreement=False,
                                             encipher_only=False, decipher_only=False), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                .sign(key, hashes.SHA256()))
        cert_file = directory / "ca.pem"
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return cls(cert, key, cert_file)

    def server_context(self, names: list[x509.GeneralName]) -> ssl.SSLContext:
        """A TLS server context with a certificate from this CA for `names` (its SAN)."""
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (_valid_for_a_day(x509.CertificateBuilder()
                                 .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test server")]))
                                 .issuer_name(self.cert.subject).public_key(key.public_key()))
                .add_extension(x509.SubjectAlternativeName(names), critical=False)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                               critical=False)
                .sign(self.key, hashes.SHA256()))
        directory = self.cert_file.parent
        chain, key_file = directory / f"server-{cert.serial_number}.pem", directory / f"key-{cert.serial_number}.pem"
        chain.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(chain, key_file)
        return context


def _valid_for_a_day(builder: x509.CertificateBuilder) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (builder.serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=1)))


@pytest.fixture(scope="module")
def authority(tmp_path_factory) -> Authority:
    return Authority.make(tmp_path_factory.mktemp("ca"))


@pytest.fixture
def tls_server(authority) -> Iterator[Server]:
    """The same server behind TLS, with a certificate from `authority` for localhost and 127.0.0.1."""
    yield from _serving(Server(authority.server_context(
        [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])))


@pytest.fixture
def misnamed_tls_server(authority) -> Iterator[Server]:
    """The same server behind TLS, with a certificate from `authority` for another host only."""
    yield from _serving(Server(authority.server_context([x509.DNSName("elsewhere.example")])))


def request_arg(url: str, *, method: str = "get", headers: list[tuple[str, str]] = (), body: bytes | None = None,
                max_response_bytes: int | None = None, transform: str | None = None, context: bytes = b"",
                transform_owner: Principal = CALLER, is_replicated: bool | None = None) -> bytes:
    value = {
        "url": url,
        "max_response_bytes": max_response_bytes,
        "method": {method: None},
        "headers": [{"name": n, "value": v} for n, v in headers],
        "body": body,
        "transform": None if transform is None else {"function": candid.FuncRef(transform_owner, transform),
                                                      "context": context},
        "is_replicated": is_replicated,
        "pricing_version": None,
    }
    return candid.encode(HTTP_REQUEST.args, [value])


def result_of(reply: bytes) -> dict[str, Any]:
    return candid.decode(reply, [HTTP_REQUEST_RESULT])[0]


def never_called(method: str, arg: bytes) -> bytes:
    raise AssertionError(f"no transform was asked for, yet {method} was called")


def keep_answer(method: str, arg: bytes) -> bytes:
    """The canister's query that keeps what replicas agree on: the answer, not the request id."""
    assert method == "transform_answer"
    (args,) = candid.decode(arg, [TRANSFORM_ARGS])
    answer = json.loads(args["response"]["body"])["answer"]
    return candid.encode([HTTP_REQUEST_RESULT], [{"status": args["response"]["status"], "headers": [],
                                                  "body": answer.encode() + args["context"]}])


def outcall(service: OutcallService, arg: bytes, transform=never_called, cycles: int = PLENTY) -> bytes:
    return service.prepare(arg, CALLER, cycles).run(transform)


def rejected(service: OutcallService, arg: bytes, transform=never_called, cycles: int = PLENTY) -> Reject:
    with pytest.raises(Reject) as info:
        outcall(service, arg, transform, cycles)
    return info.value


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- the request goes out, from every node -------------------------------------------------------


def test_every_node_sends_the_same_request(server):
    """Spec: "The canister should aim to issue idempotent requests ... This may require, for
    example, to set a certain request header to uniquely identify the request": every replica
    sends the request, with the canister's headers, so an Idempotency-Key reaches the server from
    each of them. "If the request headers provided by the canister do not contain a `user-agent`
    header ... the IC sends a `user-agent` header with the value `ic/1.0`"."""
    service = OutcallService(nodes=3)
    arg = request_arg(server.url("/echo?q=1"), method="post", body=b'{"x": 1}',
                      headers=[("Idempotency-Key", "call-7"), ("content-type", "application/json")])
    result = result_of(outcall(service, arg))
    assert result["status"] == 200
    assert len(server.requests) == 3
    first = server.requests[0]
    assert all(r == first for r in server.requests)
    assert first["method"] == "POST" and first["path"] == "/echo?q=1" and first["body"] == '{"x": 1}'
    assert ["idempotency-key", "call-7"] in first["headers"]
    assert ["user-agent", "ic/1.0"] in first["headers"]
    assert json.loads(result["body"]) == first


def test_a_user_agent_set_by_the_canister_is_kept(server):
    """Spec: the IC adds `user-agent: ic/1.0` only when the canister's headers "do not contain a
    `user-agent` header (case-insensitive)"."""
    outcall(OutcallService(), request_arg(server.url("/echo"), headers=[("User-Agent", "mine/2")]))
    agents = [v for k, v in server.requests[0]["headers"] if k == "user-agent"]
    assert agents == ["mine/2"]


def test_head_and_the_response_fields(server):
    """Spec: "Currently, the `GET`, `HEAD`, and `POST` methods are supported"; the response
    "contains the following fields: status, headers, body". Header names come back lowercased, as
    the IC's adapter reports them."""
    result = result_of(outcall(OutcallService(), request_arg(server.url("/missing"), method="head")))
    assert result["status"] == 404
    assert result["body"] == b""
    assert {"name": "content-type", "value": "text/plain"} in result["headers"]
    assert server.requests[0]["method"] == "HEAD"


def test_a_non_replicated_request_is_sent_once(server):
    """ic.did's `is_replicated : opt bool`: with `false` one node makes the request (the IC's
    Replication::NonReplicated), so even a varying body is delivered."""
    result = result_of(outcall(OutcallService(nodes=3), request_arg(server.url("/varying"), is_replicated=False)))
    assert result["body"] == b"request 1"
    assert len(server.requests) == 1


# --- transform and consensus -----------------------------------------------------------------------


def test_varying_responses_without_a_transform_reach_no_consensus(server):
    """Spec: "a web service could return slightly different responses for identical idempotent
    requests"; replicas that see different responses reach no consensus, and the IC rejects with
    SYS_TRANSIENT: "No consensus could be reached. Replicas had different responses. Details: ..."
    (rs/https_outcalls/consensus payload_builder)."""
    reject = rejected(OutcallService(nodes=2), request_arg(server.url("/varying")))
    assert reject.code == RejectCode.SYS_TRANSIENT
    assert reject.message.startswith("No consensus could be reached. Replicas had different responses. "
                                     "Details: request_id: ")
    assert reject.message.count(": 1]") == 2  # two different hashes, one node each
    assert len(server.requests) == 2


def test_a_transform_makes_the_responses_agree(server):
    """Spec: "the calling canister can supply a transformation function, which the IC uses to let
    the canister sanitize the responses from such unique values. The transformation function is
    executed separately on the corresponding response received for a request", "along with the
    response to be sanitized" it gets "a byte-encoded context"."""
    calls: list[str] = []

    def transform(method: str, arg: bytes) -> bytes:
        calls.append(method)
        return keep_answer(method, arg)

    service = OutcallService(nodes=3)
    prepared = service.prepare(request_arg(server.url("/answer"), transform="transform_answer", context=b"!"),
                               CALLER, PLENTY)
    assert prepared.transform_method == "transform_answer"
    result = result_of(prepared.run(transform))
    assert result == {"status": 200, "headers": [], "body": b"forty-two!"}
    assert calls == ["transform_answer"] * 3


def test_a_transform_that_keeps_the_varying_part_reaches_no_consensus(server):
    """A transform that does not remove what differs leaves the replicas disagreeing: the same
    no-consensus reject (issue 28's "transform mismatch")."""

    def keep_everything(method: str, arg: bytes) -> bytes:
        (args,) = candid.decode(arg, [TRANSFORM_ARGS])
        return candid.encode([HTTP_REQUEST_RESULT], [args["response"]])

    reject = rejected(OutcallService(), request_arg(server.url("/answer"), transform="t"), keep_everything)
    assert reject.code == RejectCode.SYS_TRANSIENT
    assert reject.message.startswith("No consensus could be reached.")


def test_a_transform_that_traps_rejects_the_call(server):
    """The transform runs as a query of the caller; when it traps, every node gets the same
    reject, which the caller receives (rs/https_outcalls/client: the query's error is the
    response)."""
    trap = Reject(5, "Error from Canister x: Canister called `ic0.trap` with message: 'bad json'", "IC0503")

    def trapping(method: str, arg: bytes) -> bytes:
        raise trap

    reject = rejected(OutcallService(), request_arg(server.url("/answer"), transform="t"), trapping)
    assert (reject.code, reject.message) == (trap.code, trap.message)


def test_the_transformed_response_is_bounded_by_max_response_bytes(server):
    """Spec: "The maximal number of bytes representing the response produced by the `transform`
    function is equal to `max_response_bytes`, if provided"; the IC rejects SYS_FATAL
    "Transformed http response exceeds limit: <limit>" (rs/https_outcalls/client)."""

    def inflate(method: str, arg: bytes) -> bytes:
        return candid.encode([HTTP_REQUEST_RESULT], [{"status": 200, "headers": [], "body": b"y" * 600}])

    reject = rejected(OutcallService(), request_arg(server.url("/big?n=10"), transform="t", max_response_bytes=500),
                      inflate)
    assert (reject.code, reject.message) == (RejectCode.SYS_FATAL, "Transformed http response exceeds limit: 500")


# --- limits on the response ------------------------------------------------------------------------


def test_a_body_over_max_response_bytes_is_rejected(server):
    """Spec: "Each request can specify a maximal size for the response ... An error will be
    returned when the request or response is larger than the maximal size"; the adapter's text is
    "Http body exceeds size limit of <limit> bytes." (SYS_FATAL)."""
    reject = rejected(OutcallService(), request_arg(server.url("/big?n=5000"), max_response_bytes=1000))
    assert (reject.code, reject.message) == (RejectCode.SYS_FATAL, "Http body exceeds size limit of 1000 bytes.")


def test_the_response_size_counts_its_headers(server):
    """Spec: "The size of ... an HTTP response from the remote HTTP server is the total number of
    bytes representing the names and values of HTTP headers and the HTTP body": a body that fits
    alone fails once the headers are counted, and headers alone over the limit get the adapter's
    "Header size exceeds specified response size limit <limit>"."""
    # content-type: text/plain (12 + 10) and content-length: 900 (14 + 3) = 39 bytes of headers.
    assert len(result_of(outcall(OutcallService(), request_arg(server.url("/big?n=900"),
                                                                max_response_bytes=939)))["body"]) == 900
    reject = rejected(OutcallService(), request_arg(server.url("/big?n=900"), max_response_bytes=938))
    assert reject.message == "Http body exceeds size limit of 938 bytes."
    reject = rejected(OutcallService(), request_arg(server.url("/big?n=1"), max_response_bytes=20))
    assert (reject.code, reject.message) == (RejectCode.SYS_FATAL, "Header size exceeds specified response size limit 20")


def test_the_default_response_limit_is_two_million_bytes(server):
    """Spec: "The upper limit on the maximal size for the response is 2MB (2,000,000B) and this
    value also applies if no maximal size value is specified"."""
    assert len(result_of(outcall(OutcallService(nodes=1), request_arg(server.url("/big?n=1999000"))))["body"]) == 1_999_000
    reject = rejected(OutcallService(nodes=1), request_arg(server.url("/big?n=2000000")))
    assert reject.message == "Http body exceeds size limit of 2000000 bytes."


def test_response_headers_are_held_to_the_same_limits(server):
    """Spec: "The following additional limits apply to HTTP requests and HTTP responses from the
    remote sever: the number of headers must not exceed 64"; the client checks the response with
    the request's check and rejects SYS_FATAL with its text."""
    reject = rejected(OutcallService(), request_arg(server.url("/headers?n=70&size=1")))
    assert (reject.code, reject.message) == (RejectCode.SYS_FATAL, "number of all http headers 72 exceeds 64")


def test_a_header_value_that_is_not_ascii_is_refused(server):
    """ic.did's headers are `text`; the adapter reads each value as visible ASCII and otherwise
    rejects SYS_TRANSIENT "Failed to parse headers: ..." (hyper's ToStrError)."""
    reject = rejected(OutcallService(), request_arg(server.url("/latin1")))
    assert (reject.code, reject.message) == (RejectCode.SYS_TRANSIENT,
                                             "Failed to parse headers: failed to convert header to a str")


# --- connections and time ----------------------------------------------------------------------------


def test_a_refused_connection_is_a_transient_reject():
    """A server that is down: the adapter's "Connecting to <host> failed: direct connect ..."
    (rs/https_outcalls/adapter/src/rpc_server.rs, CanisterHttpErrorKind::Connection) with
    SYS_TRANSIENT (rs/https_outcalls/client/src/client.rs maps Connection to SysTransient)."""
    port = free_port()
    reject = rejected(OutcallService(), request_arg(f"http://127.0.0.1:{port}/v1/chat/completions"))
    assert reject.code == RejectCode.SYS_TRANSIENT
    assert reject.message.startswith("Connecting to 127.0.0.1 failed: direct connect tcp connect error: ")
    assert "Connection refused" in reject.message


def test_a_connection_not_opened_in_time_is_a_transient_reject():
    """The adapter gives the TCP connection 2 s (rs/https_outcalls/adapter/src/config.rs
    DEFAULT_HTTP_CONNECT_TIMEOUT_SECS); running out of it is a connection error, SYS_TRANSIENT,
    not "Timeout expired" (adapter/tests/server_test.rs test_connect_timeout: kind Connection,
    hyper's "tcp connect error" over tokio's Elapsed). A listener whose one-slot accept queue is
    full never completes a handshake; the request's own time is longer."""
    with socket.socket() as listener, socket.socket() as queued:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        queued.connect(listener.getsockname())
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/"
        reject = rejected(OutcallService(connect_timeout_s=0.3, timeout_s=30), request_arg(url))
    assert (reject.code, reject.message) == (
        RejectCode.SYS_TRANSIENT, "Connecting to 127.0.0.1 failed: direct connect tcp connect error: deadline has elapsed")


def test_a_slow_server_times_out(server):
    """A server that does not answer in time: "Timeout expired", SYS_FATAL. The adapter's gRPC
    server bounds each request (rs/https_outcalls/adapter/src/lib.rs `Server::builder().timeout`,
    30 s by config.rs DEFAULT_HTTP_REQUEST_TIMEOUT_SECS; shortened here); tonic answers Cancelled
    "Timeout expired" (adapter/tests/server_test.rs test_request_timeout), which
    rs/https_outcalls/client/src/client.rs grpc_status_code_to_reject makes SysFatal (every code
    but Unavailable)."""
    reject = rejected(OutcallService(timeout_s=0.3), request_arg(server.url("/slow?s=3")))
    assert (reject.code, reject.message) == (RejectCode.SYS_FATAL, "Timeout expired")


def test_a_trickling_server_times_out_too(server):
    """The timeout bounds the whole request, not each read: a body that never ends in time is
    "Timeout expired", not a read that waits forever."""
    reject = rejected(OutcallService(timeout_s=0.5), request_arg(server.url("/trickle"), max_response_bytes=10**6))
    assert (reject.code, reject.message) == (RejectCode.SYS_FATAL, "Timeout expired")


def test_https_checks_the_server_certificate(tls_server):
    """Spec: "The IC uses industry-standard root CA lists to validate certificates of remote web
    servers": a certificate from a CA the trust store does not hold is refused, as a connection
    that failed (the TLS handshake is part of the adapter's connect: Connection, SYS_TRANSIENT),
    and the server never sees the request."""
    reject = rejected(OutcallService(), request_arg(tls_server.url("/echo")))
    assert reject.code == RejectCode.SYS_TRANSIENT
    assert reject.message.startswith("Connecting to 127.0.0.1 failed: direct connect ")
    assert "CERTIFICATE_VERIFY_FAILED" in reject.message
    assert tls_server.requests == []


def test_a_certificate_for_another_host_is_refused(misnamed_tls_server, authority):
    """A certificate from a trusted CA that does not name the URL's host is refused like an
    untrusted one: SYS_TRANSIENT, and the server never sees the request."""
    reject = rejected(OutcallService(ca_file=authority.cert_file),
                      request_arg(misnamed_tls_server.url("/echo", host="localhost")))
    assert reject.code == RejectCode.SYS_TRANSIENT
    assert reject.message.startswith("Connecting to localhost failed: direct connect ")
    assert "CERTIFICATE_VERIFY_FAILED" in reject.message and "Hostname mismatch" in reject.message
    assert misnamed_tls_server.requests == []


# --- https:// through a replica and a canister -------------------------------------------------------


@pytest.fixture(scope="module")
def caller_wasm() -> bytes:
    return compile_c([PROBES / "caller.c"], BUILD / "test-canisters" / "caller.wasm").read_bytes()


def canister_outcall(outcalls: OutcallService, caller_wasm: bytes, arg: Callable[[Principal], bytes],
                     cycles: int) -> bytes:
    """caller.c's `call` of `aaaaa-aa.http_request(arg(its id))` with `cycles` attached, in a real
    replica whose outcalls `outcalls` sends: the canister's text line for the response or reject."""
    with Replica(outcalls=outcalls) as replica:
        cid = replica.create_canister(controllers=[CONTROLLER], cycles=10**14)
        replica.install_code(cid, caller_wasm, sender=CONTROLLER)
        request = call_spec(Principal.management(), "http_request", arg(cid), cycles=cycles)
        return replica.update(cid, "call", calls(request))


@pytest.mark.parametrize("method", ["get", "post"])
def test_an_https_outcall_to_a_server_of_a_trusted_ca_is_answered(tls_server, authority, caller_wasm, method):
    """With the CA given to the outcall service (`ca_file`), a canister's `https://` request
    reaches the server with its method, headers and body as sent, from every node; each node's
    response goes through the canister's transform query (caller.c's `transform`: "T:" + its
    Candid argument, the response and the context), and the caller is charged the formula's
    price (cycles-cost-formulas; see test_a_request_is_charged_by_its_size_and_its_response_limit)
    and refunded the rest."""
    url = tls_server.url("/echo?q=1", host="localhost")
    headers = [("Idempotency-Key", "call-7"), ("content-type", "application/json")]
    body = b'{"x": 1}' if method == "post" else None

    def arg(canister: Principal) -> bytes:
        return request_arg(url, method=method, headers=headers, body=body, max_response_bytes=900,
                           transform="transform", context=b"ctx", transform_owner=canister)

    request_bytes = (len(url) + len("transform") + len("ctx") + len(body or b"")
                     + sum(len(n) + len(v) for n, v in headers))
    cost = prices.http_outcall_cycles(request_bytes, 900, 13)
    reply = canister_outcall(OutcallService(nodes=2, ca_file=authority.cert_file), caller_wasm, arg, cost + 5_000)

    assert reply.startswith(b"reply 0 T:") and reply.endswith(b" refund=5000\n"), reply
    (transformed,) = candid.decode(reply[len(b"reply 0 T:"):-len(b" refund=5000\n")], [TRANSFORM_ARGS])
    assert transformed["context"] == b"ctx"
    assert transformed["response"]["status"] == 200
    assert len(tls_server.requests) == 2 and tls_server.requests[0] == tls_server.requests[1]
    sent = tls_server.requests[0]
    assert json.loads(transformed["response"]["body"]) == sent
    assert (sent["method"], sent["path"], sent["body"]) == (method.upper(), "/echo?q=1", (body or b"").decode())
    assert ["idempotency-key", "call-7"] in sent["headers"] and ["content-type", "application/json"] in sent["headers"]


def test_an_https_outcall_to_a_server_of_an_unknown_ca_is_rejected(tls_server, caller_wasm):
    """The same server without its CA given: the canister's reject callback gets the connection
    error (SYS_TRANSIENT, code 2), never an answer, and the attached cycles beyond the price
    come back."""
    url = tls_server.url("/echo", host="localhost")
    cost = prices.http_outcall_cycles(len(url), 900, 13)
    reply = canister_outcall(OutcallService(nodes=2), caller_wasm, lambda _: request_arg(url, max_response_bytes=900),
                             cost + 5_000).decode()
    assert reply.startswith("reject 0 code=2 refund=5000 Connecting to localhost failed: direct connect "), reply
    assert "CERTIFICATE_VERIFY_FAILED" in reply
    assert tls_server.requests == []


def test_plain_http_only_to_loopback():
    """Spec: "For security reasons, only HTTPS connections are allowed (URLs must start with
    `https://`)". Locally `http://` reaches loopback services only (docs/replica.md); any other
    host gets the adapter's "Url need to specify https scheme" (SYS_FATAL) without a connection."""
    for url in ("http://example.com/", "http://10.0.0.1:8080/x", "ftp://127.0.0.1/"):
        reject = rejected(OutcallService(), request_arg(url))
        assert (reject.code, reject.message) == (RejectCode.SYS_FATAL, "Url need to specify https scheme")


# --- checks before the request goes out ------------------------------------------------------------


@pytest.mark.parametrize(("fields", "message"), [
    ({"url": "https://a.example/" + "u" * 8175}, "url size 8193 exceeds 8192"),
    ({"headers": [(f"h{i}", "v") for i in range(65)]}, "number of all http headers 65 exceeds 64"),
    ({"headers": [("n" * 8193, "v")]}, "number of bytes to represent some http header name 8193 exceeds 8192"),
    ({"headers": [("n", "v" * 8193)]}, "number of bytes to represent some http header value 8193 exceeds 8192"),
    ({"headers": [(f"h{i}", "v" * 8190) for i in range(7)]},
     "total number of bytes to represent all http header names and values 57344 exceeds 49152"),
    ({"body": b"b" * 2_000_001},
     "total number of bytes to represent all http header names and values and http body 2000001 exceeds 2000000"),
    ({"max_response_bytes": 2_000_001}, "max_response_bytes expected to be in the range [0..2000000], got 2000001"),
    ({"transform": "t", "transform_owner": Principal.from_canister_index(8)},
     f"transform principal id expected to be {CALLER}, got {Principal.from_canister_index(8)}"),
])
def test_requests_over_the_limits_are_refused(fields, message):
    """Spec: the URL's "length must not exceed 8192"; "the number of headers must not exceed 64,
    the number of bytes representing a header name or value must not exceed 8KiB, and the total
    number of bytes representing the header names and values must not exceed 48KiB"; "The
    maximal size for the request from the canister is 2MB (2,000,000B)"; `max_response_bytes`
    "must not exceed 2MB"; the transform: "the calling canister itself must export this function".
    Refused as CANISTER_REJECT (IC0406) with rs/types' texts, before any cycle is taken."""
    args = {"url": "https://a.example/", **fields}
    url = args.pop("url")
    with pytest.raises(Reject) as info:
        OutcallService().prepare(request_arg(url, **args), CALLER, PLENTY)
    assert (info.value.code, info.value.error_code, info.value.message) == (RejectCode.CANISTER_REJECT, "IC0406", message)


def test_a_malformed_argument_is_refused():
    """An argument that is not ic.did's `http_request_args`: the management canister's
    "Error decoding candid: ..." (IC0408), as for its other methods."""
    with pytest.raises(Reject) as info:
        OutcallService().prepare(candid.encode([candid.Text], ["not a record"]), CALLER, PLENTY)
    assert info.value.error_code == "IC0408"
    assert info.value.message.startswith("Error decoding candid: ")


# --- the price ---------------------------------------------------------------------------------------


def test_the_cost_formula_gives_the_published_figures():
    """cycles-cost-formulas: "base_fee = (3_000_000 + 60_000 * n) * n", "size_fee = (400 *
    request_bytes + 800 * max_response_bytes) * n"; its table: HTTPS outcall per call 49_140_000
    (13 nodes) and 171_360_000 (34 nodes), per request byte 5_200 and 13_600, per reserved
    response byte 10_400 and 27_200."""
    for n, per_call, per_request_byte, per_response_byte in ((13, 49_140_000, 5_200, 10_400),
                                                             (34, 171_360_000, 13_600, 27_200)):
        assert prices.http_outcall_cycles(0, 0, n) == per_call
        assert prices.http_outcall_cycles(1, 0, n) - per_call == per_request_byte
        assert prices.http_outcall_cycles(0, 1, n) - per_call == per_response_byte


def test_a_request_is_charged_by_its_size_and_its_response_limit():
    """cycles-cost-formulas: "request_size = url.len + transform.name.len + transform.context.len
    + body.len + header_len", "`max_response_bytes` is either set by the canister or defaults to
    `2M`"; spec: "The call will be charged based on this parameter"."""
    url = "https://api.example/v1/chat/completions"  # 39 bytes
    arg = request_arg(url, method="post", headers=[("authorization", "Bearer k")], body=b"{}",
                      transform="transform_chat", context=b"ctx", max_response_bytes=4096)
    request_bytes = len(url) + len("transform_chat") + len("ctx") + len(b"{}") + len("authorization") + len("Bearer k")
    cost = OutcallService().prepare(arg, CALLER, PLENTY).cost
    assert cost == 49_140_000 + 5_200 * request_bytes + 10_400 * 4096
    default = OutcallService().prepare(request_arg(url), CALLER, PLENTY).cost
    assert default == 49_140_000 + 5_200 * len(url) + 10_400 * 2_000_000


def test_too_few_cycles_are_refused_naming_both_amounts():
    """Spec: "Cycles to pay for the call must be explicitly transferred with the call"; with too
    few the IC answers CANISTER_REJECT "http_request request sent with <sent> cycles, but
    <required> cycles are required." (rs/execution_environment)."""
    arg = request_arg("https://a.example/", max_response_bytes=100)
    cost = OutcallService().prepare(arg, CALLER, PLENTY).cost
    assert OutcallService().prepare(arg, CALLER, cost).cost == cost
    with pytest.raises(Reject) as info:
        OutcallService().prepare(arg, CALLER, cost - 1)
    assert info.value.code == RejectCode.CANISTER_REJECT
    assert info.value.message == f"http_request request sent with {cost - 1} cycles, but {cost} cycles are required."
