"""Response verification v2 (`IC-CertificateExpression`) through the replica's gateway.

Each case is certified by the test from the HTTP Gateway Protocol spec (trees, expression
hashes, request and response hashes built here with the representation-independent hash),
served by the C test canister (which splices in its data certificate), then judged twice: by
the gateway over HTTP and by the official verifier, @dfinity/response-verification (the
library the IC's gateways use). Both must agree, and agree with what the spec says.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import struct
import subprocess

import cbor2

from icchat.ic import candid
from icchat.ic.hashtree import from_dict, to_cbor
from icchat.ic.request_id import hash_of_map
from icchat.paths import REPO
from icchat.replica.http.gateway_types import HTTP_REQUEST, HTTP_RESPONSE

PLACEHOLDER = "@@IC-CERTIFICATE@@"
FULL = ('default_certification(ValidationArgs{certification:Certification{request_certification:RequestCertification{'
        'certified_request_headers:["x-lang"],certified_query_parameters:["lang"]},response_certification:ResponseCertification{'
        'certified_response_headers:ResponseHeaderList{headers:["content-type","cross-origin-opener-policy",'
        '"cross-origin-embedder-policy"]}}}})')
RESPONSE_ONLY = ('default_certification(ValidationArgs{certification:Certification{no_request_certification:Empty{},'
                 'response_certification:ResponseCertification{response_header_exclusions:ResponseHeaderList{headers:["x-uncertified"]}}}})')
# The same expression with the whitespace the spec's note allows gateways to accept.
RESPONSE_ONLY_SPACED = RESPONSE_ONLY.replace(",", ", ").replace(":", ": ")
SKIP = "default_certification(ValidationArgs{no_certification:Empty{}})"

ORACLE = """
import { verifyRequestResponsePair } from "@dfinity/response-verification";
const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const hex = (h) => Uint8Array.from(Buffer.from(h, "hex"));
console.log(JSON.stringify(JSON.parse(Buffer.concat(chunks).toString()).map((c) => {
  try {
    const info = verifyRequestResponsePair(
      { url: c.url, method: "GET", headers: c.request_headers, body: new Uint8Array(), certificate_version: [2] },
      { status_code: c.status, headers: c.headers, body: hex(c.body) },
      hex(c.canister), BigInt(c.now), 300_000_000_000n, hex(c.root_key), 2);
    return { ok: true, version: info.verificationVersion, headers: info.response ? info.response.headers : null };
  } catch (error) {
    return { ok: false, error: String(error.message ?? error) };
  }
})));
"""


def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def request_hash(headers: dict[str, str], query: str | None) -> bytes:
    fields = {name.lower(): value for name, value in headers.items()} | {":ic-cert-method": "GET"}
    if query:
        fields[":ic-cert-query"] = query
    return sha(hash_of_map(fields) + sha(b""))


def response_hash(status: int, certified_headers: dict[str, str], body: bytes) -> bytes:
    return sha(hash_of_map({**certified_headers, ":ic-cert-status": status}) + sha(body))


def nest(path: list[str], leaf) -> dict:
    for label in reversed(path):
        leaf = {label: leaf}
    return leaf


def merge(a: dict, b: dict) -> dict:
    out = dict(a)
    for key, value in b.items():
        out[key] = merge(out[key], value) if key in out and isinstance(value, dict) else value
    return out


def serve(replica, cid, *, status: int, headers: list[tuple[str, str]], body: bytes, expr_path: list[str],
          entries: list[list]) -> None:
    """Make the canister answer this response, certified by a tree holding `entries` (paths
    under http_expr ending in an empty leaf); its IC-Certificate names `expr_path`."""
    tree_data: dict = {}
    for entry in entries:
        tree_data = merge(tree_data, nest(entry[:-1], {entry[-1]: b""}))
    tree = from_dict(tree_data)
    reply = candid.encode([HTTP_RESPONSE], [{"status_code": status, "headers": [*headers, ("IC-Certificate", PLACEHOLDER)],
                                              "body": body, "streaming_strategy": None, "upgrade": None}])
    prefix, suffix = reply.split(bytes([len(PLACEHOLDER)]) + PLACEHOLDER.encode())
    # The canister writes `certificate=:<its data certificate>:, tree=:` + this field + `:`,
    # so the v2 fields ride in the field after the tree.
    tail = base64.b64encode(to_cbor(tree)) + b":, version=2, expr_path=:" + base64.b64encode(cbor2.dumps(expr_path))
    replica.update(cid, "set_response", bytes([0]) + tree.digest() + struct.pack("<I", len(prefix)) + prefix
                   + struct.pack("<I", len(tail)) + tail + suffix)


def fetch(http_replica, cid, target: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", http_replica.port, timeout=30)
    try:
        connection.request("GET", target, headers={"Host": f"{cid}.localhost:{http_replica.port}", **headers})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


PAGE_HEADERS = [("Content-Type", "text/html"), ("Cross-Origin-Opener-Policy", "same-origin"),
                ("Cross-Origin-Embedder-Policy", "require-corp"), ("X-Uncertified", "injected")]


def certified_headers_of(headers: list[tuple[str, str]], expression: str, names: list[str] | None, excluded: list[str]) -> dict[str, str]:
    lowered = {k.lower(): v for k, v in headers}
    kept = {k: v for k, v in lowered.items() if (k in names if names is not None else k not in excluded)}
    return {**kept, "ic-certificateexpression": expression}


def build_cases() -> list[dict]:
    """name, what is served, what is certified, what the client sends, and the spec's verdict."""
    body = b"<!doctype html><p>certified v2 page</p>"
    full_names = ["content-type", "cross-origin-opener-policy", "cross-origin-embedder-policy"]

    def full(served_status=200, served_body=body, client_lang="en", certified_lang="en"):
        headers = [*PAGE_HEADERS, ("IC-CertificateExpression", FULL)]
        certified = certified_headers_of(headers, FULL, full_names, [])
        entry = ["http_expr", "app", "page", "<$>", sha(FULL.encode()), request_hash({"x-lang": certified_lang}, "lang=en"),
                 response_hash(200, certified, body)]
        return dict(status=served_status, headers=headers, body=served_body, expr_path=entry[:4], entries=[entry],
                    target="/app/page?lang=en&utm=ignored", client={"X-Lang": client_lang})

    def response_only(expression=RESPONSE_ONLY, path=("app", "page"), terminator="<$>", extra=()):
        headers = [*PAGE_HEADERS, ("IC-CertificateExpression", expression)]
        certified = certified_headers_of(headers, expression, None, ["x-uncertified"])
        entry = ["http_expr", *path, terminator, sha(expression.encode()), b"", response_hash(200, certified, body)]
        return dict(status=200, headers=headers, body=body, expr_path=entry[:len(path) + 2], entries=[entry, *extra],
                    target="/app/page", client={})

    skip_headers = [*PAGE_HEADERS, ("IC-CertificateExpression", SKIP)]
    return [
        {"name": "full certification", "accept": True, **full()},
        {"name": "certified request header differs", "accept": False, **full(client_lang="fr")},
        {"name": "body tampered", "accept": False, **full(served_body=b"<p>evil</p>")},
        {"name": "status tampered", "accept": False, **full(served_status=404)},
        {"name": "response only, header exclusions", "accept": True, **response_only()},
        {"name": "whitespace in the expression", "accept": True, **response_only(RESPONSE_ONLY_SPACED)},
        {"name": "wildcard", "accept": True, **response_only(path=("app",), terminator="<*>")},
        {"name": "wildcard though the exact path is certified", "accept": False,
         **response_only(path=("app",), terminator="<*>", extra=[["http_expr", "app", "page", "<$>", b"other", b"", b"x" * 32]])},
        {"name": "root wildcard though a more specific wildcard is certified", "accept": False,
         **response_only(path=(), terminator="<*>", extra=[["http_expr", "app", "<*>", b"other", b"", b"x" * 32]])},
        {"name": "no_certification", "accept": True, "status": 200, "headers": skip_headers, "body": b"anything at all",
         "expr_path": ["http_expr", "app", "page", "<$>"], "entries": [["http_expr", "app", "page", "<$>", sha(SKIP.encode()), b"", b""]],
         "target": "/app/page", "client": {}},
        {"name": "expression not the certified one", "accept": False, "status": 200, "headers": skip_headers, "body": body,
         "expr_path": ["http_expr", "app", "page", "<$>"], "entries": [["http_expr", "app", "page", "<$>", sha(FULL.encode()), b"", b""]],
         "target": "/app/page", "client": {}},
    ]


def test_v2_verdicts_match_the_spec_and_the_official_verifier(http_replica, site):
    replica = http_replica.replica
    cases, oracle_input, gateway = build_cases(), [], []
    for case in cases:
        serve(replica, site, status=case["status"], headers=case["headers"], body=case["body"],
              expr_path=case["expr_path"], entries=case["entries"])
        gateway.append(fetch(http_replica, site, case["target"], case["client"]))
        # What the canister answers (with its data certificate), for the official verifier.
        request = {"method": "GET", "url": case["target"], "headers": [], "body": b"", "certificate_version": 2}
        answer = candid.decode(replica.query(site, "http_request", candid.encode([HTTP_REQUEST], [request])), [HTTP_RESPONSE])[0]
        oracle_input.append({"url": case["target"], "request_headers": [[k.lower(), v] for k, v in case["client"].items()],
                             "status": answer["status_code"], "headers": answer["headers"], "body": answer["body"].hex(),
                             "canister": site.raw.hex(), "now": str(replica.time_ns()), "root_key": replica.root_key_der().hex()})
    process = subprocess.run(["node", "--input-type=module", "-e", ORACLE], input=json.dumps(oracle_input),
                             capture_output=True, text=True, timeout=120, cwd=REPO)
    assert process.returncode == 0, process.stderr
    official = json.loads(process.stdout)
    for case, verdict, (status, headers, data) in zip(cases, official, gateway, strict=True):
        assert verdict["ok"] == case["accept"], (case["name"], verdict)
        assert (status == 200) == case["accept"], (case["name"], status, data)
        if not case["accept"]:
            assert status == 503 and data.startswith(b"response verification failed: "), (case["name"], data)
            continue
        assert verdict["version"] == 2 and data == case["body"], case["name"]
        if verdict["headers"] is None:  # no_certification: the canister's headers as they are
            assert headers["x-uncertified"] == "injected", case["name"]
            continue
        # Only the headers the official verifier calls certified reach the client.
        certified = {name.lower() for name, _ in verdict["headers"]}
        passed = {name for name in headers if name not in ("content-length", "date", "server")}
        assert passed == certified, (case["name"], passed, certified)
        assert "x-uncertified" not in headers


def test_coop_and_coep_pass_through_when_certified(http_replica, site):
    case = build_cases()[0]
    serve(http_replica.replica, site, status=200, headers=case["headers"], body=case["body"],
          expr_path=case["expr_path"], entries=case["entries"])
    status, headers, _ = fetch(http_replica, site, case["target"], case["client"])
    assert status == 200
    assert (headers["cross-origin-opener-policy"], headers["cross-origin-embedder-policy"]) == ("same-origin", "require-corp")
