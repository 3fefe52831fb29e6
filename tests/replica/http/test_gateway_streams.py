"""Long streamed bodies through the gateway: verified on the way, never held whole, cut when
the certified hash does not match; streaming callbacks of other canisters refused; streamed
gzip decoded for clients that do not accept it."""

from __future__ import annotations

import base64
import gc
import gzip
import hashlib
import http.client
import random
import struct
import tracemalloc

import pytest
from echo_site import CHUNK, STREAMED_RESPONSE

from icchat.ic import candid
from icchat.ic.hashtree import from_dict, to_cbor
from icchat.replica.http.gateway import handle
from icchat.replica.http.gateway_body import READ_AHEAD_BYTES
from icchat.replica.http.messages import HttpIn

PLACEHOLDER = "@@IC-CERTIFICATE@@"
MIB = 1024 * 1024


def set_response(replica, cid, *, body: bytes, strategy, certified_hash: bytes | None, path="/big.bin", headers=()) -> None:
    """The canister's answer; with `certified_hash`, a v1 certificate for `path` (the canister
    splices its data certificate into the IC-Certificate header)."""
    headers = list(headers)
    tree_b64, root = b"", b"\0" * 32
    if certified_hash is not None:
        tree = from_dict({"http_assets": {path: certified_hash}})
        tree_b64, root = base64.b64encode(to_cbor(tree)), tree.digest()
        headers.append(("IC-Certificate", PLACEHOLDER))
    reply = candid.encode([STREAMED_RESPONSE], [{"status_code": 200, "headers": headers, "body": body,
                                         "streaming_strategy": strategy, "upgrade": None}])
    prefix, suffix = reply.split(bytes([len(PLACEHOLDER)]) + PLACEHOLDER.encode()) if certified_hash else (reply, b"")
    replica.update(cid, "set_response", bytes([0]) + root + struct.pack("<I", len(prefix)) + prefix
                   + struct.pack("<I", len(tree_b64)) + tree_b64 + suffix)


def serve_repeated(replica, cid, chunk: bytes, count: int, *, certified_hash: bytes | None, callback_canister=None) -> None:
    """A body of `count` copies of `chunk`: one in the response, the rest from http_stream_repeat."""
    replica.update(cid, "set_repeat", chunk)
    strategy = {"Callback": {"callback": candid.FuncRef(callback_canister or cid, "http_stream_repeat"), "token": count - 1}}
    set_response(replica, cid, body=chunk, strategy=strategy, certified_hash=certified_hash)


def repeated_sha(chunk: bytes, count: int) -> bytes:
    digest = hashlib.sha256()
    for _ in range(count):
        digest.update(chunk)
    return digest.digest()


def request(http_replica, host: str, path: str = "/big.bin", method: str = "GET", headers=None):
    connection = http.client.HTTPConnection("127.0.0.1", http_replica.port, timeout=60)
    connection.request(method, path, headers={"Host": f"{host}:{http_replica.port}", **(headers or {})})
    return connection, connection.getresponse()


@pytest.fixture(scope="module")
def chunk() -> bytes:
    return random.Random(7).randbytes(MIB)


def test_a_long_certified_stream_is_sent_while_it_is_verified(http_replica, site, chunk):
    count = READ_AHEAD_BYTES // MIB + 4  # longer than the read-ahead: streamed, not buffered
    serve_repeated(http_replica.replica, site, chunk, count, certified_hash=repeated_sha(chunk, count))
    connection, response = request(http_replica, f"{site}.localhost")
    digest, size = hashlib.sha256(), 0
    while piece := response.read(256 * 1024):
        digest.update(piece)
        size += len(piece)
    connection.close()
    assert response.status == 200
    assert response.getheader("transfer-encoding") == "chunked" and response.getheader("content-length") is None
    assert (size, digest.digest()) == (count * MIB, repeated_sha(chunk, count))
    # Range cannot be served from a body not yet verified: the whole body (RFC 9110 allows it).
    connection, response = request(http_replica, f"{site}.localhost", headers={"Range": "bytes=0-9"})
    assert response.status == 200 and response.getheader("content-range") is None
    assert len(response.read()) == count * MIB
    connection.close()
    connection, response = request(http_replica, f"{site}.localhost", method="HEAD")
    assert (response.status, response.read()) == (200, b"")
    connection.close()


def test_a_tampered_long_stream_is_cut_before_its_last_chunk(http_replica, site, chunk):
    count = READ_AHEAD_BYTES // MIB + 4
    other = repeated_sha(chunk[:-1] + bytes([chunk[-1] ^ 1]), count)  # certifies a body differing in one bit
    serve_repeated(http_replica.replica, site, chunk, count, certified_hash=other)
    connection, response = request(http_replica, f"{site}.localhost")
    assert response.status == 200  # the headers left before the body could be checked
    with pytest.raises(http.client.IncompleteRead) as cut:
        response.read()
    connection.close()
    assert len(cut.value.partial) <= (count - 1) * MIB  # the last chunk never left the gateway
    assert cut.value.partial == chunk * (len(cut.value.partial) // MIB)
    # The same bytes on the raw domain arrive whole, and the server keeps serving.
    connection, response = request(http_replica, f"{site}.raw.localhost")
    assert response.status == 200 and len(response.read()) == count * MIB
    connection.close()


def test_the_gateway_never_holds_a_long_body_whole(http_replica, site, chunk):
    def peak_memory(count: int) -> int:
        serve_repeated(http_replica.replica, site, chunk, count, certified_hash=repeated_sha(chunk, count))
        gc.collect()
        tracemalloc.start()
        try:
            out = handle(http_replica.replica, HttpIn("GET", "/big.bin", f"{site}.localhost", [], b""))
            size = sum(len(piece) for piece in out.body)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert (out.status, size) == (200, count * MIB)
        return peak

    short, long = peak_memory(16), peak_memory(80)
    # 64 MiB more body, at most a few MiB more peak (it varies by a few MiB from run to run):
    # the peak is the read-ahead and a chunk or two in flight, not the body.
    assert long < short + 16 * MIB, f"peak {short / MIB:.1f} MiB for 16 MiB, {long / MIB:.1f} MiB for 80 MiB"


def test_a_streaming_callback_of_another_canister_is_refused(http_replica, site, chunk):
    other = http_replica.replica.create_canister()
    serve_repeated(http_replica.replica, site, chunk[:1000], 3, certified_hash=None, callback_canister=other)
    connection, response = request(http_replica, f"{site}.raw.localhost")
    assert response.status == 502 and b"streaming callback of another canister" in response.read()
    connection.close()


def test_a_streamed_gzip_body_is_decoded_for_clients_that_do_not_accept_gzip(http_replica, site):
    text = b"".join(b"line %d of a streamed page\n" % i for i in range(20_000))
    packed = gzip.compress(text)
    parts = [packed[i : i + len(packed) // 3 + 1] for i in range(0, len(packed), len(packed) // 3 + 1)]
    replica = http_replica.replica
    strategy = {"Callback": {"callback": candid.FuncRef(site, "http_stream"), "token": 1}}
    set_response(replica, site, body=parts[0], strategy=strategy, certified_hash=None, headers=[("Content-Encoding", "gzip")])
    for index in range(1, len(parts)):
        token = index + 1 if index + 1 < len(parts) else None
        replica.update(site, "set_chunk", struct.pack("<I", index) + candid.encode([CHUNK], [{"body": parts[index], "token": token}]))
    connection, response = request(http_replica, f"{site}.raw.localhost", headers={"Accept-Encoding": "identity"})
    assert (response.status, response.getheader("content-encoding"), response.read()) == (200, None, text)
    connection.close()
    connection, response = request(http_replica, f"{site}.raw.localhost", headers={"Accept-Encoding": "gzip, br"})
    assert (response.status, response.getheader("content-encoding"), response.read()) == (200, "gzip", packed)
    connection.close()
