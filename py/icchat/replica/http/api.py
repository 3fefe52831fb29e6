"""The IC HTTP interface (`/api/...`): status, query, call and read_state.

    GET  /api/v2/status
    POST /api/v2/canister/<effective canister id>/call        202, poll read_state for the result
    POST /api/v3|v4/canister/<effective canister id>/call     200 with a certificate (or 202 after
                                                              SYNC_CALL_WAIT, then poll)
    POST /api/v4/subnet/<subnet id>/call                      the same, canister creation only
    POST /api/v2|v3/canister/<effective canister id>/query    signed by the node key
    POST /api/v3/subnet/<subnet id>/query                     `list_canisters` of aaaaa-aa only
    POST /api/v2|v3/canister/<effective canister id>/read_state
    POST /api/v2|v3/subnet/<subnet id>/read_state

Malformed, expired, unauthenticated or oversized requests get 4xx with a one-line reason; an
expiry problem starts with "Invalid request expiry: ", which the agents recognise to resync
their clock. read_state answers unreadable paths as the IC's endpoint does (404 for a path it
does not serve, 400 for a malformed or mismatched one, 403 for another sender's request).
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from typing import Any

import cbor2

from icchat.ic import candid
from icchat.ic.certificate import SELF_DESCRIBE_TAG
from icchat.ic.envelope import Envelope, EnvelopeError, check_expiry, parse_envelope
from icchat.ic.principal import Principal
from icchat.ic.request_id import hash_of_map
from icchat.replica.errors import ErrorCode, IngressTooLarge, Reject, RejectCode
from icchat.replica.http.certified_state import CertifiedState
from icchat.replica.http.ingress import IngressCall, IngressQueue
from icchat.replica.http.messages import HttpIn, HttpOut
from icchat.replica.management import METHODS as MANAGEMENT_METHODS

API_VERSION = "0.18.0"
SYNC_CALL_WAIT = 10.0  # seconds a synchronous call waits for its certificate, as on the IC
RESPONSE_DOMAIN = b"\x0bic-response"
MANAGEMENT = Principal.management()
REQUEST_ID_BYTES = 32
# Management methods any effective canister id (or an effective subnet id) may carry.
CREATION_METHODS = frozenset({"create_canister", "provisional_create_canister_with_cycles"})
SUBNET_QUERY_METHODS = frozenset({"list_canisters"})

_ROUTE = re.compile(r"^/api/(v2|v3|v4)/(canister|subnet)/([^/?]+)/(call|query|read_state)/?$")
# Which versions serve what; anything else is 404 (agents fall back from v4 on a 404).
_SUPPORTED = {
    ("canister", "call"): {"v2", "v3", "v4"},
    ("canister", "query"): {"v2", "v3"},
    ("canister", "read_state"): {"v2", "v3"},
    ("subnet", "call"): {"v4"},
    ("subnet", "query"): {"v3"},
    ("subnet", "read_state"): {"v2", "v3"},
}
# Paths readable at each kind of read_state endpoint, by their first label.
_READABLE = {
    "canister": {b"time", b"api_boundary_nodes", b"subnet", b"canister", b"request_status"},
    "subnet": {b"time", b"api_boundary_nodes", b"subnet", b"canister_ranges", b"request_status"},
}
_REQUEST_STATUS_FIELDS = {b"status", b"reply", b"reject_code", b"reject_message", b"error_code"}
# When a reject carries no IC error code, the one the IC would use for that reject code.
_DEFAULT_ERROR_CODE = {
    RejectCode.DESTINATION_INVALID: ErrorCode.CANISTER_NOT_FOUND.value,
    RejectCode.CANISTER_REJECT: ErrorCode.CANISTER_REJECTED_MESSAGE.value,
    RejectCode.CANISTER_ERROR: ErrorCode.CANISTER_CALLED_TRAP.value,
}


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def cbor_response(value: Any, status: int = 200, *, self_describe: bool = False) -> HttpOut:
    # Only the status answer carries the self-describe tag (clients decoding it with cbor2 get
    # tuples instead of lists inside tagged values, which icp-py-core does not accept).
    data = cbor2.dumps(cbor2.CBORTag(SELF_DESCRIBE_TAG, value) if self_describe else value)
    return HttpOut(status, [("content-type", "application/cbor"), ("content-length", str(len(data)))], [data])


class Api:
    def __init__(self, replica: Any, state: CertifiedState, ingress: IngressQueue, started: float) -> None:
        self.replica = replica
        self.state = state
        self.ingress = ingress
        self.started = started

    def handle(self, request: HttpIn) -> HttpOut:
        try:
            return self._route(request)
        except ApiError as exc:
            return HttpOut.text(exc.status, str(exc))
        except EnvelopeError as exc:
            return HttpOut.text(exc.status, str(exc))

    def _route(self, request: HttpIn) -> HttpOut:
        path = request.target.split("?", 1)[0]
        if path in ("/api/v2/status", "/api/v2/status/"):
            if request.method not in ("GET", "HEAD"):
                raise ApiError(405, "use GET for /api/v2/status")
            return self.status()
        match = _ROUTE.match(path)
        if match is None:
            raise ApiError(404, f"no such endpoint: {path}")
        version, kind, target_text, endpoint = match.groups()
        if version not in _SUPPORTED.get((kind, endpoint), set()):
            raise ApiError(404, f"{endpoint} is not served at /api/{version}/{kind}/")
        if request.method != "POST":
            raise ApiError(405, f"use POST for {endpoint}")
        try:
            target = Principal.from_text(target_text)
        except ValueError as exc:
            raise ApiError(400, f"invalid {kind} id {target_text!r}: {exc}") from None
        if kind == "subnet" and target != self.state.subnet_id:
            raise ApiError(404, f"subnet {target} is not this replica's subnet ({self.state.subnet_id})")
        if endpoint == "read_state":
            return self.read_state(request.body, kind, target)
        if endpoint == "query":
            return self.query(request.body, kind, target)
        return self.call(request.body, kind, target, version)

    # --- status ---------------------------------------------------------------------------------

    def status(self) -> HttpOut:
        from icchat import __version__

        return cbor_response({
            "ic_api_version": API_VERSION,
            "impl_version": f"icchat-local-replica/{__version__}",
            "impl_source": "icchat (local development replica, not the IC)",
            "root_key": self.state.root_key_der(),
            "replica_health_status": "healthy",
            "icchat_uptime_seconds": int(time.monotonic() - self.started),
            "icchat_canisters": [c.raw for c in self.replica.canister_ids()],
        }, self_describe=True)

    # --- envelopes ------------------------------------------------------------------------------

    def _envelope(self, body: bytes, request_type: str, effective_id: Principal | None) -> Envelope:
        envelope = parse_envelope(body, expected_type=request_type)
        request = envelope.request
        now = self.replica.time_ns()
        anonymous_read = request.sender.is_anonymous and request_type != "call"
        if not anonymous_read:
            try:
                check_expiry(request.ingress_expiry, now)
            except EnvelopeError as exc:
                raise ApiError(400, f"Invalid request expiry: {exc}") from None
        envelope.verify(now_ns=now, effective_canister_id=effective_id)
        return envelope

    def _check_target(self, kind: str, effective_id: Principal, canister_id: Principal, method: str, arg: bytes, *, query: bool) -> None:
        """The spec's effective canister (or subnet) id rules for one call or query."""
        if kind == "subnet":
            allowed = SUBNET_QUERY_METHODS if query else CREATION_METHODS
            if canister_id != MANAGEMENT or method not in allowed:
                what = "queries" if query else "calls"
                raise ApiError(400, f"subnet-scoped {what} may only go to aaaaa-aa's {' or '.join(sorted(allowed))}, not {canister_id}'s {method}")
            return
        if canister_id != MANAGEMENT:
            if canister_id != effective_id:
                raise ApiError(400, f"canister id {canister_id} does not match the effective canister id {effective_id} of the URL")
            if not self._in_ranges(canister_id):
                raise ApiError(400, f"canister {canister_id} does not belong to this replica's subnet")
            return
        # The management canister is routed by the canister a call is about.
        about = _management_subject(method, arg)
        if about is not None and about != effective_id:
            raise ApiError(400, f"the effective canister id {effective_id} of the URL must be the canister the call to aaaaa-aa's {method} is about ({about})")

    def _in_ranges(self, canister_id: Principal) -> bool:
        return any(lo.raw <= canister_id.raw <= hi.raw for lo, hi in self.replica.canister_ranges)

    # --- query ----------------------------------------------------------------------------------

    def query(self, body: bytes, kind: str, effective_id: Principal) -> HttpOut:
        request = self._envelope(body, "query", effective_id if kind == "canister" else None).request
        assert request.canister_id is not None and request.method_name is not None
        self._check_target(kind, effective_id, request.canister_id, request.method_name, request.arg or b"", query=True)
        try:
            reply = self.replica.query(request.canister_id, request.method_name, request.arg or b"", sender=request.sender)
            response: dict[str, Any] = {"status": "replied", "reply": {"arg": reply}}
        except Reject as reject:
            response = _reject_fields(reject, status="rejected")
        timestamp = self.replica.time_ns()
        signed = hash_of_map({**response, "timestamp": timestamp, "request_id": request.request_id})
        response["signatures"] = [{
            "timestamp": timestamp,
            "signature": self.state.keys.sign_response(RESPONSE_DOMAIN + signed),
            "identity": self.state.keys.node_id.raw,
        }]
        return cbor_response(response)

    # --- call -----------------------------------------------------------------------------------

    def call(self, body: bytes, kind: str, effective_id: Principal, version: str) -> HttpOut:
        request = self._envelope(body, "call", effective_id if kind == "canister" else None).request
        assert request.canister_id is not None and request.method_name is not None
        arg = request.arg or b""
        self._check_target(kind, effective_id, request.canister_id, request.method_name, arg, query=False)
        status, new = self.state.requests.submit(request.request_id, request.sender, request.ingress_expiry, effective_id)
        if new:
            try:
                self.ingress.refuse_if_storage_fails()
                self.replica.inspect_message(request.canister_id, request.method_name, arg, sender=request.sender,
                                             ingress_bytes=len(body))
            except IngressTooLarge as exc:
                self.state.requests.forget(request.request_id)
                raise ApiError(413, exc.message) from None
            except Reject as reject:
                # Refused before execution (no such canister, stopped, inspect_message said no):
                # not certified, nothing recorded, as on the IC.
                self.state.requests.forget(request.request_id)
                fields = _reject_fields(reject, status="non_replicated_rejection")
                if version == "v2":
                    del fields["status"]
                return cbor_response(fields)
            self.ingress.submit(IngressCall(status, request.canister_id, request.method_name, arg, request.sender, len(body)))
        if version == "v2" or not status.done_event.wait(SYNC_CALL_WAIT):
            return HttpOut(202, [("content-length", "0")], [])
        certificate = self.state.certificate([[b"request_status", request.request_id]], [request.request_id])
        return cbor_response({"status": "replied", "certificate": certificate})

    # --- read_state -----------------------------------------------------------------------------

    def read_state(self, body: bytes, kind: str, effective_id: Principal) -> HttpOut:
        request = self._envelope(body, "read_state", effective_id if kind == "canister" else None).request
        self.state.requests.prune(self.replica.time_ns())
        request_ids = self._check_paths(request.paths or (), kind, effective_id, request.sender)
        certificate = self.state.certificate([list(p) for p in request.paths or ()], request_ids)
        return cbor_response({"certificate": certificate})

    def _check_paths(self, paths: Sequence[Sequence[bytes]], kind: str, effective_id: Principal, sender: Principal) -> list[bytes]:
        """The request ids asked about, once every path is readable here by `sender`."""
        request_ids: set[bytes] = set()
        range_subnets: set[bytes] = set()
        for path in paths:
            head = path[0] if path else b""
            if head not in _READABLE[kind]:
                raise ApiError(404, f"Invalid path requested: {_show(path)} cannot be read at a {kind} read_state")
            if head == b"canister":
                if len(path) < 3 or len(path) != (4 if path[2] == b"metadata" else 3) or path[2] not in (b"module_hash", b"controllers", b"metadata"):
                    raise ApiError(404, f"Invalid path requested: {_show(path)} (readable: module_hash, controllers, metadata/<name>)")
                if path[2] == b"metadata" and not _is_utf8(path[3]):
                    raise ApiError(400, f"path {_show(path)}: a custom section name must be UTF-8")
                if path[1] != effective_id.raw:
                    raise ApiError(400, f"path {_show(path)}: the effective canister id of the URL is {effective_id}; only its paths can be read here")
            elif head == b"canister_ranges":
                if len(path) >= 2:
                    range_subnets.add(path[1])
            elif head == b"request_status":
                if len(path) < 2 or len(path) > 3 or (len(path) == 3 and path[2] not in _REQUEST_STATUS_FIELDS):
                    raise ApiError(404, f"Invalid path requested: {_show(path)}")
                if len(path[1]) != REQUEST_ID_BYTES:
                    raise ApiError(400, f"Request IDs must be {REQUEST_ID_BYTES} bytes in length, not {len(path[1])}")
                request_ids.add(path[1])
                status = self.state.requests.get(path[1])
                if status is not None and status.sender != sender:
                    raise ApiError(403, f"Request IDs must be for requests signed by the caller: request {path[1].hex()} was sent by another principal")
                if status is not None and status.effective_id != effective_id:
                    raise ApiError(403, f"request {path[1].hex()} was sent to {status.effective_id}, not {effective_id}; read its status there")
        if len(request_ids) > 1:
            raise ApiError(400, "Can only request a single request ID in request_status paths")
        if len(range_subnets) > 1:
            raise ApiError(400, "Can only request the canister ranges of a single subnet")
        return sorted(request_ids)


def _management_subject(method: str, arg: bytes) -> Principal | None:
    """The canister a call to aaaaa-aa is about (its effective canister id), None if any id will
    do (canister creation, list_canisters) or the argument does not say (the management canister
    then rejects the call itself)."""
    func = MANAGEMENT_METHODS.get(method)
    if func is None or method in CREATION_METHODS or method in SUBNET_QUERY_METHODS:
        return None
    try:
        args = candid.decode(arg, func.args)
    except candid.CandidError:
        return None
    record = args[0] if args else None
    if not isinstance(record, dict):
        return None
    subject = record.get("target_canister" if method == "install_chunked_code" else "canister_id")
    return subject if isinstance(subject, Principal) else None


def _reject_fields(reject: Reject, *, status: str) -> dict[str, Any]:
    error_code = reject.error_code or _DEFAULT_ERROR_CODE.get(reject.code, ErrorCode.CANISTER_REJECTED_MESSAGE.value)
    return {"status": status, "reject_code": int(reject.code), "reject_message": reject.message, "error_code": error_code}


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _show(path: Sequence[bytes]) -> str:
    def label(part: bytes) -> str:
        text = part.decode("ascii", "replace")
        return text if part.isascii() and text.isprintable() else part.hex()

    return "/" + "/".join(label(part) for part in path)
