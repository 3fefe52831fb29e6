"""The IC HTTP interface (`/api/...`): status, query, call and read_state.

    GET  /api/v2/status
    POST /api/v2/canister/<effective canister id>/call        202, poll read_state for the result
    POST /api/v3|v4/canister/<effective canister id>/call     200 with a certificate (or 202 after
                                                              SYNC_CALL_WAIT, then poll)
    POST /api/v2|v3/canister/<effective canister id>/query    signed by the node key
    POST /api/v2|v3/canister/<effective canister id>/read_state
    POST /api/v2|v3/subnet/<subnet id>/read_state

Malformed, expired, unauthenticated or oversized requests get 4xx with a one-line reason; an
expiry problem starts with "Invalid request expiry: ", which the agents recognise to resync
their clock.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from typing import Any

import cbor2

from icchat.ic.envelope import Envelope, EnvelopeError, check_expiry, parse_envelope
from icchat.ic.principal import Principal
from icchat.ic.request_id import hash_of_map
from icchat.replica.errors import ErrorCode, IngressTooLarge, Reject, RejectCode
from icchat.replica.http.certified_state import SELF_DESCRIBE_TAG, CertifiedState
from icchat.replica.http.ingress import IngressCall, IngressQueue
from icchat.replica.http.messages import HttpIn, HttpOut

API_VERSION = "0.18.0"
SYNC_CALL_WAIT = 10.0  # seconds a synchronous call waits for its certificate, as on the IC
RESPONSE_DOMAIN = b"\x0bic-response"
MANAGEMENT = Principal.management()

_ROUTE = re.compile(r"^/api/(v2|v3|v4)/(canister|subnet)/([^/?]+)/(call|query|read_state)/?$")
# Which versions serve what; anything else is 404 (agents fall back from v4 on a 404).
_SUPPORTED = {
    ("canister", "call"): {"v2", "v3", "v4"},
    ("canister", "query"): {"v2", "v3"},
    ("canister", "read_state"): {"v2", "v3"},
    ("subnet", "read_state"): {"v2", "v3"},
}
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
        if endpoint == "read_state":
            return self.read_state(request.body, kind, target)
        if endpoint == "query":
            return self.query(request.body, target)
        return self.call(request.body, target, version)

    # --- status ---------------------------------------------------------------------------------

    def status(self) -> HttpOut:
        from icchat import __version__

        return cbor_response({
            "ic_api_version": API_VERSION,
            "impl_version": f"icchat-local-replica/{__version__}",
            "impl_source": "icchat (local development replica, not the IC)",
            "root_key": self.state.root_key_der(),
            "replica_health_status": "healthy",
            "certified_height": len(self.replica.canister_ids()),
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

    def _check_target(self, canister_id: Principal, effective_id: Principal) -> None:
        # Calls to the management canister are routed by the canister they are about; any
        # effective canister id of this subnet will do here (one subnet).
        if canister_id != effective_id and canister_id != MANAGEMENT:
            raise ApiError(400, f"canister id {canister_id} does not match the effective canister id {effective_id} of the URL")
        if canister_id != MANAGEMENT and not self._in_ranges(canister_id):
            raise ApiError(400, f"canister {canister_id} does not belong to this replica's subnet")

    def _in_ranges(self, canister_id: Principal) -> bool:
        return any(lo.raw <= canister_id.raw <= hi.raw for lo, hi in self.replica.canister_ranges)

    # --- query ----------------------------------------------------------------------------------

    def query(self, body: bytes, effective_id: Principal) -> HttpOut:
        request = self._envelope(body, "query", effective_id).request
        assert request.canister_id is not None and request.method_name is not None
        self._check_target(request.canister_id, effective_id)
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

    def call(self, body: bytes, effective_id: Principal, version: str) -> HttpOut:
        request = self._envelope(body, "call", effective_id).request
        assert request.canister_id is not None and request.method_name is not None
        self._check_target(request.canister_id, effective_id)
        arg = request.arg or b""
        status, new = self.state.requests.submit(request.request_id, request.sender, request.ingress_expiry)
        if new:
            try:
                self.replica.inspect_message(request.canister_id, request.method_name, arg, sender=request.sender)
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
            self.ingress.submit(IngressCall(status, request.canister_id, request.method_name, arg, request.sender))
        if version == "v2" or not status.done_event.wait(SYNC_CALL_WAIT):
            return HttpOut(202, [("content-length", "0")], [])
        certificate = self.state.certificate([[b"request_status", request.request_id]], [request.request_id])
        return cbor_response({"status": "replied", "certificate": certificate})

    # --- read_state -----------------------------------------------------------------------------

    def read_state(self, body: bytes, kind: str, effective_id: Principal) -> HttpOut:
        request = self._envelope(body, "read_state", effective_id if kind == "canister" else None).request
        paths = request.paths or ()
        if kind == "subnet":
            self._check_subnet_paths(paths, effective_id)
            request_ids: list[bytes] = []
        else:
            request_ids = self._check_canister_paths(paths, effective_id, request.sender)
        certificate = self.state.certificate([list(p) for p in paths], request_ids)
        return cbor_response({"certificate": certificate})

    def _check_subnet_paths(self, paths: Sequence[Sequence[bytes]], subnet_id: Principal) -> None:
        if subnet_id != self.state.subnet_id:
            raise ApiError(404, f"subnet {subnet_id} is not this replica's subnet ({self.state.subnet_id})")
        for path in paths:
            if not path or path[0] not in (b"time", b"subnet", b"canister_ranges"):
                raise ApiError(403, f"path {_show(path)} cannot be read from a subnet")

    def _check_canister_paths(self, paths: Sequence[Sequence[bytes]], canister_id: Principal, sender: Principal) -> list[bytes]:
        request_ids: set[bytes] = set()
        for path in paths:
            head = path[0] if path else b""
            if head in (b"time", b"subnet"):
                continue
            if head == b"canister":
                if len(path) < 3 or path[1] != canister_id.raw:
                    raise ApiError(403, f"path {_show(path)}: only the effective canister {canister_id} can be read here")
                if path[2] not in (b"module_hash", b"controllers", b"metadata"):
                    raise ApiError(403, f"path {_show(path)} is not readable (module_hash, controllers, metadata)")
                continue
            if head == b"request_status" and len(path) >= 2:
                request_ids.add(path[1])
                status = self.state.requests.get(path[1])
                if status is not None and status.sender != sender:
                    raise ApiError(403, f"request {path[1].hex()} was sent by another principal; only its sender may read its status")
                continue
            raise ApiError(403, f"path {_show(path)} cannot be read")
        if len(request_ids) > 1:
            raise ApiError(400, "a read_state request may ask about at most one request id")
        return sorted(request_ids)


def _reject_fields(reject: Reject, *, status: str) -> dict[str, Any]:
    error_code = reject.error_code or _DEFAULT_ERROR_CODE.get(reject.code, ErrorCode.CANISTER_REJECTED_MESSAGE.value)
    return {"status": status, "reject_code": int(reject.code), "reject_message": reject.message, "error_code": error_code}


def _show(path: Sequence[bytes]) -> str:
    def label(part: bytes) -> str:
        text = part.decode("ascii", "replace")
        return text if part.isascii() and text.isprintable() else part.hex()

    return "/" + "/".join(label(part) for part in path)
