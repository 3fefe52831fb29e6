"""Sender authentication of requests (interface spec, "Authentication" and "Signatures").

A request from a non-anonymous `sender` carries `sender_pubkey` (DER), `sender_sig` and maybe a
chain of `sender_delegation`s. Valid means:
  * sender == self-authenticating principal of sender_pubkey;
  * delegation i is signed by the previous key (sender_pubkey first) over
    "\\x1Aic-request-auth-delegation" · hash_of_map(delegation), is not expired, allows the
    target canister if it lists targets, and no key appears twice (at most 20 delegations);
  * sender_sig is the last key's signature over "\\x0Aic-request" · request_id.
Plain Ed25519 and ECDSA (P-256, secp256k1; signatures are r · s, 64 bytes) are supported;
WebAuthn and canister signatures are recognised and refused with a clear error.

Host-only (cryptography).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from icchat.ic import der
from icchat.ic.principal import Principal
from icchat.ic.request_id import hash_of_map

REQUEST_DOMAIN = b"\x0aic-request"
DELEGATION_DOMAIN = b"\x1aic-request-auth-delegation"
MAX_DELEGATIONS = 20
MAX_TARGETS = 1000

ED25519_OID = "1.3.101.112"
EC_PUBLIC_KEY_OID = "1.2.840.10045.2.1"
CURVES = {"1.2.840.10045.3.1.7": ("ECDSA P-256", ec.SECP256R1()),
          "1.3.132.0.10": ("ECDSA secp256k1", ec.SECP256K1())}
UNSUPPORTED = {"1.3.6.1.4.1.56387.1.1": "WebAuthn (COSE) keys",
               "1.3.6.1.4.1.56387.1.2": "canister signatures",
               "1.3.6.1.4.1.44668.5.3.1.2.1": "BLS keys"}


class AuthError(ValueError):
    """The request's sender could not be authenticated; the message says why."""


@dataclass(frozen=True)
class PublicKey:
    """A parsed DER public key that can check signatures."""

    scheme: str  # "Ed25519", "ECDSA P-256" or "ECDSA secp256k1"
    der: bytes
    _key: Any

    def verify(self, signature: bytes, payload: bytes) -> bool:
        if len(signature) != 64:  # Ed25519, and ECDSA as r · s (32 bytes each, big-endian)
            return False
        try:
            if self.scheme == "Ed25519":
                self._key.verify(bytes(signature), payload)
            else:
                r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
                self._key.verify(encode_dss_signature(r, s), payload, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            return False
        return True


def parse_public_key(der_key: bytes) -> PublicKey:
    der_key = bytes(der_key)
    try:
        oids, key = der.decode_spki(der_key)
    except der.DerError as exc:
        raise AuthError(f"malformed public key: {exc}") from None
    for oid in oids:
        if oid in UNSUPPORTED:
            raise AuthError(f"{UNSUPPORTED[oid]} are not supported by this replica")
    if oids == (ED25519_OID,):
        if len(key) != 32:
            raise AuthError(f"Ed25519 public key has {len(key)} bytes, expected 32")
        return PublicKey("Ed25519", der_key, ed25519.Ed25519PublicKey.from_public_bytes(key))
    if len(oids) == 2 and oids[0] == EC_PUBLIC_KEY_OID and oids[1] in CURVES:
        name, curve = CURVES[oids[1]]
        if len(key) != 65 or key[0] != 4:
            raise AuthError(f"{name} public key must be an uncompressed point (0x04 · x · y, 65 bytes)")
        try:
            return PublicKey(name, der_key, ec.EllipticCurvePublicKey.from_encoded_point(curve, key))
        except ValueError:
            raise AuthError(f"{name} public key is not a point on the curve") from None
    raise AuthError(f"unsupported public key algorithm {', '.join(oids) or '(none)'}")


def verify_signature(der_key: bytes, signature: bytes, payload: bytes, what: str = "signature") -> None:
    key = parse_public_key(der_key)
    if not key.verify(signature, payload):
        raise AuthError(f"{what} does not verify with the {key.scheme} key")


@dataclass(frozen=True)
class SignedDelegation:
    """One `sender_delegation` entry; `fields` is the `delegation` map as sent (it is what is hashed)."""

    pubkey: bytes
    expiration: int
    targets: tuple[Principal, ...] | None
    signature: bytes
    fields: Mapping[str, Any]

    @classmethod
    def create(cls, pubkey: bytes, expiration: int, signature: bytes,
               targets: Sequence[Principal] | None = None) -> SignedDelegation:
        fields: dict[str, Any] = {"pubkey": pubkey, "expiration": expiration}
        if targets is not None:
            fields["targets"] = [t.raw for t in targets]
        return cls(pubkey, expiration, None if targets is None else tuple(targets), signature, fields)


def delegation_payload(fields: Mapping[str, Any]) -> bytes:
    """What the previous key signs: the domain separator and the map's representation-independent hash."""
    return DELEGATION_DOMAIN + hash_of_map(fields)


def verify_sender(sender: Principal, request_id: bytes, *, sender_pubkey: bytes | None,
                  sender_sig: bytes | None, delegations: Sequence[SignedDelegation] | None,
                  now_ns: int, canister_id: Principal | None) -> None:
    """Authenticate a request (raises AuthError). `canister_id` is the target (call/query) or
    the effective canister id (read_state); delegation targets are checked against it."""
    if sender.is_anonymous:
        if sender_pubkey is not None or sender_sig is not None or delegations is not None:
            raise AuthError("an anonymous request must not carry sender_pubkey, sender_sig or sender_delegation")
        return
    if sender_pubkey is None or sender_sig is None:
        raise AuthError(f"a request from {sender} needs sender_pubkey and sender_sig")
    if Principal.self_authenticating(sender_pubkey) != sender:
        raise AuthError(f"sender {sender} is not the principal of sender_pubkey "
                        f"({Principal.self_authenticating(sender_pubkey)})")
    key = bytes(sender_pubkey)
    delegations = delegations or ()
    if len(delegations) > MAX_DELEGATIONS:
        raise AuthError(f"{len(delegations)} delegations, at most {MAX_DELEGATIONS} allowed")
    seen = {key}
    for i, d in enumerate(delegations):
        verify_signature(key, d.signature, delegation_payload(d.fields), f"delegation {i} signature")
        if d.expiration < now_ns:
            raise AuthError(f"delegation {i} expired at {d.expiration} ns (now {now_ns} ns)")
        if d.targets is not None:
            if len(d.targets) > MAX_TARGETS:
                raise AuthError(f"delegation {i} lists {len(d.targets)} targets, at most {MAX_TARGETS} allowed")
            if canister_id is not None and canister_id not in d.targets:
                raise AuthError(f"delegation {i} does not allow canister {canister_id}")
        if bytes(d.pubkey) in seen:
            raise AuthError(f"delegation {i} repeats a key already in the chain (cycles are not allowed)")
        key = bytes(d.pubkey)
        seen.add(key)
    verify_signature(key, sender_sig, REQUEST_DOMAIN + request_id, "sender_sig")
