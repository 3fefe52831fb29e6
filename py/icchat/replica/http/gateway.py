"""The HTTP gateway: canister web pages at `http://<canister id>.localhost:<port>/path` (or
`http://localhost:<port>/path?canisterId=<id>`), via the canister's `http_request`.

Responses must be certified (see `gateway_verify`) unless requested on
`<canister id>.raw.localhost`, as the IC's gateways require. `upgrade = opt true` repeats the
request as an update call to `http_request_update` (not verified: update replies are certified
by consensus). Canister headers pass through untouched (COOP/COEP for cross-origin isolation);
`Range` requests are answered from the verified body; a gzip body is decoded for clients that
do not accept gzip. Streaming callbacks are followed: chunk by chunk to the client on the raw
domain, assembled and verified whole otherwise (v1 certifies the complete body's hash).
"""

from __future__ import annotations

import gzip
import re
import urllib.parse
from collections.abc import Iterator
from typing import Any

from icchat.ic import candid
from icchat.ic.principal import Principal
from icchat.replica.errors import Reject
from icchat.replica.http.gateway_streaming import Callback, StreamingError, callback_of, chunks
from icchat.replica.http.gateway_types import HTTP_REQUEST, HTTP_RESPONSE, HTTP_UPDATE_REQUEST
from icchat.replica.http.gateway_verify import VerificationError, verify_v1
from icchat.replica.http.messages import HttpIn, HttpOut

_HOST = re.compile(r"^([a-z0-9-]+)(\.raw)?\.localhost$")
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
# Hop-by-hop or recomputed by the gateway; never copied from the canister.
_DROPPED = {"content-length", "transfer-encoding", "connection", "keep-alive"}


def handle(replica: Any, request: HttpIn) -> HttpOut:
    target = _canister(request)
    if target is None:
        return HttpOut.text(400, "which canister? use http://<canister id>.localhost:<port>/path or ?canisterId=<id>")
    if isinstance(target, str):
        return HttpOut.text(400, target)
    canister_id, raw = target
    url = _strip_canister_id(request.target)
    headers = [(k, v) for k, v in request.headers if k.lower() != "host"]
    arg = candid.encode([HTTP_REQUEST], [{"method": request.method, "url": url, "headers": headers,
                                          "body": request.body, "certificate_version": 1}])
    try:
        reply = replica.query(canister_id, "http_request", arg)
        response = _decode(reply)
        if response["upgrade"]:
            update_arg = candid.encode([HTTP_UPDATE_REQUEST], [{"method": request.method, "url": url,
                                                               "headers": headers, "body": request.body}])
            reply = replica.update(canister_id, "http_request_update", update_arg)
            response = _decode(reply)
            raw = True  # certified by consensus
        callback = callback_of(reply) if response["streaming_strategy"] is not None else None
    except Reject as reject:
        status = 404 if reject.error_code in ("IC0301", "IC0537") else 503 if reject.error_code in ("IC0508", "IC0509") else 502
        return HttpOut.text(status, f"canister {canister_id} could not answer: {reject}")
    except (candid.CandidError, StreamingError) as exc:
        return HttpOut.text(502, f"canister {canister_id} answered http_request with something that is not an HttpResponse: {exc}")
    body: bytes = response["body"]
    if callback is not None:
        if raw:
            return _stream(replica, response, callback)
        # A certified body is verified whole (v1 certifies the hash of the complete body).
        try:
            body = b"".join([body, *chunks(replica, callback)])
        except (Reject, candid.CandidError, StreamingError) as exc:
            return HttpOut.text(502, f"canister {canister_id} failed while streaming: {exc}")
    if not raw:
        certificate = _header(response["headers"], "ic-certificate")
        if certificate is None:
            return HttpOut.text(503, f"response verification failed: canister {canister_id} sent no IC-Certificate; "
                                     f"uncertified content is only served on {canister_id}.raw.localhost")
        try:
            verify_v1(certificate, canister_id, urllib.parse.unquote(url.split("?", 1)[0]), body, replica.root_key_der(), replica.time_ns())
        except VerificationError as exc:
            return HttpOut.text(503, f"response verification failed: {exc}")
    return _respond(request, response["status_code"], response["headers"], body)


def _stream(replica: Any, response: dict[str, Any], callback: Callback) -> HttpOut:
    """An unverified (raw) streamed body goes to the client chunk by chunk as it is fetched."""
    headers = [(k, v) for k, v in response["headers"] if k.lower() not in _DROPPED]

    def body() -> Iterator[bytes]:
        yield response["body"]
        yield from chunks(replica, callback)  # an error mid-stream cuts the connection

    return HttpOut(response["status_code"], headers, body())


def _decode(reply: bytes) -> dict[str, Any]:
    return candid.decode(reply, [HTTP_RESPONSE])[0]


def _canister(request: HttpIn) -> tuple[Principal, bool] | str | None:
    match = _HOST.match(request.host)
    text, raw = (match.group(1), bool(match.group(2))) if match else (None, False)
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(request.target).query)
    if text is None and "canisterId" in query:
        text = query["canisterId"][0]
    if text is None:
        return None
    try:
        return Principal.from_text(text), raw
    except ValueError as exc:
        return f"{text!r} is not a canister id: {exc}"


def _strip_canister_id(target: str) -> str:
    parts = urllib.parse.urlsplit(target)
    query = [(k, v) for k, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True) if k != "canisterId"]
    return parts.path + (f"?{urllib.parse.urlencode(query)}" if query else "")


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    return next((v for k, v in headers if k.lower() == name), None)


def _respond(request: HttpIn, status: int, headers: list[tuple[str, str]], body: bytes) -> HttpOut:
    kept = [(k, v) for k, v in headers if k.lower() not in _DROPPED]
    encoding = (_header(headers, "content-encoding") or "").lower()
    accepts = (request.header("accept-encoding") or "").lower()
    if encoding == "gzip" and "gzip" not in accepts:
        body = gzip.decompress(body)
        kept = [(k, v) for k, v in kept if k.lower() != "content-encoding"]
    ranged = _range(request.header("range"), len(body)) if status == 200 else None
    if ranged == "unsatisfiable":
        return HttpOut(416, [("content-range", f"bytes */{len(body)}"), ("content-length", "0")], [])
    if isinstance(ranged, tuple):
        start, end = ranged
        kept.append(("content-range", f"bytes {start}-{end}/{len(body)}"))
        status, body = 206, body[start : end + 1]
    kept.append(("content-length", str(len(body))))
    return HttpOut(status, kept, [body])


def _range(value: str | None, size: int) -> tuple[int, int] | str | None:
    match = _RANGE.match(value.strip()) if value else None
    if match is None:
        return None  # no range, or a form we do not serve: the whole body (allowed by RFC 9110)
    first, last = match.groups()
    if first == "":
        if last == "" or int(last) == 0:
            return "unsatisfiable"
        return max(0, size - int(last)), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or start > end:
        return "unsatisfiable"
    return start, end
