"""Request envelopes of the HTTP interface: parse and validate the CBOR body of
/api/v{2,3,4}/canister/<id>/{call,query,read_state} (interface spec, "HTTPS Interface").

    envelope = parse_envelope(body, expected_type="query")   # EnvelopeError -> HTTP 400 / 413
    envelope.verify(now_ns=time.time_ns(), effective_canister_id=cid)  # expiry + sender auth

`request.request_id` is the representation-independent hash of `content` as sent. Host-only (cbor2).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import cbor2

from icchat.ic.auth import AuthError, SignedDelegation, verify_sender
from icchat.ic.principal import Principal
from icchat.ic.request_id import request_id

REQUEST_TYPES = ("call", "query", "read_state")
MAX_ENVELOPE_BYTES = 5 * 1024 * 1024  # the ingress limit is 2 MiB of payload; leave room for the rest
MAX_NONCE_BYTES = 32
MAX_PATHS = 1000
MAX_PATH_LENGTH = 127
# rs/limits: requests may expire at most MAX_INGRESS_TTL + PERMITTED_DRIFT_AT_VALIDATOR from now.
MAX_INGRESS_TTL_NS = 5 * 60 * 10**9
PERMITTED_DRIFT_AT_VALIDATOR_NS = 30 * 10**9
SELF_DESCRIBE_TAG = 55799

_ENVELOPE_KEYS = {"content", "sender_pubkey", "sender_sig", "sender_delegation"}
_CONTENT_KEYS = {
    "call": {"request_type", "canister_id", "method_name", "arg", "sender", "ingress_expiry", "nonce", "sender_info"},
    "query": {"request_type", "canister_id", "method_name", "arg", "sender", "ingress_expiry", "nonce", "sender_info"},
    "read_state": {"request_type", "paths", "sender", "ingress_expiry", "nonce"},
}


class EnvelopeError(ValueError):
    """A request the HTTP layer must refuse; `status` is the HTTP status code to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Request:
    """The `content` map, typed. Fields a request type lacks are None."""

    request_type: str
    sender: Principal
    ingress_expiry: int
    nonce: bytes | None
    canister_id: Principal | None
    method_name: str | None
    arg: bytes | None
    paths: tuple[tuple[bytes, ...], ...] | None
    request_id: bytes
    content: Mapping[str, Any]


@dataclass(frozen=True)
class Envelope:
    request: Request
    sender_pubkey: bytes | None
    sender_sig: bytes | None
    sender_delegation: tuple[SignedDelegation, ...] | None

    def verify(self, *, now_ns: int, effective_canister_id: Principal | None = None) -> None:
        """Expiry window and sender authentication; EnvelopeError (400) if either fails."""
        req = self.request
        anonymous_read = req.sender.is_anonymous and req.request_type in ("query", "read_state")
        if not anonymous_read:
            check_expiry(req.ingress_expiry, now_ns)
        # Delegation targets apply to the canister addressed; for the management canister and
        # read_state that is the effective canister id of the URL.
        target = req.canister_id
        if target is None or (target == Principal.management() and effective_canister_id is not None):
            target = effective_canister_id
        try:
            verify_sender(req.sender, req.request_id, sender_pubkey=self.sender_pubkey,
                          sender_sig=self.sender_sig, delegations=self.sender_delegation,
                          now_ns=now_ns, canister_id=target)
        except AuthError as exc:
            raise EnvelopeError(f"authentication failed: {exc}") from None


def check_expiry(ingress_expiry: int, now_ns: int) -> None:
    if ingress_expiry < now_ns:
        raise EnvelopeError(f"request expired: ingress_expiry {ingress_expiry} is before now ({now_ns})")
    latest = now_ns + MAX_INGRESS_TTL_NS + PERMITTED_DRIFT_AT_VALIDATOR_NS
    if ingress_expiry > latest:
        raise EnvelopeError(f"ingress_expiry {ingress_expiry} is too far in the future "
                            f"(at most {(latest - now_ns) // 10**9} s from now)")


def parse_envelope(body: bytes, *, expected_type: str | None = None,
                   max_size: int = MAX_ENVELOPE_BYTES) -> Envelope:
    """Decode and check an envelope's structure (not its signature: see Envelope.verify)."""
    if len(body) > max_size:
        raise EnvelopeError(f"request body of {len(body)} bytes exceeds the limit of {max_size}", status=413)
    try:
        obj = cbor2.loads(bytes(body))
    except (cbor2.CBORDecodeError, RecursionError, ValueError, TypeError, OverflowError) as exc:
        raise EnvelopeError(f"request body is not valid CBOR: {exc}") from None
    if isinstance(obj, cbor2.CBORTag) and obj.tag == SELF_DESCRIBE_TAG:
        obj = obj.value
    env = _map(obj, "request envelope")
    _no_unknown(env, _ENVELOPE_KEYS, "envelope")
    content = _map(_required(env, "content", "envelope"), "content")
    request = _parse_content(content, expected_type)
    delegations = None
    if env.get("sender_delegation") is not None:
        delegations = _parse_delegations(env["sender_delegation"])
    return Envelope(
        request,
        _optional_bytes(env, "sender_pubkey", "envelope"),
        _optional_bytes(env, "sender_sig", "envelope"),
        delegations,
    )


def _parse_content(content: Mapping[str, Any], expected_type: str | None) -> Request:
    rtype = _required(content, "request_type", "content")
    if rtype not in REQUEST_TYPES:
        raise EnvelopeError(f"unknown request_type {rtype!r}; expected one of {', '.join(REQUEST_TYPES)}")
    if expected_type is not None and rtype != expected_type:
        raise EnvelopeError(f"request_type {rtype!r} sent to the {expected_type} endpoint")
    _no_unknown(content, _CONTENT_KEYS[rtype], f"{rtype} content")
    if "sender_info" in content:
        raise EnvelopeError("sender_info (canister-signed sender information) is not supported")
    sender = _principal(_required(content, "sender", "content"), "sender")
    expiry = _required(content, "ingress_expiry", "content")
    if isinstance(expiry, bool) or not isinstance(expiry, int) or expiry < 0:
        raise EnvelopeError(f"content.ingress_expiry must be a nat (nanoseconds), got {_short(expiry)}")
    nonce = _optional_bytes(content, "nonce", "content")
    if nonce is not None and len(nonce) > MAX_NONCE_BYTES:
        raise EnvelopeError(f"content.nonce has {len(nonce)} bytes, at most {MAX_NONCE_BYTES} allowed")
    canister_id = method = arg = paths = None
    if rtype in ("call", "query"):
        canister_id = _principal(_required(content, "canister_id", "content"), "canister_id")
        method = _required(content, "method_name", "content")
        if not isinstance(method, str):
            raise EnvelopeError(f"content.method_name must be text, got {_short(method)}")
        arg = _bytes(_required(content, "arg", "content"), "content.arg")
    else:
        paths = _parse_paths(_required(content, "paths", "content"))
    try:
        rid = request_id(content)
    except ValueError as exc:
        raise EnvelopeError(f"content cannot be hashed: {exc}") from None
    return Request(rtype, sender, expiry, nonce, canister_id, method, arg, paths, rid, content)


def _parse_paths(obj: Any) -> tuple[tuple[bytes, ...], ...]:
    if not isinstance(obj, (list, tuple)):
        raise EnvelopeError(f"content.paths must be an array of paths, got {_short(obj)}")
    if len(obj) > MAX_PATHS:
        raise EnvelopeError(f"{len(obj)} paths requested, at most {MAX_PATHS} allowed")
    paths = []
    for i, path in enumerate(obj):
        if not isinstance(path, (list, tuple)) or len(path) > MAX_PATH_LENGTH:
            raise EnvelopeError(f"content.paths[{i}] must be an array of at most {MAX_PATH_LENGTH} blobs")
        paths.append(tuple(_bytes(label, f"content.paths[{i}] label") for label in path))
    return tuple(paths)


def _parse_delegations(obj: Any) -> tuple[SignedDelegation, ...]:
    if not isinstance(obj, (list, tuple)):
        raise EnvelopeError(f"sender_delegation must be an array, got {_short(obj)}")
    out = []
    for i, entry in enumerate(obj):
        where = f"sender_delegation[{i}]"
        entry = _map(entry, where)
        _no_unknown(entry, {"delegation", "signature"}, where)
        fields = _map(_required(entry, "delegation", where), f"{where}.delegation")
        pubkey = _bytes(_required(fields, "pubkey", f"{where}.delegation"), f"{where}.delegation.pubkey")
        expiration = _required(fields, "expiration", f"{where}.delegation")
        if isinstance(expiration, bool) or not isinstance(expiration, int) or expiration < 0:
            raise EnvelopeError(f"{where}.delegation.expiration must be a nat, got {_short(expiration)}")
        targets = None
        if fields.get("targets") is not None:
            raw = fields["targets"]
            if not isinstance(raw, (list, tuple)):
                raise EnvelopeError(f"{where}.delegation.targets must be an array of canister ids")
            targets = tuple(_principal(t, f"{where}.delegation.targets") for t in raw)
        signature = _bytes(_required(entry, "signature", where), f"{where}.signature")
        out.append(SignedDelegation(pubkey, expiration, targets, signature, fields))
    return tuple(out)


# --- small checked accessors ----------------------------------------------------------------------


def _map(obj: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(obj, Mapping) or not all(isinstance(k, str) for k in obj):
        raise EnvelopeError(f"{what} must be a CBOR map with text keys, got {_short(obj)}")
    return obj


def _required(m: Mapping[str, Any], key: str, what: str) -> Any:
    if key not in m or m[key] is None:
        raise EnvelopeError(f"{what} is missing the field {key!r}")
    return m[key]


def _no_unknown(m: Mapping[str, Any], allowed: set[str], what: str) -> None:
    unknown = sorted(set(m) - allowed)
    if unknown:
        raise EnvelopeError(f"{what} has unknown field(s): {', '.join(unknown)}")


def _bytes(obj: Any, what: str) -> bytes:
    if not isinstance(obj, (bytes, bytearray)):
        raise EnvelopeError(f"{what} must be a byte string, got {_short(obj)}")
    return bytes(obj)


def _optional_bytes(m: Mapping[str, Any], key: str, what: str) -> bytes | None:
    return None if m.get(key) is None else _bytes(m[key], f"{what}.{key}")


def _principal(obj: Any, what: str) -> Principal:
    raw = _bytes(obj, what)
    try:
        return Principal(raw)
    except ValueError as exc:
        raise EnvelopeError(f"{what}: {exc}") from None


def _short(obj: Any) -> str:
    text = repr(obj)
    return text if len(text) < 60 else text[:57] + "..."
