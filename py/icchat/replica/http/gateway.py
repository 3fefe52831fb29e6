"""The HTTP gateway: canister web pages at `http://<canister id>.localhost:<port>/path` (or
`http://localhost:<port>/path?canisterId=<id>`), via the canister's `http_request`, as the
HTTP Gateway Protocol and the IC's gateway (ic-gateway) do it.

1. The request goes to the `http_request` query with `certificate_version = 2`, headers as
   received (less `x-request-id`; `identity` added to `Accept-Encoding`, as ic-gateway does).
2. `upgrade = opt true` repeats it as an `http_request_update` call (certified by consensus:
   not verified again).
3. Streaming callbacks (`gateway_streaming`) are followed lazily; the callback must be a
   method of the same canister.
4. The response is verified (`gateway_verify`, v1 or v2) unless requested on
   `<canister id>.raw.localhost`; failures are a 503 page saying why. How long bodies stream
   while being verified: `gateway_body`.
5. Headers pass through (v2: the certified ones), so COOP/COEP reach the browser. A body that
   fits the read-ahead gets `Content-Length` and, when the canister answered 200 to a `Range`
   request, a 206/416 from the verified body; gzip/deflate is decoded for clients whose
   `Accept-Encoding` does not allow it. HEAD is answered like GET, without a body.
"""

from __future__ import annotations

import itertools
import re
import urllib.parse
from collections.abc import Iterator
from typing import Any

from icchat.ic import candid
from icchat.ic.principal import Principal
from icchat.replica.errors import Reject, RejectCode
from icchat.replica.http import gateway_body as bodies
from icchat.replica.http.gateway_prefetch import prefetched
from icchat.replica.http.gateway_streaming import StreamingError, callback_of, chunks
from icchat.replica.http.gateway_types import HTTP_RESPONSE, CanisterRequest
from icchat.replica.http.gateway_verify import BodyCheck, VerificationError, verify_response
from icchat.replica.http.messages import HttpIn, HttpOut

CERTIFICATE_VERSION = 2  # the highest this gateway verifies; canisters may answer with v1
_HOST = re.compile(r"^([a-z0-9-]+)(\.raw)?\.localhost$")
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
# Hop-by-hop or recomputed by the gateway; never copied from the canister.
_DROPPED = {"content-length", "transfer-encoding", "connection", "keep-alive"}
_UNAVAILABLE = {"IC0508", "IC0509"}  # stopped, stopping
_NO_PAGE = {"IC0536", "IC0537"}  # no http_request method, no module: nothing to serve here
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 field names
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # no CR/LF (response splitting), no NUL


def handle(replica: Any, request: HttpIn) -> HttpOut:
    target = _canister(request)
    if target is None:
        return HttpOut.text(400, "which canister? use http://<canister id>.localhost:<port>/path or ?canisterId=<id>")
    if isinstance(target, str):
        return HttpOut.text(400, target)
    canister_id, raw = target
    if not request.target.isascii():  # the server read the target as latin-1: these were raw bytes
        return HttpOut.text(400, f"the request target {request.target!r} holds bytes that are not ASCII; percent-encode them")
    if not raw and not _decodable(request.target):
        return HttpOut.text(400, f"the request path {request.target!r} is not valid percent-encoded UTF-8, so no certificate "
                                 f"can cover it; uncertified content is only served on {canister_id}.raw.localhost")
    call = CanisterRequest(request.method, _strip_canister_id(request.target), _forwarded(request.headers), request.body)
    try:
        reply = replica.query(canister_id, "http_request", call.candid(CERTIFICATE_VERSION))
        response = _decode(reply)
        upgraded = response["upgrade"] is True
        if upgraded:
            reply = replica.update(canister_id, "http_request_update", call.candid(None))
            response = _decode(reply)
        callback = callback_of(reply) if response["streaming_strategy"] is not None else None
    except Reject as reject:
        return _reject_page(canister_id, reject)
    except (candid.CandidError, StreamingError) as exc:
        return HttpOut.text(502, f"canister {canister_id} answered http_request with something that is not an HttpResponse: {exc}")
    if callback is not None and callback.canister_id != canister_id:
        return HttpOut.text(502, f"canister {canister_id} named a streaming callback of another canister ({callback.canister_id}); "
                                 "the HTTP Gateway Protocol only follows callbacks of the canister itself")
    status, headers = response["status_code"], response["headers"]
    problem = _problem(status, headers)
    if problem is not None:
        return HttpOut.text(502, f"canister {canister_id} answered with {problem}")
    check: BodyCheck | None = None
    if not raw and not upgraded:
        try:
            outcome = verify_response(call, status, headers, canister_id, replica.root_key_der(), replica.time_ns())
        except VerificationError as exc:
            return HttpOut.text(503, f"response verification failed: {exc}; uncertified content is only served on "
                                     f"{canister_id}.raw.localhost")
        headers, check = outcome.headers, outcome.body
    body = _body(replica, response["body"], callback)
    if callback is not None:  # streamed: fetch (and hash) the next chunks while the socket sends
        body = prefetched(body, check.update if check is not None else None)
    if raw and callback is not None:
        return _streamed(request, status, headers, body, None)  # nothing to verify: send as fetched
    try:
        held, complete = bodies.read_ahead(body)
    except (Reject, candid.CandidError, StreamingError) as exc:
        return HttpOut.text(502, f"canister {canister_id} failed while streaming its response: {exc}")
    if not complete:
        return _streamed(request, status, headers, itertools.chain(_released(held), body), check)
    whole = b"".join(held)
    if check is not None:
        if callback is None:  # a streamed body was hashed as it was fetched
            check.update(whole)
        try:
            check.finish()
        except VerificationError as exc:
            return HttpOut.text(503, f"response verification failed: {exc}; uncertified content is only served on "
                                     f"{canister_id}.raw.localhost")
    try:
        return _complete(request, status, headers, whole)
    except bodies.BodyError as exc:
        return HttpOut.text(502, f"canister {canister_id}: {exc}")


def _problem(status: int, headers: list[tuple[str, str]]) -> str | None:
    """What makes the canister's status or headers impossible to pass on, if anything."""
    if not 200 <= status <= 599:
        return f"status {status}, which is not a final HTTP status (200-599)"
    for name, value in headers:
        if not _TOKEN.fullmatch(name):
            return f"a header name that is not an HTTP token: {name!r}"
        if _CONTROL.search(value):
            return f"control characters in the value of header {name}: {value!r}"
    return None


def _wire(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Header values go out as their UTF-8 bytes (the server writes latin-1: one byte a char)."""
    return [(k, v.encode().decode("latin-1")) for k, v in headers if k.lower() not in _DROPPED]


def _body(replica: Any, first: bytes, callback: Any) -> Iterator[bytes]:
    yield first
    if callback is not None:
        yield from chunks(replica, callback)


def _released(held: list[bytes]) -> Iterator[bytes]:
    """The read-ahead chunks, each dropped once it is passed on."""
    held.reverse()
    while held:
        yield held.pop()


def _streamed(request: HttpIn, status: int, headers: list[tuple[str, str]], body: Iterator[bytes],
              check: BodyCheck | None) -> HttpOut:
    """A long body, chunked as it is fetched (and hashed, by `prefetched`) (Range is not served:
    RFC 9110 allows the whole)."""
    kept = _wire(headers)
    # Only streams (a callback, so `prefetched` hashed them) outgrow the read-ahead.
    out: Iterator[bytes] = body if check is None else bodies.verified(body, check, hashed=True)
    encoding = (_header(headers, "content-encoding") or "").strip().lower()
    if bodies.decodes(encoding) and not bodies.accepts(request.header("accept-encoding"), encoding):
        out = bodies.decoded(out, encoding)
        kept = [(k, v) for k, v in kept if k.lower() != "content-encoding"]
    return HttpOut(status, kept, out)


def _complete(request: HttpIn, status: int, headers: list[tuple[str, str]], body: bytes) -> HttpOut:
    kept = _wire(headers)
    if status in (204, 304):  # no body, and no Content-Length either (RFC 9110)
        return HttpOut(status, kept, [])
    encoding = (_header(headers, "content-encoding") or "").strip().lower()
    if bodies.decodes(encoding) and not bodies.accepts(request.header("accept-encoding"), encoding):
        body = bodies.decode_all(body, encoding)
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


def _reject_page(canister_id: Principal, reject: Reject) -> HttpOut:
    if reject.code is RejectCode.DESTINATION_INVALID or reject.error_code in _NO_PAGE:
        status = 404  # no such canister (ic-gateway's rule); also no module or no http_request
    elif reject.error_code in _UNAVAILABLE:
        status = 503
    else:
        status = 502  # trapped, out of instructions, rejected: the canister's fault
    return HttpOut.text(status, f"canister {canister_id} could not answer: {reject}")


def _decode(reply: bytes) -> dict[str, Any]:
    return candid.decode(reply, [HTTP_RESPONSE])[0]


def _forwarded(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    out = []
    for key, value in headers:
        name = key.lower()
        if name == "x-request-id":
            continue
        if name == "accept-encoding":
            encodings = [e.strip() for e in value.split(",") if e.strip()]
            if not any(e.split(";")[0].strip().lower() == "identity" for e in encodings):
                encodings.append("identity")
            value = ", ".join(encodings)
        out.append((key, value))
    return out


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


def _decodable(target: str) -> bool:
    """Whether the path percent-decodes to UTF-8 (what verification needs: gateway_verify)."""
    try:
        urllib.parse.unquote(urllib.parse.urlsplit(target).path, errors="strict")
    except (UnicodeDecodeError, ValueError):
        return False
    return True


def _strip_canister_id(target: str) -> str:
    """The URL the canister sees: `?canisterId=` only chose the canister. Other query text is
    kept byte for byte (v2 may certify it)."""
    path, question, query = target.partition("?")
    if not question:
        return target
    kept = [part for part in query.split("&") if part.split("=", 1)[0] != "canisterId"]
    return path + ("?" + "&".join(kept) if kept else "")


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    return next((v for k, v in headers if k.lower() == name), None)


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
