"""HTTP certification helpers (canister/assetstore/http_cert.c) against the replica's gateway code
(py/icchat/replica/http/gateway_v2.py, gateway_cel.py, gateway_verify.py), and whole certified
responses from the probe canister judged by the replica's HTTP gateway and by the official
verifier (@dfinity/response-verification)."""

from __future__ import annotations

import base64
import hashlib
import json
import struct
import subprocess

import cbor2
import pytest
from certtree_helpers import blob, path_arg, read_labels, u32
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.gateway import gateway_get

from icchat.ic import candid
from icchat.ic.hashtree import LookupStatus, from_cbor, lookup_path
from icchat.paths import REPO
from icchat.replica.http import gateway_v2 as v2
from icchat.replica.http.gateway_cel import Certification, parse_expression
from icchat.replica.http.gateway_types import HTTP_REQUEST, HTTP_RESPONSE
from icchat.replica.http.gateway_verify import _fields

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
url_path = st.lists(st.sampled_from(["a", "b", "", "index.html", "é", "<"]), max_size=5).map(lambda s: "/" + "/".join(s))


def expr_path(probe, url: str, mode: int, index: int = 0, max_labels: int = 64) -> list[bytes]:
    return read_labels(probe.query("expr_path", bytes([mode]) + u32(index) + u32(max_labels) + blob(url)))


def b(labels: list[str]) -> list[bytes]:
    return [s.encode() for s in labels]


# --- expression paths -------------------------------------------------------------------------------


@SETTINGS
@given(url=url_path)
def test_expression_paths_follow_the_gateway(probe, url):
    segments = v2.request_segments(url)
    assert expr_path(probe, url, 0) == b([*segments, v2.EXACT])
    assert expr_path(probe, url, 1) == b([*segments, v2.WILDCARD])
    # The candidates, in order: exact, then every wildcard more specific than the root one, then it.
    root_wildcard = [v2.PREFIX, "", v2.WILDCARD]
    expected = [[*segments, v2.EXACT], *([v2.PREFIX, *c] for c in v2._more_specific_wildcards(segments, root_wildcard)), root_wildcard]
    got = []
    for i in range(len(expected) + 2):
        labels = expr_path(probe, url, 2, i)
        if not labels:
            break
        got.append(labels)
    assert got == [b(c) for c in expected]


def test_expression_path_examples(probe):
    assert expr_path(probe, "/a/b", 0) == b(["http_expr", "a", "b", "<$>"])
    assert expr_path(probe, "/a/b/", 0) == b(["http_expr", "a", "b", "", "<$>"])
    assert expr_path(probe, "/", 0) == b(["http_expr", "", "<$>"])
    assert expr_path(probe, "/js", 1) == b(["http_expr", "js", "<*>"])
    assert [expr_path(probe, "/a/b", 2, i) for i in range(6)] == [
        b(["http_expr", *p]) for p in (["a", "b", "<$>"], ["a", "b", "<*>"], ["a", "", "<*>"], ["a", "<*>"], ["", "<*>"])] + [[]]
    assert expr_path(probe, "/a/b", 0, max_labels=4) == b(["http_expr", "a", "b", "<$>"])
    assert expr_path(probe, "/a/b", 0, max_labels=3) == []  # does not fit: depth 0
    assert expr_path(probe, "/a/<$>", 0) == expr_path(probe, "/<*>/b", 1) == expr_path(probe, "/<*>", 2, 1) == []


# --- expression, response hash, header --------------------------------------------------------------


def expression(probe, names: list[str], capacity: int = 4096) -> str:
    reply = probe.query("expression", u32(len(names)) + b"".join(blob(n) for n in names) + u32(capacity))
    (size,) = struct.unpack_from("<I", reply)
    assert len(reply) == 4 + size
    return reply[4:].decode()


@pytest.mark.parametrize("names", [[], ["content-type"], ["content-type", "content-encoding", "cache-control", "cross-origin-opener-policy"]])
def test_expression_parses_as_response_only_certification(probe, names):
    text = expression(probe, names)
    assert parse_expression(text) == Certification(request_headers=None, response_headers=tuple(names))
    assert text == ('default_certification(ValidationArgs{certification:Certification{no_request_certification:Empty{},'
                    'response_certification:ResponseCertification{certified_response_headers:ResponseHeaderList{headers:['
                    + ",".join(f'"{n}"' for n in names) + ']}}}})')
    assert expression(probe, names, capacity=len(text)) == ""  # no room for the NUL: refused, not cut
    assert expression(probe, names, capacity=len(text) + 1) == text


header_name = st.sampled_from(["Content-Type", "content-encoding", "ETag", "cache-control", "X-A", "ic-certificateexpression"])
header_value = st.text(st.characters(blacklist_characters="\0", blacklist_categories=["Cs"]), max_size=30)


@SETTINGS
@given(status=st.integers(100, 599), headers=st.lists(st.tuples(header_name, header_value), max_size=6), body=st.binary(max_size=64))
def test_response_hash_equals_the_gateways(probe, status, headers, body):
    body_sha = hashlib.sha256(body).digest()
    arg = u32(status) + body_sha + u32(len(headers)) + b"".join(blob(n) + blob(v.encode()) for n, v in headers)
    expected = v2.response_hash(v2.response_headers_hash(status, [(n.lower(), v) for n, v in headers]), body_sha)
    assert probe.query("response_hash", arg) == expected


@SETTINGS
@given(certificate=st.binary(min_size=1, max_size=40), tree=st.binary(min_size=1, max_size=40), path=st.lists(st.sampled_from(["http_expr", "", "a", "<$>", "é"]), max_size=5))
def test_certificate_header_fields(probe, certificate, tree, path):
    header = probe.query("certificate_header", blob(certificate) + blob(tree) + path_arg([p.encode() for p in path])).decode()
    fields = _fields(header)
    assert base64.b64decode(fields["certificate"], validate=True) == certificate
    assert base64.b64decode(fields["tree"], validate=True) == tree
    if path:
        assert fields["version"] == "2"
        assert cbor2.loads(base64.b64decode(fields["expr_path"], validate=True)) == path
        assert header.startswith(f"certificate=:{fields['certificate']}:, tree=:{fields['tree']}:, expr_path=:")
    else:
        assert header == f"certificate=:{fields['certificate']}:, tree=:{fields['tree']}:"


# --- whole responses through the gateway and the official verifier ---------------------------------

ORACLE = """
import { verifyRequestResponsePair } from "@dfinity/response-verification";
const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const hex = (h) => Uint8Array.from(Buffer.from(h, "hex"));
console.log(JSON.stringify(JSON.parse(Buffer.concat(chunks).toString()).map((c) => {
  try {
    const info = verifyRequestResponsePair(
      { url: c.url, method: "GET", headers: [], body: new Uint8Array(), certificate_version: [c.version] },
      { status_code: c.status, headers: c.headers, body: hex(c.body) },
      hex(c.canister), BigInt(c.now), 300_000_000_000n, hex(c.root_key), c.version);
    return { ok: info.response !== undefined, version: info.verificationVersion };
  } catch (error) {
    return { ok: false, error: String(error.message ?? error) };
  }
})));
"""

PAGE = [("content-type", "text/html"), ("cross-origin-opener-policy", "same-origin"), ("cross-origin-embedder-policy", "require-corp")]
EXACT, WILDCARD, V1 = 0, 1, 2


def serve(probe, mode: int, url: str, body: bytes, headers: list[tuple[str, str]], status: int = 200) -> int:
    arg = bytes([mode]) + u32(status) + blob(url) + blob(body) + u32(len(headers)) + b"".join(blob(n) + blob(v) for n, v in headers)
    return struct.unpack("<Q", probe.update("serve", arg))[0]


def canister_answer(probe, url: str) -> dict:
    request = {"method": "GET", "url": url, "headers": [], "body": b"", "certificate_version": 2}
    reply = probe.query("http_request", candid.encode([HTTP_REQUEST], [request]))
    return candid.decode(reply, [HTTP_RESPONSE])[0]


def official(probe, cases: list[tuple[str, dict, int]]) -> list[dict]:
    replica = probe.replica
    data = [{"url": url, "status": a["status_code"], "headers": [list(h) for h in a["headers"]], "body": a["body"].hex(), "version": version,
             "canister": probe.canister_id.raw.hex(), "now": str(replica.time_ns()), "root_key": replica.root_key_der().hex()}
            for url, a, version in cases]
    process = subprocess.run(["node", "--input-type=module", "-e", ORACLE], input=json.dumps(data), capture_output=True, text=True,
                             timeout=120, cwd=REPO)
    assert process.returncode == 0, process.stderr
    return json.loads(process.stdout)


def gateway_fetch(server, probe, url: str) -> tuple[int, dict[str, str], bytes]:
    return gateway_get(server.port, f"{probe.canister_id}.localhost", url)


@pytest.fixture(scope="module")
def site(probe):
    """Responses certified by the canister itself: exact v2 pages, a wildcard over /app, the root
    wildcard, a v1 asset; returns {name: (url served, body)}."""
    probe.clear()
    pages = {
        "index": (EXACT, "/index.html", b"<!doctype html><p>index</p>", PAGE),
        "dir": (EXACT, "/docs/", b"<p>docs directory</p>", PAGE[:1]),
        "app": (WILDCARD, "/app", b"<p>the app shell</p>", PAGE),
        "page": (EXACT, "/app/page", b"<p>a page of the app</p>", PAGE[:1]),
        "fallback": (WILDCARD, "/", b"<p>not found, but certified</p>", [("content-type", "text/plain")]),
        "v1": (V1, "/v1.txt", b"certified the v1 way", [("content-type", "text/plain")]),
    }
    costs = {name: serve(probe, mode, url, body, headers) for name, (mode, url, body, headers) in pages.items()}
    return pages, costs


REQUESTS = [  # (url asked for, page that answers, version)
    ("/index.html", "index", 2),
    ("/docs/", "dir", 2),
    ("/app", "app", 2),
    ("/app/deep/link?x=1", "app", 2),
    ("/app/page", "page", 2),
    ("/nothing/here", "fallback", 2),
    ("/", "fallback", 2),
    ("/v1.txt", "v1", 1),
]


def test_certified_responses_verify_in_the_gateway_and_the_official_verifier(probe, http_replica, site, record_property):
    pages, costs = site
    _, server = http_replica
    answers = [(url, canister_answer(probe, url), version) for url, _, version in REQUESTS]
    verdicts = official(probe, answers)
    for (url, page, version), (_, answer, _), verdict in zip(REQUESTS, answers, verdicts, strict=True):
        body = pages[page][2]
        assert answer["status_code"] == 200 and answer["body"] == body, url
        assert verdict == {"ok": True, "version": version}, (url, verdict)
        status, headers, data = gateway_fetch(server, probe, url)
        assert (status, data) == (200, body), (url, status, data)
        assert headers["content-type"] == dict(pages[page][3])["content-type"]
    witness_costs = {url: int(dict(answer["headers"])["x-witness-instructions"]) for url, answer, _ in answers}
    record_property("witness_instructions", witness_costs)
    record_property("serve_instructions", costs)
    print("witness instructions", witness_costs, "serve (hash + put + root) instructions", costs)


def test_wildcard_witness_proves_the_more_specific_paths_absent(probe, site):
    answer = canister_answer(probe, "/app/deep/link")
    tree = from_cbor(base64.b64decode(_fields(dict(answer["headers"])["ic-certificate"])["tree"]))
    for path in (["app", "deep", "link", "<$>"], ["app", "deep", "link", "<*>"], ["app", "deep", "", "<*>"], ["app", "deep", "<*>"],
                 ["app", "", "<*>"]):
        assert lookup_path(tree, ["http_expr", *path]).status is LookupStatus.ABSENT, path
    # What it does not prove: that /app/page has no exact entry (it has one), so replaying this
    # response for /app/page must fail in the official verifier.
    verdicts = official(probe, [("/app/deep/link", answer, 2), ("/app/page", answer, 2)])
    assert verdicts[0]["ok"] and not verdicts[1]["ok"], verdicts


def test_tampered_responses_fail_the_official_verifier(probe, site):
    good = canister_answer(probe, "/index.html")
    body = {**good, "body": b"<p>evil</p>"}
    status = {**good, "status_code": 201}
    header = {**good, "headers": [(k, "text/plain" if k == "content-type" else v) for k, v in good["headers"]]}
    v1_body = {**canister_answer(probe, "/v1.txt"), "body": b"tampered"}
    verdicts = official(probe, [("/index.html", body, 2), ("/index.html", status, 2), ("/index.html", header, 2), ("/v1.txt", v1_body, 1)])
    assert [v["ok"] for v in verdicts] == [False] * 4, verdicts
