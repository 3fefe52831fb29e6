"""Canister web pages through the replica's HTTP gateway, with response verification."""

from __future__ import annotations

import base64
import gzip
import hashlib
import struct
import urllib.error
import urllib.parse
import urllib.request

from echo_site import CHUNK, STREAMED_RESPONSE
from support.browser import chromium

from icchat.ic import candid
from icchat.ic.hashtree import from_dict, to_cbor
from icchat.paths import REPO
from icchat.replica.http.gateway_types import HTTP_RESPONSE

PLACEHOLDER = "@@IC-CERTIFICATE@@"


def upload(replica, cid, body: bytes, *, certified_path: str | None = "/index.html", certify_body: bytes | None = None,
           headers: list[tuple[str, str]] = (), upgrade: bool | None = None, slot: int = 0, status: int = 200) -> None:
    """Store the canister's next answer; certify `certify_body` (default: body) under certified_path."""
    all_headers = list(headers)
    tree_b64 = b""
    root = b"\0" * 32
    if certified_path is not None:
        tree = from_dict({"http_assets": {certified_path: hashlib.sha256(certify_body if certify_body is not None else body).digest()}})
        tree_b64, root = base64.b64encode(to_cbor(tree)), tree.digest()
        all_headers.append(("IC-Certificate", PLACEHOLDER))
    reply = candid.encode([HTTP_RESPONSE], [{"status_code": status, "headers": all_headers, "body": body,
                                              "streaming_strategy": None, "upgrade": upgrade}])
    marker = bytes([len(PLACEHOLDER)]) + PLACEHOLDER.encode()
    if certified_path is not None:
        prefix, suffix = reply.split(marker)
    else:
        prefix, suffix = reply, b""
    packed = bytes([slot]) + root + struct.pack("<I", len(prefix)) + prefix + struct.pack("<I", len(tree_b64)) + tree_b64 + suffix
    replica.update(cid, "set_response", packed)


def get(url: str, headers: dict[str, str] | None = None, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    # Browsers resolve *.localhost to the loopback address; Python's resolver does not.
    parts = urllib.parse.urlsplit(url)
    headers = {"Host": parts.netloc, **(headers or {})}
    url = parts._replace(netloc=f"127.0.0.1:{parts.port}").geturl()
    request = urllib.request.Request(url, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()


def page(http_replica, cid, path="/index.html", raw=False) -> str:
    return f"http://{cid}{'.raw' if raw else ''}.localhost:{http_replica.port}{path}"


def test_certified_page_is_served_with_the_canisters_headers(http_replica, site):
    body = b"<!doctype html><title>hello</title>"
    upload(http_replica.replica, site, body, headers=[("Content-Type", "text/html"), ("Cross-Origin-Opener-Policy", "same-origin"),
                                                    ("Cross-Origin-Embedder-Policy", "require-corp")])
    code, headers, data = get(page(http_replica, site))
    assert code == 200, data
    assert data == body
    assert headers["content-type"] == "text/html"
    assert headers["cross-origin-embedder-policy"] == "require-corp"
    # The same page by ?canisterId= on plain localhost.
    code, _, data = get(f"http://localhost:{http_replica.port}/index.html?canisterId={site}")
    assert (code, data) == (200, body)


def test_tampered_or_uncertified_pages_are_refused_except_on_raw(http_replica, site):
    upload(http_replica.replica, site, b"the real page", certify_body=b"another page")
    code, _, data = get(page(http_replica, site))
    assert code == 503 and b"SHA-256 does not match" in data
    upload(http_replica.replica, site, b"not certified at all", certified_path=None)
    code, _, data = get(page(http_replica, site))
    assert code == 503 and b"sent no IC-Certificate" in data
    code, _, data = get(page(http_replica, site, raw=True))
    assert (code, data) == (200, b"not certified at all")


def test_range_and_head(http_replica, site):
    body = bytes(range(256)) * 4
    upload(http_replica.replica, site, body)
    code, headers, data = get(page(http_replica, site), {"Range": "bytes=10-19"})
    assert (code, data, headers["content-range"]) == (206, body[10:20], f"bytes 10-19/{len(body)}")
    code, headers, data = get(page(http_replica, site), {"Range": "bytes=-5"})
    assert (code, data) == (206, body[-5:])
    code, headers, _ = get(page(http_replica, site), {"Range": "bytes=5000-"})
    assert code == 416 and headers["content-range"] == f"bytes */{len(body)}"
    code, headers, data = get(page(http_replica, site), method="HEAD")
    assert (code, data, headers["content-length"]) == (200, b"", str(len(body)))


def test_gzip_is_decoded_for_clients_that_do_not_accept_it(http_replica, site):
    text = b"compressible " * 200
    upload(http_replica.replica, site, gzip.compress(text), headers=[("Content-Encoding", "gzip")])
    code, headers, data = get(page(http_replica, site), {"Accept-Encoding": "gzip"})
    assert code == 200 and headers["content-encoding"] == "gzip" and gzip.decompress(data) == text
    code, headers, data = get(page(http_replica, site), {"Accept-Encoding": "identity"})
    assert code == 200 and "content-encoding" not in headers and data == text


def test_upgrade_to_an_update_call(http_replica, site):
    upload(http_replica.replica, site, b"", certified_path=None, upgrade=True)
    upload(http_replica.replica, site, b"answered by http_request_update", certified_path=None, slot=1)
    code, _, data = get(page(http_replica, site))
    assert (code, data) == (200, b"answered by http_request_update")


def test_unknown_canister_and_bad_ids_are_clear_errors(http_replica):
    code, _, data = get(f"http://aaaaa-aa.localhost:{http_replica.port}/")
    assert code in (404, 502) and b"could not answer" in data
    code, _, data = get(f"http://localhost:{http_replica.port}/")
    assert code == 400 and b"which canister?" in data
    code, _, data = get(f"http://localhost:{http_replica.port}/?canisterId=not-a-principal")
    assert code == 400 and b"is not a canister id" in data




def upload_stream(replica, cid, parts: list[bytes], *, certify: bool) -> None:
    """The first part in the response, the rest through the http_stream callback (tokens 1..)."""
    whole = b"".join(parts)
    tree_b64, root, headers = b"", b"\0" * 32, []
    if certify:
        tree = from_dict({"http_assets": {"/big.bin": hashlib.sha256(whole).digest()}})
        tree_b64, root = base64.b64encode(to_cbor(tree)), tree.digest()
        headers.append(("IC-Certificate", PLACEHOLDER))
    strategy = {"Callback": {"callback": candid.FuncRef(cid, "http_stream"), "token": 1}} if len(parts) > 1 else None
    reply = candid.encode([STREAMED_RESPONSE], [{"status_code": 200, "headers": headers, "body": parts[0],
                                                  "streaming_strategy": strategy, "upgrade": None}])
    prefix, suffix = reply.split(bytes([len(PLACEHOLDER)]) + PLACEHOLDER.encode()) if certify else (reply, b"")
    replica.update(cid, "set_response", bytes([0]) + root + struct.pack("<I", len(prefix)) + prefix
                   + struct.pack("<I", len(tree_b64)) + tree_b64 + suffix)
    for index in range(1, len(parts)):
        token = index + 1 if index + 1 < len(parts) else None
        replica.update(cid, "set_chunk", struct.pack("<I", index) + candid.encode([CHUNK], [{"body": parts[index], "token": token}]))


def test_streaming_callbacks_are_followed(http_replica, site):
    parts = [bytes([i]) * (100_000 + i) for i in range(5)]
    upload_stream(http_replica.replica, site, parts, certify=True)
    code, _, data = get(page(http_replica, site, "/big.bin"))
    assert (code, data) == (200, b"".join(parts))
    code, headers, data = get(page(http_replica, site, "/big.bin", raw=True))
    assert (code, data) == (200, b"".join(parts))
    assert headers.get("transfer-encoding") == "chunked"  # sent as it was fetched
    # A tampered chunk fails verification of the assembled body.
    upload_stream(http_replica.replica, site, parts, certify=True)
    http_replica.replica.update(site, "set_chunk", struct.pack("<I", 2) + candid.encode([CHUNK], [{"body": b"evil", "token": 3}]))
    code, _, data = get(page(http_replica, site, "/big.bin"))
    assert code == 503 and b"SHA-256 does not match" in data


def test_browser_loads_a_certified_page_that_calls_its_canister_with_the_js_agent(http_replica, site, tmp_path):
    import subprocess

    bundle = tmp_path / "page.js"
    subprocess.run([str(REPO / "node_modules" / ".bin" / "esbuild"), str(REPO / "tests" / "web" / "agent_page.js"),
                    "--bundle", "--format=iife", "--platform=browser", "--log-level=warning", f"--outfile={bundle}"],
                   check=True, cwd=REPO, timeout=120)
    html = ("<!doctype html><meta charset=utf-8><p id=out>loading</p><p id=isolated></p><script>"
            + bundle.read_text() + "</script>").encode()
    upload(http_replica.replica, site, html, headers=[("Content-Type", "text/html; charset=utf-8"),
                                                    ("Cross-Origin-Opener-Policy", "same-origin"),
                                                    ("Cross-Origin-Embedder-Policy", "require-corp")])
    http_replica.replica.update(site, "set_chunk", struct.pack("<I", 1) + candid.encode([CHUNK], [{"body": b"hello from the canister", "token": None}]))
    with chromium() as browser:
        tab = browser.new_page()
        tab.goto(page(http_replica, site))
        tab.wait_for_function("document.querySelector('#out').textContent !== 'loading'", timeout=60_000)
        assert tab.text_content("#out") == "hello from the canister"
        assert tab.text_content("#isolated") == "true"


def test_gateway_and_the_official_verifier_agree(http_replica, site):
    """Cases judged by the replica's gateway and by @dfinity/response-verification."""
    import json
    import subprocess

    from icchat.replica.http.gateway_types import HTTP_REQUEST

    replica = http_replica.replica
    request = {"url": "/index.html", "method": "GET", "headers": [], "body": b"", "certificate_version": 1}
    cases, gateway_codes = [], []
    for served, certified in [(b"genuine page", b"genuine page"), (b"tampered page", b"genuine page")]:
        upload(replica, site, served, certify_body=certified, headers=[("Content-Type", "text/plain")])
        reply = replica.query(site, "http_request", candid.encode([HTTP_REQUEST], [request]))
        response = candid.decode(reply, [HTTP_RESPONSE])[0]
        cases.append({"request": {"url": "/index.html", "method": "GET", "headers": []},
                      "response": {"status_code": response["status_code"], "headers": response["headers"], "body_hex": response["body"].hex()},
                      "canister_id_hex": site.raw.hex(), "now_ns": replica.time_ns(), "root_key_hex": replica.root_key_der().hex()})
        gateway_codes.append(get(page(http_replica, site))[0])
    process = subprocess.run(["node", str(REPO / "tests" / "js" / "verify_response.mjs")], input=json.dumps(cases),
                             capture_output=True, text=True, timeout=120, cwd=REPO)
    assert process.returncode == 0, process.stderr
    official = json.loads(process.stdout)
    assert [r["ok"] for r in official] == [True, False], official
    assert gateway_codes == [200, 503]
