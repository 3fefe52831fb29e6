"""Canisters that cannot or may not be served: clear error pages, and the gateway keeps serving."""

from __future__ import annotations

import base64
import hashlib
import http.client
import struct

import pytest
from echo_site import http_echo_wasm
from support.gateway import gateway_get

from icchat.ic import candid
from icchat.ic.hashtree import from_dict, to_cbor
from icchat.ic.principal import Principal
from icchat.replica.http.gateway_types import HTTP_RESPONSE
from icchat.replica.management import METHODS

PLACEHOLDER = "@@IC-CERTIFICATE@@"


@pytest.fixture
def site(http_replica):
    cid = http_replica.replica.create_canister()
    http_replica.replica.install_code(cid, http_echo_wasm())
    return cid


def answer(replica, cid, *, status: int = 200, headers=(), body: bytes = b"page", certify: bool = True, root: bytes | None = None) -> None:
    """The canister's next answer, certified (v1, http_assets//index.html) unless `certify` is
    False; `root` overrides the certified data the canister sets."""
    headers = list(headers)
    tree_b64, digest = b"", b"\0" * 32
    if certify:
        tree = from_dict({"http_assets": {"/index.html": hashlib.sha256(body).digest()}})
        tree_b64, digest = base64.b64encode(to_cbor(tree)), tree.digest()
        headers.append(("IC-Certificate", PLACEHOLDER))
    reply = candid.encode([HTTP_RESPONSE], [{"status_code": status, "headers": headers, "body": body,
                                              "streaming_strategy": None, "upgrade": None}])
    prefix, suffix = reply.split(bytes([len(PLACEHOLDER)]) + PLACEHOLDER.encode()) if certify else (reply, b"")
    store(replica, cid, root if root is not None else digest, prefix, tree_b64, suffix)


def store(replica, cid, root: bytes, prefix: bytes, tree_b64: bytes = b"", suffix: bytes = b"") -> None:
    replica.update(cid, "set_response", bytes([0]) + root + struct.pack("<I", len(prefix)) + prefix
                   + struct.pack("<I", len(tree_b64)) + tree_b64 + suffix)


def get(http_replica, host: str, path: str = "/index.html") -> tuple[int, dict[str, str], bytes]:
    return gateway_get(http_replica.port, host, path, timeout=30)


def manage(replica, method: str, cid: Principal) -> None:
    replica.update(Principal.management(), method, candid.encode(METHODS[method].args, [{"canister_id": cid}]))


def test_a_trapping_canister_is_a_502_with_its_trap_message(http_replica, site):
    status, _, data = get(http_replica, f"{site}.localhost")
    assert status == 502
    assert b"could not answer" in data and b"http_echo: no response uploaded yet" in data and b"IC0503" in data


def test_a_stopped_canister_is_a_503_until_it_is_started_again(http_replica, site):
    answer(http_replica.replica, site, body=b"back again")
    manage(http_replica.replica, "stop_canister", site)
    status, _, data = get(http_replica, f"{site}.localhost")
    assert status == 503 and b"is stopped" in data
    manage(http_replica.replica, "start_canister", site)
    assert get(http_replica, f"{site}.localhost")[::2] == (200, b"back again")


def test_canisters_without_a_page_are_404(http_replica, sysapi_path):
    replica = http_replica.replica
    no_http = replica.create_canister()
    replica.install_code(no_http, sysapi_path.read_bytes())
    status, _, data = get(http_replica, f"{no_http}.localhost")
    assert status == 404 and b"has no query method 'http_request'" in data
    empty = replica.create_canister()
    status, _, data = get(http_replica, f"{empty}.localhost")
    assert status == 404 and b"contains no Wasm module" in data
    status, _, data = get(http_replica, f"{Principal.from_text('lqy7q-dh777-77777-aaaaq-cai')}.localhost")
    assert status == 404 and b"not found" in data


def test_an_answer_that_is_not_an_http_response_is_a_502(http_replica, site):
    store(http_replica.replica, site, b"\0" * 32, candid.encode([candid.Text], ["not a response"]))
    status, _, data = get(http_replica, f"{site}.raw.localhost")
    assert status == 502 and b"not an HttpResponse" in data


def test_v1_refuses_redirects_and_drops_cache_control(http_replica, site):
    replica = http_replica.replica
    answer(replica, site, status=302, headers=[("Location", "https://elsewhere.example/")])
    status, _, data = get(http_replica, f"{site}.localhost")
    assert status == 503 and b"redirects are refused" in data
    status, headers, _ = get(http_replica, f"{site}.raw.localhost")  # the raw domain passes it on
    assert (status, headers["location"]) == (302, "https://elsewhere.example/")
    answer(replica, site, headers=[("Cache-Control", "max-age=31536000"), ("Content-Type", "text/plain")])
    status, headers, _ = get(http_replica, f"{site}.localhost")
    assert status == 200 and "cache-control" not in headers and headers["content-type"] == "text/plain"
    assert get(http_replica, f"{site}.raw.localhost")[1]["cache-control"] == "max-age=31536000"


def test_a_tree_that_is_not_the_certified_data_is_refused(http_replica, site):
    answer(http_replica.replica, site, body=b"page", root=hashlib.sha256(b"some other tree").digest())
    status, _, data = get(http_replica, f"{site}.localhost")
    assert status == 503 and b"root hash is not the canister's certified data" in data
    assert get(http_replica, f"{site}.raw.localhost")[::2] == (200, b"page")


def test_headers_that_would_split_the_response_are_refused(http_replica, site):
    answer(http_replica.replica, site, headers=[("X-Note", "fine\r\nX-Injected: evil")], certify=False)
    status, headers, data = get(http_replica, f"{site}.raw.localhost")
    assert status == 502 and b"control characters" in data and "x-injected" not in headers
    answer(http_replica.replica, site, headers=[("X-Note", "caf\u00e9 \u2615")], certify=False)
    connection = http.client.HTTPConnection("127.0.0.1", http_replica.port, timeout=30)
    connection.request("GET", "/", headers={"Host": f"{site}.raw.localhost"})
    response = connection.getresponse()
    response.read()
    connection.close()
    # Text header values go out as their UTF-8 bytes (http.client reads them as latin-1).
    assert response.getheader("x-note").encode("latin-1").decode() == "caf\u00e9 \u2615"
