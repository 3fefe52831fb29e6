"""The HTTP server under the API and the gateway: streaming, keep-alive, HEAD, concurrency, slow
clients, and handler failures that never take it down. The non-`/api/` handler here is a test
handler plugged into the server's gateway seam; `/api/...` is the real API."""

from __future__ import annotations

import http.client
import socket
import threading

import pytest

from icchat.replica import Replica
from icchat.replica.http import HttpServer
from icchat.replica.http.messages import HttpIn, HttpOut

BIG_CHUNK = b"x" * (1 << 20)


class Pages:
    """Test pages: `/chunked`, `/sized`, `/boom`, `/boom-midway`, `/big`, `/together`, `/echo`."""

    def __init__(self) -> None:
        self.together = threading.Barrier(4, timeout=30)

    def __call__(self, replica: object, request: HttpIn) -> HttpOut:
        path = request.target.split("?", 1)[0]
        if path == "/chunked":
            return HttpOut(200, [("content-type", "text/plain")], (part.encode() for part in ["one ", "two ", "three"]))
        if path == "/sized":
            return HttpOut(200, [("content-length", "11")], [b"hello ", b"world"])
        if path == "/boom":
            raise RuntimeError("the handler broke")
        if path == "/boom-midway":
            def body():
                yield b"first part, "
                raise RuntimeError("the body broke")
            return HttpOut(200, [("content-length", "100")], body())
        if path == "/big":
            return HttpOut(200, [("content-length", str(64 * len(BIG_CHUNK)))], (BIG_CHUNK for _ in range(64)))
        if path == "/together":
            self.together.wait()  # returns only once four requests are in here at the same time
            return HttpOut.text(200, "met")
        return HttpOut.text(200, f"{request.method} {request.target} host={request.host} body={len(request.body)}")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with Replica(tmp_path_factory.mktemp("server")) as replica, HttpServer(replica, port=0, gateway=Pages()) as server:
        yield server


def get(server, path: str, method: str = "GET", body: bytes | None = None, headers: dict | None = None):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    connection.request(method, path, body=body, headers=headers or {})
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response, data


def raw_exchange(server, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data


def test_unknown_length_bodies_are_sent_chunked(server):
    raw = raw_exchange(server, b"GET /chunked HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    head, _, body = raw.partition(b"\r\n\r\n")
    assert b"transfer-encoding: chunked" in head.lower()
    assert body == b"4\r\none \r\n4\r\ntwo \r\n5\r\nthree\r\n0\r\n\r\n"


def test_known_length_bodies_stream_as_given_and_requests_reach_the_handler(server):
    response, data = get(server, "/sized")
    assert (response.status, response.getheader("content-length"), data) == (200, "11", b"hello world")
    response, data = get(server, "/echo?x=1", "POST", b"12345", {"Host": "abc.localhost:4943"})
    assert data == b"POST /echo?x=1 host=abc.localhost body=5"


def test_keep_alive_and_head_without_a_body(server):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    connection.request("GET", "/sized")
    assert connection.getresponse().read() == b"hello world"
    sock = connection.sock
    connection.request("HEAD", "/sized")
    head = connection.getresponse()
    assert head.getheader("content-length") == "11" and head.read() == b""
    connection.request("HEAD", "/api/v2/status")
    assert connection.getresponse().read() == b""
    connection.request("GET", "/chunked")  # no stray body bytes from the HEADs on the connection
    assert connection.getresponse().read() == b"one two three"
    assert connection.sock is sock  # one connection throughout
    connection.close()


def test_a_failing_handler_is_a_500_and_the_server_keeps_serving(server):
    response, data = get(server, "/boom")
    assert response.status == 500 and data == b"internal error of the local replica: RuntimeError: the handler broke"
    # A body that fails after the status line went out: the connection is cut short.
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    connection.request("GET", "/boom-midway")
    response = connection.getresponse()
    with pytest.raises(http.client.IncompleteRead):
        response.read()
    connection.close()
    assert get(server, "/sized")[1] == b"hello world"


def test_requests_are_served_concurrently(server):
    results: list[bytes] = []

    def fetch():
        results.append(get(server, "/together")[1])

    threads = [threading.Thread(target=fetch) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert results == [b"met"] * 4


def test_slow_clients_never_block_the_others(server):
    # One client stalls halfway through its request headers, another never reads a 64 MB body.
    stalled = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    stalled.sendall(b"GET /sized HTTP/1.1\r\nHost: x\r\n")
    not_reading = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    not_reading.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    not_reading.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
    try:
        for _ in range(5):
            assert get(server, "/sized")[1] == b"hello world"
            assert get(server, "/api/v2/status")[0].status == 200
    finally:
        stalled.close()
        not_reading.close()
    assert get(server, "/sized")[1] == b"hello world"


def test_request_bodies_need_a_valid_length(server):
    raw = raw_exchange(server, b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 411 ")
    raw = raw_exchange(server, b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: many\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 400 ") and raw.endswith(b"invalid Content-Length")


def test_browsers_may_call_the_api_cross_origin(server):
    response, _ = get(server, "/api/v3/canister/aaaaa-aa/query", "OPTIONS", headers={"Origin": "http://x.localhost"})
    assert response.status == 204 and response.getheader("access-control-allow-origin") == "*"
    response, _ = get(server, "/api/v2/status")
    assert response.getheader("access-control-allow-origin") == "*"


def test_by_default_pages_go_to_the_installed_gateway_and_unknown_api_paths_are_404(tmp_path):
    from icchat.replica.http.server import installed_gateway

    with Replica(tmp_path) as replica, HttpServer(replica, port=0) as server:
        assert server.gateway is installed_gateway
        response, data = get(server, "/api/v2/nothing")
        assert response.status == 404 and data == b"no such endpoint: /api/v2/nothing"
