"""Certification v1 details from the spec: the certified hash is that of the *decoded* body
(gzip, deflate), the body as sent is accepted too, and a body that does not decode is refused."""

from __future__ import annotations

import base64
import gzip
import hashlib
import http.client
import json
import struct
import subprocess
import zlib

import pytest

from icchat.ic import candid
from icchat.ic.hashtree import from_dict, to_cbor
from icchat.paths import REPO
from icchat.replica.http.gateway_types import HTTP_REQUEST, HTTP_RESPONSE

PLACEHOLDER = "@@IC-CERTIFICATE@@"
TEXT = b"<!doctype html>" + b"<p>compressible page</p>" * 500


def serve(replica, cid, body: bytes, encoding: str, certified: bytes, path: str = "/index.html") -> None:
    tree = from_dict({"http_assets": {path: hashlib.sha256(certified).digest()}})
    reply = candid.encode([HTTP_RESPONSE], [{"status_code": 200, "body": body, "streaming_strategy": None, "upgrade": None,
                                              "headers": [("Content-Encoding", encoding), ("IC-Certificate", PLACEHOLDER)]}])
    prefix, suffix = reply.split(bytes([len(PLACEHOLDER)]) + PLACEHOLDER.encode())
    tree_b64 = base64.b64encode(to_cbor(tree))
    replica.update(cid, "set_response", bytes([0]) + tree.digest() + struct.pack("<I", len(prefix)) + prefix
                   + struct.pack("<I", len(tree_b64)) + tree_b64 + suffix)


def get(http_replica, cid, accept: str, path: str = "/index.html") -> tuple[int, str | None, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", http_replica.port, timeout=30)
    try:
        connection.request("GET", path, headers={"Host": f"{cid}.localhost", "Accept-Encoding": accept})
        response = connection.getresponse()
        return response.status, response.getheader("content-encoding"), response.read()
    finally:
        connection.close()


def raw_deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    return packer.compress(data) + packer.flush()


@pytest.mark.parametrize("encoding, pack", [("gzip", gzip.compress), ("deflate", raw_deflate)])
def test_the_hash_of_the_decoded_body_certifies_an_encoded_one(http_replica, site, encoding, pack):
    packed = pack(TEXT)
    serve(http_replica.replica, site, packed, encoding, certified=TEXT)
    assert get(http_replica, site, f"{encoding}, identity") == (200, encoding, packed)
    assert get(http_replica, site, "identity") == (200, None, TEXT)  # decoded for this client
    serve(http_replica.replica, site, packed, encoding, certified=packed)  # the body as sent: accepted too
    assert get(http_replica, site, encoding)[0] == 200
    serve(http_replica.replica, site, packed, encoding, certified=TEXT + b"!")
    status, _, data = get(http_replica, site, encoding)
    assert status == 503 and b"SHA-256 does not match" in data


def test_a_body_that_does_not_decode_is_refused(http_replica, site):
    broken = gzip.compress(TEXT)[:-20]
    serve(http_replica.replica, site, broken, "gzip", certified=broken)
    status, _, data = get(http_replica, site, "gzip")
    assert status == 503 and b"cannot be decoded per its Content-Encoding" in data


def test_an_unlisted_path_falls_back_to_index_html(http_replica, site):
    serve(http_replica.replica, site, TEXT, "identity", certified=TEXT, path="/index.html")
    assert get(http_replica, site, "identity", path="/deep/link/of/a/single-page-app")[0::2] == (200, TEXT)
    serve(http_replica.replica, site, TEXT, "identity", certified=TEXT, path="/other.html")
    status, _, data = get(http_replica, site, "identity", path="/deep/link")
    assert status == 503 and b"no entry for /deep/link" in data


def test_the_official_verifier_agrees_on_encoded_bodies(http_replica, site):
    """Same verdicts from @dfinity/response-verification (tests/js/verify_response.mjs)."""
    replica, broken = http_replica.replica, gzip.compress(TEXT)[:-20]
    cases = [(gzip.compress(TEXT), "gzip", TEXT, True), (raw_deflate(TEXT), "deflate", TEXT, True),
             (gzip.compress(TEXT), "gzip", gzip.compress(TEXT), True), (broken, "gzip", broken, False),
             (gzip.compress(TEXT), "gzip", TEXT[1:], False)]
    oracle_input, gateway = [], []
    for body, encoding, certified, _ in cases:
        serve(replica, site, body, encoding, certified)
        gateway.append(get(http_replica, site, encoding)[0])
        request = {"url": "/index.html", "method": "GET", "headers": [], "body": b"", "certificate_version": 1}
        answer = candid.decode(replica.query(site, "http_request", candid.encode([HTTP_REQUEST], [request])), [HTTP_RESPONSE])[0]
        oracle_input.append({"request": {"url": "/index.html", "method": "GET", "headers": []},
                             "response": {"status_code": 200, "headers": answer["headers"], "body_hex": answer["body"].hex()},
                             "canister_id_hex": site.raw.hex(), "now_ns": replica.time_ns(), "root_key_hex": replica.root_key_der().hex()})
    process = subprocess.run(["node", str(REPO / "tests" / "js" / "verify_response.mjs")], input=json.dumps(oracle_input),
                             capture_output=True, text=True, timeout=120, cwd=REPO)
    assert process.returncode == 0, process.stderr
    official = [verdict["ok"] for verdict in json.loads(process.stdout)]
    assert official == [expected for *_, expected in cases]
    assert gateway == [200 if expected else 503 for *_, expected in cases]
