"""A client of the IC HTTP interface (interface spec, "HTTPS Interface"): queries, update calls
with verified certificates, read_state. Works against the local replica and mainnet alike.

    agent = Agent("http://127.0.0.1:4943", Ed25519Identity.generate())
    agent.fetch_root_key()                        # local replicas only; mainnet's key is built in
    reply = agent.query(canister_id, "get", arg)  # bytes (Candid is the caller's business)
    reply = agent.update(canister_id, "set", arg) # bytes, certified; CanisterReject if rejected

Updates go to `/api/v3/canister/<id>/call` (synchronous: the answer carries a certificate), fall
back to v2 on a 404, and poll `read_state` of `request_status/<request id>` on a 202. Every
certificate is checked against the root key (and a subnet delegation against the canister id)
before its contents are believed. Queries use `/api/v3` (v2 on a 404); checking the node's
signature on a query answer is optional (`verify_query_signatures=True`). Thread-safe: each
thread keeps its own keep-alive connection. Host-only (cbor2, pyblst, cryptography).
"""

from __future__ import annotations

import http.client
import os
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import cbor2

from icchat.ic.auth import AuthError, verify_signature
from icchat.ic.certificate import Certificate, CertificateError, verify_certificate
from icchat.ic.hashtree import LookupStatus
from icchat.ic.identity import Identity
from icchat.ic.idl.errors import CandidError
from icchat.ic.idl.leb128 import Reader
from icchat.ic.principal import Principal
from icchat.ic.request_id import hash_of_map, request_id

REQUEST_DOMAIN = b"\x0aic-request"
RESPONSE_DOMAIN = b"\x0bic-response"
INGRESS_EXPIRY_NS = 4 * 60 * 10**9  # the IC accepts up to 5 min (+30 s drift) ahead
MAX_CERTIFICATE_AGE_NS = 5 * 60 * 10**9
POLL_FIRST_S, POLL_MAX_S = 0.05, 1.0
RETRY_STATUSES = (429, 502, 503, 504)
RETRY_DELAYS_S = (0.5, 1.0, 2.0)
# Hosts of mainnet's API boundary nodes: the root key is a constant there, never fetched.
MAINNET_HOSTS = ("icp-api.io", "ic0.app", "icp0.io")
MAINNET_URL = "https://icp-api.io"
# The IC's root key (DER), from the NNS; the same constant every official agent ships.
IC_ROOT_KEY = bytes.fromhex(
    "308182301d060d2b0601040182dc7c0503010201060c2b0601040182dc7c05030201036100"
    "814c0e6ec71fab583b08bd81373c255c3c371b2e84863c98a4f1e08b74235d14fb5d9c0cd5"
    "46d9685f913a0c0b2cc5341583bf4b4392e467db96d65b9bb4cb717112f8472e0d5a4d1450"
    "5ffd7484b01291091c5f87b98883463f98091a0baaae"
)


class AgentError(Exception):
    """The request did not get a trustworthy answer; the message says why."""


class TransportError(AgentError):
    """The replica could not be reached (refused, timed out, connection lost)."""


class HttpError(AgentError):
    """The replica answered a non-success HTTP status (malformed or refused request)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.text = message


class VerificationError(AgentError):
    """A certificate or signature did not verify: the answer is not believed."""


class CanisterReject(AgentError):
    """The call was rejected; `message` is the reason the canister (or the system) gave."""

    def __init__(self, code: int, message: str, error_code: str | None = None) -> None:
        super().__init__(f"rejected (code {code}{', ' + error_code if error_code else ''}): {message}")
        self.code = code
        self.message = message
        self.error_code = error_code

    @property
    def reason(self) -> str:
        """The canister's own line (a trap's quoted message: inspect_message refuses by trapping)."""
        from icchat.ic.reject import canister_line

        return canister_line(self.message)


def is_mainnet(url: str) -> bool:
    host = (urllib.parse.urlsplit(url).hostname or "").lower()
    return any(host == h or host.endswith("." + h) for h in MAINNET_HOSTS)


class Agent:
    def __init__(self, url: str, identity: Identity | None = None, root_key: bytes | None = None, *,
                 timeout_s: float = 120.0, verify_query_signatures: bool = False,
                 sync_calls: bool = True) -> None:
        parts = urllib.parse.urlsplit(url.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise AgentError(f"replica URL must be http(s)://host[:port], got {url!r}")
        self.url = url.rstrip("/")
        self.identity = identity or Identity()
        self.root_key = root_key if root_key is not None else (IC_ROOT_KEY if is_mainnet(url) else None)
        self.timeout_s = timeout_s
        self.verify_query_signatures = verify_query_signatures
        self.sync_calls = sync_calls  # False: v2 calls (always 202, then polling)
        self._parts = parts
        self._local = threading.local()
        self._node_keys: dict[bytes, bytes] = {}
        self._node_keys_lock = threading.Lock()
        self._clock_offset_ns = 0  # replica time - our time, learnt when it refuses our expiry

    # --- status and root key ----------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        code, body = self._request("GET", "/api/v2/status", None)
        if code != 200:
            raise HttpError(code, _text(body))
        value = _loads(body, "status")
        if not isinstance(value, Mapping):
            raise AgentError("/api/v2/status did not answer a CBOR map")
        return dict(value)

    def fetch_root_key(self) -> bytes:
        """Trust the root key the replica announces: right for a local replica, never for mainnet
        (anyone between us and a boundary node could announce theirs)."""
        if is_mainnet(self.url):
            raise AgentError(f"refusing to fetch the root key from mainnet ({self.url}): its key is built in")
        key = self.status().get("root_key")
        if not isinstance(key, bytes):
            raise AgentError("/api/v2/status has no root_key")
        self.root_key = key
        return key

    # --- query --------------------------------------------------------------------------------------

    def query(self, canister_id: Principal, method: str, arg: bytes = b"", *,
              effective_canister_id: Principal | None = None) -> bytes:
        ecid = effective_canister_id or canister_id
        content, code, body = self._send(("v3", "v2"), f"canister/{ecid}/query", ecid,
                                         lambda: self._content("query", canister_id, method, arg))
        if code != 200:
            raise HttpError(code, _text(body))
        answer = _loads(body, "query answer")
        if not isinstance(answer, Mapping):
            raise AgentError("query answer is not a CBOR map")
        if self.verify_query_signatures:
            self._verify_query_signatures(answer, request_id(content), ecid)
        if answer.get("status") == "replied":
            reply = answer.get("reply")
            reply = reply.get("arg") if isinstance(reply, Mapping) else None
            if not isinstance(reply, bytes):
                raise AgentError("query answer has no reply.arg")
            return reply
        if answer.get("status") == "rejected":
            raise _reject_from(answer)
        raise AgentError(f"query answer has unknown status {answer.get('status')!r}")

    # --- update -------------------------------------------------------------------------------------

    def update(self, canister_id: Principal, method: str, arg: bytes = b"", *,
               effective_canister_id: Principal | None = None) -> bytes:
        """Call and wait for the certified result; CanisterReject carries the reject reason."""
        ecid = effective_canister_id or canister_id
        versions = ("v3", "v2") if self.sync_calls else ("v2",)
        self._require_root_key()
        content, code, body = self._send(versions, f"canister/{ecid}/call", ecid,
                                         lambda: self._content("call", canister_id, method, arg))
        rid = request_id(content)
        if code == 200:
            answer = _loads(body, "call answer")
            if not isinstance(answer, Mapping):
                raise AgentError("call answer is not a CBOR map")
            if "reject_code" in answer:  # refused before execution: not certified, as on the IC
                raise _reject_from(answer)
            certificate = answer.get("certificate")
            if answer.get("status") == "replied" and isinstance(certificate, bytes):
                result = self._request_result(self._verify(certificate, ecid), rid)
                if result is not None:
                    return result
        elif code != 202:
            raise HttpError(code, _text(body))
        return self._poll(ecid, rid, content["ingress_expiry"])

    def read_state(self, canister_id: Principal, paths: Sequence[Sequence[bytes]]) -> Certificate:
        """A verified certificate revealing `paths` (read at the canister's endpoint)."""
        self._require_root_key()
        _, code, body = self._send(("v3", "v2"), f"canister/{canister_id}/read_state", canister_id,
                                   lambda: {"request_type": "read_state", "sender": self.identity.principal.raw,
                                            "paths": [list(p) for p in paths], "ingress_expiry": self._expiry()})
        certificate = _read_state_certificate(code, body)
        return self._verify(certificate, canister_id)

    def _poll(self, ecid: Principal, rid: bytes, expiry_ns: int) -> bytes:
        delay = POLL_FIRST_S
        while True:
            result = self._request_result(self.read_state(ecid, [[b"request_status", rid]]), rid)
            if result is not None:
                return result
            if time.time_ns() > expiry_ns + 60 * 10**9:
                raise AgentError(f"no answer to request {rid.hex()} before it expired")
            time.sleep(delay)
            delay = min(delay * 1.5, POLL_MAX_S)

    def _request_result(self, cert: Certificate, rid: bytes) -> bytes | None:
        """The reply of a finished request, a raised CanisterReject, or None if still running."""
        def leaf(name: str) -> bytes | None:
            found = cert.lookup([b"request_status", rid, name.encode()])
            return found.value if found.status is LookupStatus.FOUND else None

        status = leaf("status")
        if status is None or status in (b"received", b"processing", b"unknown"):
            return None
        if status == b"replied":
            reply = leaf("reply")
            if reply is None:
                raise AgentError(f"request {rid.hex()} replied, but the certificate has no reply")
            return reply
        if status == b"rejected":
            code = _leb(leaf("reject_code") or b"")
            message = (leaf("reject_message") or b"").decode("utf-8", "replace")
            error_code = leaf("error_code")
            raise CanisterReject(code, message, error_code.decode() if error_code else None)
        if status == b"done":
            raise AgentError(f"request {rid.hex()} is done and its reply was dropped (it expired)")
        raise AgentError(f"request {rid.hex()} has unknown status {status!r}")

    # --- certificates and signatures ---------------------------------------------------------------

    def _require_root_key(self) -> None:
        if self.root_key is None:
            raise AgentError("no root key to verify certificates: call fetch_root_key() for a "
                             "local replica, or pass root_key")

    def _verify(self, certificate: bytes, canister_id: Principal) -> Certificate:
        assert self.root_key is not None
        try:
            return verify_certificate(certificate, self.root_key, canister_id=canister_id,
                                      max_age_ns=MAX_CERTIFICATE_AGE_NS)
        except CertificateError as exc:
            raise VerificationError(f"certificate from {self.url} does not verify: {exc}") from None

    def _verify_query_signatures(self, answer: Mapping[str, Any], rid: bytes, ecid: Principal) -> None:
        signatures = answer.get("signatures")
        if not signatures:
            raise VerificationError("query answer is not signed by any node")
        fields = {k: v for k, v in answer.items() if k != "signatures"}
        for entry in signatures:
            node, timestamp, signature = entry.get("identity"), entry.get("timestamp"), entry.get("signature")
            if not (isinstance(node, bytes) and isinstance(timestamp, int) and isinstance(signature, bytes)):
                raise VerificationError("malformed query signature entry")
            signed = RESPONSE_DOMAIN + hash_of_map({**fields, "timestamp": timestamp, "request_id": rid})
            try:
                verify_signature(self._node_key(node, ecid), signature, signed, "query signature")
            except AuthError as exc:
                raise VerificationError(f"query answer: {exc}") from None

    def _node_key(self, node: bytes, ecid: Principal) -> bytes:
        with self._node_keys_lock:
            if node in self._node_keys:
                return self._node_keys[node]
        self._require_root_key()
        assert self.root_key is not None
        probe = self.read_state(ecid, [[b"time"]])
        subnet = probe.delegation.subnet_id if probe.delegation else Principal.self_authenticating(self.root_key)
        cert = self.read_state(ecid, [[b"subnet", subnet.raw, b"node", node, b"public_key"]])
        found = cert.lookup([b"subnet", subnet.raw, b"node", node, b"public_key"])
        if found.status is not LookupStatus.FOUND or found.value is None:
            raise VerificationError(f"node {Principal(node)} is not a node of subnet {subnet}")
        with self._node_keys_lock:
            self._node_keys[node] = found.value
        return found.value

    # --- envelopes and HTTP -------------------------------------------------------------------------

    def _expiry(self) -> int:
        return time.time_ns() + self._clock_offset_ns + INGRESS_EXPIRY_NS

    def sync_time(self, canister_id: Principal) -> None:
        """Adopt the replica's certified time for ingress expiries (anonymous read_state, whose
        expiry is not checked): for replicas whose clock differs from ours."""
        content = {"request_type": "read_state", "sender": Principal.anonymous().raw,
                   "paths": [[b"time"]], "ingress_expiry": self._expiry()}
        self._require_root_key()
        code, body = self._post_versions(("v3", "v2"), f"canister/{canister_id}/read_state",
                                         cbor2.dumps({"content": content}))
        certificate = _read_state_certificate(code, body)
        assert self.root_key is not None
        try:
            replica_now = verify_certificate(certificate, self.root_key, canister_id=canister_id).time_ns()
        except CertificateError as exc:
            raise VerificationError(f"certificate from {self.url} does not verify: {exc}") from None
        self._clock_offset_ns = replica_now - time.time_ns()

    def _content(self, request_type: str, canister_id: Principal, method: str, arg: bytes) -> dict[str, Any]:
        return {"request_type": request_type, "canister_id": canister_id.raw, "method_name": method,
                "arg": bytes(arg), "sender": self.identity.principal.raw,
                "ingress_expiry": self._expiry(), "nonce": os.urandom(16)}

    def _envelope(self, content: dict[str, Any]) -> bytes:
        envelope: dict[str, Any] = {"content": content}
        if not self.identity.is_anonymous:
            envelope["sender_pubkey"] = self.identity.public_key_der
            envelope["sender_sig"] = self.identity.sign(REQUEST_DOMAIN + request_id(content))
        return cbor2.dumps(cbor2.CBORTag(55799, envelope))

    def _send(self, versions: Sequence[str], tail: str, ecid: Principal,
              make_content: Callable[[], dict[str, Any]]) -> tuple[dict[str, Any], int, bytes]:
        """Sign and post; if the replica refuses our ingress expiry (its clock differs from ours),
        learn its time and send once more with a new expiry, as the official agents do."""
        content = make_content()
        code, body = self._post_versions(versions, tail, self._envelope(content))
        if code == 400 and body.startswith(b"Invalid request expiry") and self.root_key is not None:
            self.sync_time(ecid)
            content = make_content()
            code, body = self._post_versions(versions, tail, self._envelope(content))
        return content, code, body

    def _post_versions(self, versions: Sequence[str], tail: str, body: bytes) -> tuple[int, bytes]:
        for i, version in enumerate(versions):
            code, answer = self._request("POST", f"/api/{version}/{tail}", body)
            # Boundary nodes answer 429/5xx when busy: the same body may be sent again (a call's
            # request id makes a repeat the same request).
            for delay in RETRY_DELAYS_S:
                if code not in RETRY_STATUSES:
                    break
                time.sleep(delay)
                code, answer = self._request("POST", f"/api/{version}/{tail}", body)
            if code != 404 or i == len(versions) - 1:
                return code, answer
        raise AssertionError("unreachable")

    def _request(self, method: str, path: str, body: bytes | None) -> tuple[int, bytes]:
        headers = {"content-type": "application/cbor"} if body is not None else {}
        for attempt in (0, 1):
            conn = self._connection(fresh=attempt == 1)
            try:
                conn.request(method, self._parts.path + path, body=body, headers=headers)
                response = conn.getresponse()
                return response.status, response.read()
            except (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected,
                    http.client.BadStatusLine) as exc:
                conn.close()
                # A kept-alive connection the server closed: retry once on a new one (a repeated
                # call is harmless: the request id makes it the same request).
                if attempt == 1:
                    raise TransportError(f"connection to {self.url} lost: {exc}") from None
            except (ConnectionRefusedError, TimeoutError, OSError) as exc:
                conn.close()
                reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
                raise TransportError(f"cannot reach {self.url}: {reason}") from None
        raise AssertionError("unreachable")

    def _connection(self, fresh: bool) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None or fresh:
            host, port = self._parts.hostname or "", self._parts.port
            cls = http.client.HTTPSConnection if self._parts.scheme == "https" else http.client.HTTPConnection
            conn = cls(host, port, timeout=self.timeout_s)
            self._local.conn = conn
        return conn

    def close(self) -> None:
        """Close this thread's connection (others close when their threads end)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def _read_state_certificate(code: int, body: bytes) -> bytes:
    """The (not yet verified) certificate of a read_state answer."""
    if code != 200:
        raise HttpError(code, _text(body))
    answer = _loads(body, "read_state answer")
    certificate = answer.get("certificate") if isinstance(answer, Mapping) else None
    if not isinstance(certificate, bytes):
        raise AgentError("read_state answer has no certificate")
    return certificate


def _reject_from(answer: Mapping[str, Any]) -> CanisterReject:
    code = answer.get("reject_code")
    message = answer.get("reject_message")
    error_code = answer.get("error_code")
    return CanisterReject(code if isinstance(code, int) else 0, message if isinstance(message, str) else "",
                          error_code if isinstance(error_code, str) else None)


def _loads(body: bytes, what: str) -> Any:
    try:
        value = cbor2.loads(body)
    except (cbor2.CBORDecodeError, ValueError, TypeError, RecursionError) as exc:
        raise AgentError(f"{what} is not valid CBOR: {exc}") from None
    return value.value if isinstance(value, cbor2.CBORTag) and value.tag == 55799 else value


def _leb(data: bytes) -> int:
    try:
        return Reader(data).uleb("reject_code")
    except CandidError:
        return 0


def _text(body: bytes) -> str:
    text = body.decode("utf-8", "replace").strip()
    return text.splitlines()[0][:500] if text else "(empty body)"
