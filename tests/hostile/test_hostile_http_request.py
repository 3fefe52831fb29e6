"""Hostile `http_request` and streaming-callback arguments, sent to the asset canister with Candid
through the replica's API (no gateway in between): random and boundary methods, URLs (path
traversal, percent-encoded dots, doubled slashes, NUL, 64 KB), header counts and sizes,
Accept-Encoding lists, certificate versions, and streaming tokens forged for other keys, encodings
and indices. Each call is answered or rejected with a reason, never with bytes of an asset other
than the one the request names, and the canister keeps everything it had."""

from __future__ import annotations

import urllib.parse

import pytest
from hostile_site import ASSETS, BIG, PAGE, SECRET
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from icchat.ic import candid
from icchat.replica import Reject

FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
CONTENT = {key: upload.content for key, upload in ASSETS.items()}
NOT_FOUND = b"404 Not Found\n"


def http_request(target, method: str, url: str, headers: list[tuple[str, str]], certificate_version, body: bytes = b""):
    request = {"method": method, "url": url, "headers": headers, "body": body, "certificate_version": certificate_version}
    return target.assets.call("http_request", "(HttpRequest)", [request], "(HttpResponse)", query=True)


def decoded_path(url: str) -> str:
    path = url.split("?", 1)[0].split("#", 1)[0]
    try:
        return urllib.parse.unquote(path, errors="strict") or "/"
    except UnicodeDecodeError:
        return path


def check_response(url: str, response: dict, version: int | None) -> None:
    """The body is the 404 page, a window of the asset the URL names, or /index.html for an app
    route (any unknown path for v1 clients: docs/asset-canister.md)."""
    status, body = response["status_code"], response["body"]
    assert 100 <= status <= 599
    if status == 404:
        assert body == NOT_FOUND
        return
    if status == 304 or not body:
        return
    path = decoded_path(url)
    owners = [key for key, content in CONTENT.items() if content.startswith(body) or (status == 206 and body in content)]
    assert owners, f"{url!r} got bytes of no asset ({status}, {body[:60]!r})"
    named = {path, path.rstrip("/") + "/index.html", path + ".html"}
    assert any(key in named for key in owners) or (owners == ["/index.html"] and (version != 2 or "." not in path.rsplit("/", 1)[-1])), \
        f"{url!r} (path {path!r}) was answered with the bytes of {owners}"


def assert_kept(target) -> None:
    assert [a["key"] for a in target.assets.list()] == sorted(CONTENT) or \
        sorted(a["key"] for a in target.assets.list()) == sorted(CONTENT)
    assert target.assets.content("/secret.txt") == SECRET
    assert http_request(target, "GET", "/index.html", [], 2)["body"] == PAGE


TRAVERSALS = ["/../secret.txt", "/%2e%2e/secret.txt", "/%2E%2E%2Fsecret.txt", "//secret.txt", "/index.html/../secret.txt",
              "/index.html%2f..%2fsecret.txt", "/./secret.txt", "/secret.txt%00", "/secret.txt\x00.html", "/secret.txt/",
              "/secret.txt?../index.html", "/%00", "/%", "/%zz", "/%c0%ae%c0%ae/secret.txt", "/..%5csecret.txt",
              "\\secret.txt", "secret.txt", "", "?", "#/secret.txt", "http://evil.example/secret.txt",
              "/" + "a/" * 32_000, "/" + "%41" * 21_000, "/dir/a%20b.txt", "/dir/a b.txt", "/%C3%BCnic%C3%B8de/%E2%98%83.txt"]


@pytest.mark.parametrize("url", TRAVERSALS, ids=range(len(TRAVERSALS)))
@pytest.mark.parametrize("version", [None, 1, 2])
def test_traversal_and_odd_urls_never_reach_another_asset(target, url, version):
    check_response(url, http_request(target, "GET", url, [], version), version)


def test_names_with_spaces_and_unicode_are_served_by_their_encoded_url(target):
    assert http_request(target, "GET", "/dir/a%20b.txt", [], 2)["body"] == b"spaced name"
    assert http_request(target, "GET", "/%C3%BCnic%C3%B8de/%E2%98%83.txt", [], 2)["body"] == b"unicode name"


methods = st.sampled_from(["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "", "get", "G\x00T", "X" * 10_000, "\u2603"]) | st.text(max_size=20)
urls = st.sampled_from(TRAVERSALS) | st.sampled_from(sorted(CONTENT)) | st.text(max_size=60) | st.text(max_size=30).map(lambda s: "/" + s)
header_names = st.sampled_from(["accept-encoding", "Accept-Encoding", "range", "if-none-match", "host", "x", ""]) | st.text(max_size=12)
header_values = st.sampled_from(["gzip", "identity", "gzip;q=0", "*", "br, deflate, gzip;q=0.5", "bytes=0-0", "bytes=-1",
                                 "bytes=99999999999-", '"etag"', "W/*", ""]) | st.text(max_size=40)


@FUZZ
@given(method=methods, url=urls, headers=st.lists(st.tuples(header_names, header_values), max_size=8),
       version=st.sampled_from([None, 0, 1, 2, 3, 65535]), body=st.binary(max_size=64))
@example(method="GET", url="/big.bin", headers=[("accept-encoding", "x" * 60_000)], version=2, body=b"")
@example(method="GET", url="/index.html", headers=[("h", "v")] * 5000, version=2, body=b"")
@example(method="GET", url="/index.html", headers=[("range", "bytes=" + "1" * 5000 + "-")], version=2, body=b"")
def test_random_http_requests_are_answered_with_the_named_asset_or_rejected(target, method, url, headers, version, body):
    try:
        response = http_request(target, method, url, headers, version, body)
    except Reject as exc:
        assert exc.code == 4 and exc.message, (exc.code, exc.message)
        return
    check_response(url, response, version)


def test_the_canister_kept_everything_after_the_http_request_fuzzing(target):
    assert_kept(target)


# --- streaming callbacks ----------------------------------------------------------------------

def window_size(target) -> int:
    response = http_request(target, "GET", "/big.bin", [], 2)
    assert response["streaming_strategy"] is not None and len(response["body"]) < len(BIG)
    return len(response["body"])


def callback(target, token: dict):
    return target.assets.streaming_callback(token)


def test_a_stream_followed_honestly_gives_the_whole_asset(target):
    response = http_request(target, "GET", "/big.bin", [], 2)
    assert b"".join(target.assets.http_body(response)) == BIG


keys = st.sampled_from([*sorted(CONTENT), "/missing", "", "/big.bin/", "/BIG.BIN", "/big.bin\x00"]) | st.text(max_size=20)
encodings = st.sampled_from(["identity", "gzip", "", "IDENTITY", "identity\x00", "x" * 1000]) | st.text(max_size=10)
indices = st.sampled_from([0, 1, 2, 3, 2**32, 2**63, 2**64 - 1, 2**64, 2**100]) | st.integers(0, 10)
hashes = st.none() | st.binary(max_size=40) | st.sampled_from(["/big.bin", "/secret.txt", "/index.html"])


@FUZZ
@given(key=keys, encoding=encodings, index=indices, sha=hashes)
def test_forged_streaming_tokens_give_only_the_window_they_name_or_a_reject(target, key, encoding, index, sha):
    import hashlib

    if isinstance(sha, str):
        sha = hashlib.sha256(CONTENT[sha]).digest()
    token = {"key": key, "content_encoding": encoding, "index": index, "sha256": sha}
    try:
        answer = callback(target, token)
    except Reject as exc:
        assert exc.code == 4 and exc.message, (exc.code, exc.message)
        return
    assert key in CONTENT and encoding == "identity", f"a token for {key!r}/{encoding!r} was answered"
    assert sha is None or sha == hashlib.sha256(CONTENT[key]).digest(), "a token with another asset's hash was answered"
    size = window_size(target)
    assert answer is not None and answer["body"] == CONTENT[key][index * size:(index + 1) * size]
    if answer["token"] is not None:
        assert answer["token"]["key"] == key and answer["token"]["index"] == index + 1


@pytest.mark.parametrize("data", [b"", b"DIDL", b"DIDL\x00\x01\x71\x00", b"DIDL\x01\x6c\x01\x00\x71\x01\x00\xff\xff\xff\xff\x0f",
                                  candid.encode([candid.parse_types("(nat)")[0]], [5])])
def test_malformed_callback_arguments_are_rejected(target, data):
    with pytest.raises(Reject) as failure:
        target.replica.query(target.assets.id, "http_request_streaming_callback", data)
    assert failure.value.code == 4 and failure.value.message
    assert_kept(target)
