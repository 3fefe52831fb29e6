"""Hostile bytes on the replica's one port (IC HTTP interface and gateway), over raw sockets:
malformed request lines, huge headers, bad Content-Length and chunked framing, partial requests,
non-UTF-8 paths, bad Host headers and bad CBOR to /api/v2|v3. Every answer is a clear 4xx (or
the connection closed), never a 5xx or a traceback, never a hang; the server keeps serving the
page afterwards, byte for byte."""

from __future__ import annotations

import socket
import time

import cbor2
import pytest
from hostile_site import PAGE
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from raw_http import Answer, exchange, read_answer, request_bytes

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))


def assert_refused(answer: Answer) -> None:
    """A clear client error or a closed connection; never a server fault or a traceback."""
    if answer.status is None:
        return
    # 501 (unknown method) and 505 (unknown HTTP version) are the 5xx that name the client's mistake
    assert 400 <= answer.status < 500 or answer.status in (501, 505), (answer.status, answer.body[:300])
    assert b"Traceback" not in answer.body and b'File "' not in answer.body, answer.body[:300]
    if answer.body:
        assert answer.body.strip(), "a refusal says why"


def assert_still_serving(target) -> None:
    answer = exchange(target.port, request_bytes("GET", "/index.html", target.host))
    assert (answer.status, answer.body) == (200, PAGE)


MALFORMED_STARTS = [
    b"\r\n\r\n",
    b"GET\r\n\r\n",
    b"GET /\r\n\r\n",  # HTTP/0.9
    b"GET / HTTP/9.9\r\n\r\n",
    b"GET / HTTP/1.1 extra\r\n\r\n",
    b"G\x00T / HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET / HTTP/1.1\r\nno colon here\r\n\r\n",
    b"GET / HTTP/1.1\r\n: empty name\r\n\r\n",
    b"GET / HTTP/1.1\r\n folded: header\r\n\r\n",
    b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",  # the HTTP/2 preface
    b"GET " + b"/a" * 40_000 + b" HTTP/1.1\r\n\r\n",  # an 80 kB request line
    b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"v" * 70_000 + b"\r\n\r\n",  # one 70 kB header
    b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(150)) + b"\r\n",  # 150 headers
]


@pytest.mark.parametrize("data", MALFORMED_STARTS, ids=range(len(MALFORMED_STARTS)))
def test_malformed_requests_are_refused(target, data):
    assert_refused(exchange(target.port, data))
    assert_still_serving(target)


def test_tls_on_the_plain_port_is_refused_once_the_client_stops_sending(target):
    # A ClientHello has no line end: the server waits (up to its idle timeout) like for any
    # unfinished request line, and refuses it as soon as the client half-closes.
    with socket.create_connection(("127.0.0.1", target.port), timeout=20) as sock:
        sock.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40)
        sock.shutdown(socket.SHUT_WR)
        assert_refused(read_answer(sock))
    assert_still_serving(target)


@pytest.mark.parametrize("path", ["/index.html", "/api/v2/status"])
def test_megabytes_of_headers_within_the_line_limits_are_answered(target, path):
    # 99 headers of 60 kB each: under the per-line and count limits, 6 MB in all; the gateway
    # hands them all to the canister's http_request.
    headers = [(f"X-Huge-{i}", "h" * 60_000) for i in range(98)]
    answer = exchange(target.port, request_bytes("GET", path, target.host, headers))
    assert answer.status == 200, (answer.status, answer.body[:300])
    if path == "/index.html":
        assert answer.body == PAGE
    assert_still_serving(target)


def test_many_headers_within_the_limits_still_serve_the_page(target):
    headers = [(f"X-Filler-{i}", "y" * 200) for i in range(90)]
    answer = exchange(target.port, request_bytes("GET", "/index.html", target.host, headers))
    assert (answer.status, answer.body) == (200, PAGE)


BAD_FRAMING = [
    [("Content-Length", "abc")],
    [("Content-Length", "-1")],
    [("Content-Length", "+5")],
    [("Content-Length", "5_0")],
    [("Content-Length", "0x10")],
    [("Content-Length", "1e3")],
    [("Content-Length", " ")],
    [("Content-Length", "99999999999999999999999999")],
    [("Content-Length", "4"), ("Content-Length", "9")],
    [("Transfer-Encoding", "chunked")],
    [("Transfer-Encoding", "gzip, chunked")],
    [("Transfer-Encoding", "chunked"), ("Content-Length", "4")],
    [("Transfer-Encoding", "identity")],
    [("Transfer-Encoding", " chunked")],
]


@pytest.mark.parametrize("headers", BAD_FRAMING, ids=lambda h: "+".join(f"{k}={v}" for k, v in h)[:40])
@pytest.mark.parametrize("path", ["/index.html", "/api/v2/canister/aaaaa-aa/query"])
def test_bad_body_framing_is_refused_and_never_smuggles_a_second_request(target, headers, path):
    # The body is itself a complete request: a server that misreads the framing would answer it.
    smuggled = request_bytes("GET", "/secret.txt", target.host)
    body = b"%x\r\n" % len(smuggled) + smuggled + b"\r\n0\r\n\r\n"
    data = request_bytes("POST", path, target.host, headers) + body
    with socket.create_connection(("127.0.0.1", target.port), timeout=20) as sock:
        sock.sendall(data)
        first = read_answer(sock, "POST")
        assert_refused(first)
        assert first.status is None or first.headers.get("connection") == "close", first.headers
        sock.settimeout(3)
        try:
            rest = sock.recv(65536)
        except (TimeoutError, ConnectionResetError):
            rest = b""
        assert b"secret asset bytes" not in rest and b"HTTP/1.1 200" not in rest, rest[:200]
    assert_still_serving(target)


def test_a_body_shorter_than_its_length_only_costs_its_own_connection(target):
    with socket.create_connection(("127.0.0.1", target.port), timeout=20) as stalled:
        stalled.sendall(request_bytes("POST", "/api/v2/canister/aaaaa-aa/query", target.host,
                                      [("Content-Length", "1000")]) + b"\xa0" * 10)
        assert_still_serving(target)  # while that connection waits for the rest
        stalled.shutdown(socket.SHUT_WR)  # the client gives up: the server sees the body end early
        assert_refused(read_answer(stalled, "POST"))
    assert_still_serving(target)


def test_partial_requests_from_many_slow_clients_do_not_block_the_others(target):
    """Slowloris, bounded: 60 connections each dribbling an unfinished request."""
    slow = []
    try:
        for i in range(60):
            sock = socket.create_connection(("127.0.0.1", target.port), timeout=10)
            sock.sendall(b"GET /index.html HTTP/1.1\r\nHost: " if i % 2 else b"POST /api/v2/status HTT")
            slow.append(sock)
        for _round in range(3):
            for sock in slow:
                sock.sendall(b"X")  # a byte now and then keeps each one alive
            started = time.monotonic()
            assert_still_serving(target)
            assert time.monotonic() - started < 10, "a normal request waited behind the slow ones"
    finally:
        for sock in slow:
            sock.close()
    assert_still_serving(target)


NON_UTF8_TARGETS = [b"/\xff\xfe", b"/%ff%fe", b"/index.html%00", b"/\x80index.html", b"/%c0%ae%c0%ae/secret.txt",
                    b"/\xc3\x28", b"/%ed%a0%80", b"/?canisterId=\xff"]


@pytest.mark.parametrize("path", NON_UTF8_TARGETS, ids=range(len(NON_UTF8_TARGETS)))
def test_non_utf8_paths_get_a_clear_answer(target, path):
    answer = exchange(target.port, b"GET " + path + b" HTTP/1.1\r\nHost: " + target.host.encode() + b"\r\n\r\n")
    assert answer.status is not None and answer.status < 500, (answer.status, answer.body[:300])
    assert answer.body != b"" and b"Traceback" not in answer.body
    assert b"secret asset bytes" not in answer.body
    assert_still_serving(target)


BAD_HOSTS = ["", "evil.example", "localhost", "aaaaa-aa.localhost", "not-a-principal.localhost",
             "xx.raw.raw.localhost", "[::1", "[::1]:x", "a" * 5000 + ".localhost", ".localhost", "..localhost",
             "\u00e9.localhost", "%41.localhost", "UPPER-CASE.LOCALHOST"]


@pytest.mark.parametrize("host", BAD_HOSTS, ids=range(len(BAD_HOSTS)))
def test_bad_host_headers_are_refused(target, host):
    data = f"GET /index.html HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    answer = exchange(target.port, data)
    assert_refused(answer)
    assert answer.body != PAGE
    assert_still_serving(target)


def test_two_host_headers_cannot_pick_a_canister_behind_the_first(target):
    data = (f"GET /index.html HTTP/1.1\r\nHost: evil.example\r\nHost: {target.host}\r\n\r\n").encode()
    assert_refused(exchange(target.port, data))


API_PATHS = ["/api/v2/canister/{c}/query", "/api/v3/canister/{c}/query", "/api/v2/canister/{c}/call",
             "/api/v3/canister/{c}/call", "/api/v4/canister/{c}/call", "/api/v2/canister/{c}/read_state",
             "/api/v3/canister/{c}/read_state"]
BAD_CBOR = [b"", b"\xff", b"\xd9\xd9\xf7", b"\x9f" * 10_000, b"\x81" * 100_000,  # deep nesting
            b"\xbf\x61a\x61b", b"\x5b\xff\xff\xff\xff\xff\xff\xff\xff", b"\x7a\xff\xff\xff\xff",  # huge lengths
            cbor2.dumps({"content": "not a map"}), cbor2.dumps({"content": {"request_type": 7}}),
            cbor2.dumps(cbor2.CBORTag(55799, {"content": {"request_type": "query", "sender": b"\x01" * 29,  # unsigned
                                                         "canister_id": b"", "method_name": "x", "arg": b"",
                                                         "ingress_expiry": 2**70}})),
            cbor2.dumps([1, 2, 3]), cbor2.dumps(1.5), cbor2.dumps(cbor2.CBORTag(12345, b"x"))]


@pytest.mark.parametrize("body", BAD_CBOR, ids=range(len(BAD_CBOR)))
@pytest.mark.parametrize("path", API_PATHS)
def test_bad_cbor_bodies_are_400(target, path, body):
    answer = exchange(target.port, request_bytes("POST", path.format(c=target.assets.id), target.host,
                                                 [("Content-Type", "application/cbor"), ("Content-Length", str(len(body)))], body))
    assert_refused(answer)
    assert answer.status is not None


@FUZZ
@given(method=st.sampled_from(["GET", "POST", "HEAD", "PUT", "OPTIONS", "BREW", "get"]),
       path=st.binary(min_size=1, max_size=200).map(lambda b: b"/" + b.replace(b" ", b"%20").replace(b"\r", b"").replace(b"\n", b"")),
       headers=st.lists(st.tuples(st.binary(min_size=1, max_size=30), st.binary(max_size=200)), max_size=12),
       api=st.booleans())
def test_random_requests_never_get_a_server_error(target, method, path, headers, api):
    if api:
        path = b"/api/v" + path
    lines = [method.encode() + b" " + path + b" HTTP/1.1", b"Host: " + target.host.encode()]
    for name, value in headers:
        lines.append(name.replace(b"\r", b"").replace(b"\n", b"") + b": " + value.replace(b"\r", b"").replace(b"\n", b""))
    answer = exchange(target.port, b"\r\n".join(lines) + b"\r\n\r\n", method=method if method == "HEAD" else "GET")
    assert answer.status is None or answer.status < 500 or answer.status in (501, 505), (answer.status, answer.body[:300])
    assert b"Traceback" not in answer.body


def test_the_server_still_serves_everything_after_the_fuzzing(target):
    assert_still_serving(target)
    status = exchange(target.port, request_bytes("GET", "/api/v2/status", target.host))
    assert status.status == 200 and cbor2.loads(status.body)["replica_health_status"] == "healthy"
