"""A small raw client of the IC HTTP interface for the tests: CBOR envelopes, anonymous or
Ed25519-signed, answers checked byte by byte (the official agents are driven elsewhere)."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from typing import Any

import cbor2
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from icchat.ic.principal import Principal
from icchat.ic.request_id import request_id

ANONYMOUS = Principal.anonymous()
REQUEST_DOMAIN = b"\x0aic-request"


class Ed25519Sender:
    """A user key: its DER public key, self-authenticating principal and request signatures."""

    def __init__(self) -> None:
        self.key = Ed25519PrivateKey.generate()
        self.der = self.key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        self.principal = Principal.self_authenticating(self.der)

    def envelope_fields(self, content: dict[str, Any]) -> dict[str, bytes]:
        return {"sender_pubkey": self.der, "sender_sig": self.key.sign(REQUEST_DOMAIN + request_id(content))}


class ApiClient:
    """Raw requests to one replica's `/api/...` endpoints, for checking answers byte by byte."""

    def __init__(self, url: str, clock=time.time_ns) -> None:
        self.url = url
        self.clock = clock  # the replica's time when a test moves it; wall time otherwise

    def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        request = urllib.request.Request(self.url + path, data=body, method="POST", headers={"content-type": "application/cbor"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def content(self, request_type: str, *, sender: Principal | Ed25519Sender = ANONYMOUS, expiry_s: float = 60, **fields: Any) -> dict[str, Any]:
        """A `content` map; `canister_id` may be a Principal, `paths` lists of bytes."""
        principal = sender.principal if isinstance(sender, Ed25519Sender) else sender
        content = {"request_type": request_type, "sender": principal.raw,
                   "ingress_expiry": self.clock() + int(expiry_s * 10**9), "nonce": time.perf_counter_ns().to_bytes(8, "big")}
        for key, value in fields.items():
            content[key] = value.raw if isinstance(value, Principal) else value
        if request_type in ("call", "query"):
            content.setdefault("arg", b"")
        return content

    def send(self, path: str, content: dict[str, Any], sender: Ed25519Sender | None = None) -> tuple[int, bytes]:
        extra = sender.envelope_fields(content) if sender is not None else {}
        return self.post(path, cbor2.dumps({"content": content, **extra}))

    def send_cbor(self, path: str, content: dict[str, Any], sender: Ed25519Sender | None = None) -> Any:
        """`send`, requiring a 200 and returning the decoded answer."""
        code, body = self.send(path, content, sender)
        assert code == 200, (code, body)
        return cbor2.loads(body)
