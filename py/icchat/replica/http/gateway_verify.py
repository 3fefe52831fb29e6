"""Response verification as the IC's HTTP gateways do it (HTTP Gateway Protocol, "Response
Verification"; behaviour checked against dfinity/response-verification, the library ic-gateway uses).

`IC-Certificate: certificate=:<b64 CBOR>:, tree=:<b64 CBOR>:[, version=2, expr_path=:<b64 CBOR>:]`

Both versions: the certificate verifies against the root key, is at most 5 minutes old, and
certifies the tree's root hash as the canister's `certified_data`.
- v1 (no `version`, or 1): the tree maps `http_assets/<decoded request path>` (else
  `http_assets//index.html`) to the SHA-256 of the body, decoded per `Content-Encoding`
  (gzip, deflate) or as sent. Status and headers are not certified: 3xx is refused and
  `Cache-Control` dropped, as ic-gateway does.
- v2: `expr_path` is the most specific path of the tree for the request path; under it, the
  SHA-256 of the `IC-CertificateExpression` header, then the request hash (or "" when the
  request is not certified), then the response hash, ending in an empty leaf. Only certified
  headers reach the client. `no_certification` certifies that nothing needs checking.

Everything but the body is checked by `verify_response` before a byte is sent; the body goes
through the returned `BodyCheck` as it streams (`update` per chunk, `finish` at the end), so a
large body is never held whole.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import urllib.parse
import zlib
from dataclasses import dataclass
from typing import Protocol

import cbor2

from icchat.ic.certificate import CertificateError, verify_certificate
from icchat.ic.hashtree import (
    HashTree,
    HashTreeError,
    Leaf,
    LookupStatus,
    from_cbor,
    lookup_path,
    lookup_subtree,
)
from icchat.ic.principal import Principal
from icchat.replica.http import gateway_v2 as v2
from icchat.replica.http.gateway_cel import CelError, parse_expression
from icchat.replica.http.gateway_types import CanisterRequest

MAX_CERTIFICATE_AGE_NS = 5 * 60 * 10**9
DECODE_PIECE_BYTES = 1024 * 1024


class VerificationError(Exception):
    """The response is not certified for this request; the message says why."""


class BodyCheck(Protocol):
    def update(self, chunk: bytes) -> None: ...

    def finish(self) -> None:
        """Raise VerificationError unless the body seen so far is the certified one."""


@dataclass
class Verified:
    version: int  # 1 or 2
    headers: list[tuple[str, str]]  # what the client may be given
    body: BodyCheck


def verify_response(request: CanisterRequest, status: int, headers: list[tuple[str, str]], canister_id: Principal,
                    root_key_der: bytes, now_ns: int) -> Verified:
    header = _header(headers, v2.CERTIFICATE_HEADER)
    if header is None:
        raise VerificationError(f"canister {canister_id} sent no IC-Certificate header")
    fields = _fields(header)
    if "certificate" not in fields or "tree" not in fields:
        raise VerificationError("the IC-Certificate header lacks certificate=:…: or tree=:…:")
    try:
        version = int(fields.get("version", "1"))
    except ValueError:
        raise VerificationError(f"IC-Certificate version {fields['version']!r} is not a number") from None
    certificate_bytes = _base64(fields["certificate"], "certificate")
    try:
        tree = from_cbor(_base64(fields["tree"], "tree"))
    except (HashTreeError, ValueError) as exc:
        raise VerificationError(f"the IC-Certificate tree is not a hash tree: {exc}") from None
    try:
        path = urllib.parse.unquote(urllib.parse.urlsplit(request.url).path, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise VerificationError(f"the request path of {request.url!r} is not valid percent-encoded UTF-8") from None
    if version not in (1, 2):
        raise VerificationError(f"IC-Certificate version {version} is not supported (1 and 2 are)")
    try:
        certificate = verify_certificate(certificate_bytes, root_key_der, canister_id=canister_id,
                                         now_ns=now_ns, max_age_ns=MAX_CERTIFICATE_AGE_NS)
    except CertificateError as exc:
        raise VerificationError(f"certificate: {exc}") from None
    certified = certificate.lookup([b"canister", canister_id.raw, b"certified_data"])
    if certified.status is not LookupStatus.FOUND:
        raise VerificationError(f"the certificate does not reveal the certified data of canister {canister_id}")
    if certified.value != tree.digest():
        raise VerificationError("the tree's root hash is not the canister's certified data")
    if version == 1:
        return _verify_v1(tree, path, status, headers)
    return _verify_v2(request, tree, path, fields, status, headers)


# --- v1 ---------------------------------------------------------------------------------------------


def _verify_v1(tree: HashTree, path: str, status: int, headers: list[tuple[str, str]]) -> Verified:
    expected = None
    for candidate in (path, "/index.html"):
        found = lookup_path(tree, [b"http_assets", candidate.encode()])
        if found.status is LookupStatus.FOUND:
            expected = found.value
            break
    if expected is None:
        raise VerificationError(f"the certification tree has no entry for {path} (nor /index.html)")
    if 300 <= status < 400:
        raise VerificationError("certification v1 does not cover status codes, so redirects are refused")
    encoding = (_header(headers, "content-encoding") or "").strip().lower()
    kept = [(k, v) for k, v in headers if k.lower() != "cache-control"]  # not certified in v1
    return Verified(1, kept, _V1Body(expected, path, encoding))


class _V1Body:
    """SHA-256 of the body decoded per Content-Encoding, and as sent (either may be certified)."""

    def __init__(self, expected: bytes, path: str, encoding: str) -> None:
        self.expected, self.path = expected, path
        self.raw = hashlib.sha256()
        self.decoded = hashlib.sha256() if encoding in ("gzip", "deflate") else None
        self.decoder = zlib.decompressobj(31 if encoding == "gzip" else -15) if self.decoded else None
        self.decode_error: str | None = None

    def update(self, chunk: bytes) -> None:
        self.raw.update(chunk)
        if self.decoder is not None and self.decode_error is None:
            try:
                while chunk and not self.decoder.eof:  # bounded pieces: a small bomb stays small in memory
                    self.decoded.update(self.decoder.decompress(chunk, DECODE_PIECE_BYTES))
                    chunk = self.decoder.unconsumed_tail
            except zlib.error as exc:
                self.decode_error = str(exc)

    def finish(self) -> None:
        if self.decoder is not None:
            if self.decode_error is None:
                try:
                    self.decoded.update(self.decoder.flush())  # output still inside the decoder
                except zlib.error as exc:
                    self.decode_error = str(exc)
            if self.decode_error is None and not self.decoder.eof:
                self.decode_error = "the compressed body ends early"
            if self.decode_error is not None:
                raise VerificationError(f"the body cannot be decoded per its Content-Encoding: {self.decode_error}")
            if self.decoded.digest() == self.expected:
                return
        if self.raw.digest() != self.expected:
            raise VerificationError(f"the body's SHA-256 does not match the certified hash of {self.path}")


# --- v2 ---------------------------------------------------------------------------------------------


def _verify_v2(request: CanisterRequest, tree: HashTree, path: str, fields: dict[str, str], status: int,
               headers: list[tuple[str, str]]) -> Verified:
    expression = _header(headers, v2.EXPRESSION_HEADER)
    if expression is None:
        raise VerificationError("certification v2 needs an IC-CertificateExpression header")
    if "expr_path" not in fields:
        raise VerificationError("the IC-Certificate header of certification v2 lacks expr_path=:…:")
    encoded = _base64(fields["expr_path"], "expr_path")
    try:
        expr_path = cbor2.loads(encoded)
    except Exception as exc:  # untrusted bytes: any decoding failure means "not CBOR"
        raise VerificationError(f"expr_path is not CBOR: {exc}") from None
    if not isinstance(expr_path, list) or not all(isinstance(s, str) for s in expr_path):
        raise VerificationError("expr_path must be a CBOR array of strings")
    try:
        certification = parse_expression(expression)
        v2.validate_expression_path(expr_path, path, tree)
    except (CelError, v2.ExpressionPathError) as exc:
        raise VerificationError(str(exc)) from None
    expr_tree = lookup_subtree(tree, [*expr_path, hashlib.sha256(expression.encode()).digest()])
    if expr_tree is None:
        raise VerificationError(f"the tree has no certification expression at {expr_path} matching IC-CertificateExpression")
    if certification.skip:
        return Verified(2, list(headers), _NoBodyCheck())
    request_label = b""
    if certification.certifies_request:
        request_label = v2.request_hash(request.method, request.url, request.headers, request.body, certification)
        if lookup_subtree(expr_tree, [request_label]) is None:
            raise VerificationError("the request is not certified (no certified request hash matches it)")
    certified_headers = v2.certified_response_headers(headers, certification)
    headers_hash = v2.response_headers_hash(status, certified_headers)
    out = [*certified_headers, ("IC-Certificate", _header(headers, v2.CERTIFICATE_HEADER) or "")]
    return Verified(2, out, _V2Body(expr_tree, request_label, headers_hash, path))


class _V2Body:
    def __init__(self, expr_tree: HashTree, request_label: bytes, headers_hash: bytes, path: str) -> None:
        self.expr_tree, self.request_label, self.headers_hash, self.path = expr_tree, request_label, headers_hash, path
        self.sha = hashlib.sha256()

    def update(self, chunk: bytes) -> None:
        self.sha.update(chunk)

    def finish(self) -> None:
        response = v2.response_hash(self.headers_hash, self.sha.digest())
        leaf = lookup_subtree(self.expr_tree, [self.request_label, response])
        if leaf is None:
            raise VerificationError(f"the response (status, certified headers, body SHA-256) does not match the certified response for {self.path}")
        if not (isinstance(leaf, Leaf) and leaf.value == b""):
            raise VerificationError("the certified response hash does not end in an empty leaf")


class _NoBodyCheck:
    def update(self, chunk: bytes) -> None:
        pass

    def finish(self) -> None:
        pass


# --- header parsing ---------------------------------------------------------------------------------


def _fields(header: str) -> dict[str, str]:
    """`name=:value:` or `name=value` fields separated by commas; the first of a repeated name wins."""
    fields: dict[str, str] = {}
    for part in header.split(","):
        name, eq, value = part.strip().partition("=")
        value = value[1:] if value.startswith(":") else value
        value = value[:-1] if value.endswith(":") else value
        if eq and name and value and name not in fields:
            fields[name] = value
    return fields


def _base64(value: str, what: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise VerificationError(f"the IC-Certificate {what} is not base64: {exc}") from None


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    return next((v for k, v in headers if k.lower() == name), None)
