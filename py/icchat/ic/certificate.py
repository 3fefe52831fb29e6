"""Certificates: a hash tree signed with BLS12-381 (interface spec, "Certification").

The IC signs min-sig style: signature in G1 (48 bytes compressed), public key in G2 (96 bytes),
ciphersuite BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_, message domain_sep("ic-state-root") ·
root hash. Keys travel DER-encoded with the OIDs 1.3.6.1.4.1.44668.5.3.1.2.1 (algorithm) and
1.3.6.1.4.1.44668.5.3.2.1 (curve), as the `root_key` of /api/v2/status.

Host-only (pyblst, cbor2).
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import cbor2
import pyblst

from icchat.ic import der
from icchat.ic.hashtree import (
    HashTree,
    HashTreeError,
    LookupResult,
    LookupStatus,
    from_cbor_obj,
    from_dict,
    leaves_under,
    lookup_path,
    to_cbor_obj,
)
from icchat.ic.idl.errors import CandidError
from icchat.ic.idl.leb128 import Reader
from icchat.ic.principal import Principal

DST = b"BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_"
STATE_ROOT_DOMAIN = b"\x0dic-state-root"
BLS_ALGORITHM_OID = "1.3.6.1.4.1.44668.5.3.1.2.1"
BLS_CURVE_OID = "1.3.6.1.4.1.44668.5.3.2.1"
SELF_DESCRIBE_TAG = 55799

# The order r of G1/G2, and the standard G2 generator (compressed, as in the IETF BLS draft).
_R = 0x73EDA753299D7D483339D80809A1D80553BDA402FFFE5BFEFFFFFFFF00000001
_G2 = pyblst.BlstP2Element.uncompress(bytes.fromhex(
    "93e02b6052719f607dacd3a088274f65596bd0d09920b61ab5da61bbdc7f5049334cf11213945d57e5ac7d05"
    "5d042b7e024aa2b2f08f0a91260805272dc51051c6e47ad4fa403b02b4510b647ae3d1770bac0326a805bbef"
    "d48056c8c121bdb8"))


class CertificateError(ValueError):
    """A certificate that is malformed or does not verify."""


# --- keys and signatures -----------------------------------------------------------------------


class BlsKey:
    """A BLS12-381 min-sig key pair, as the IC's root (or a subnet) uses to certify state."""

    def __init__(self, secret: int) -> None:
        if not 0 < secret < _R:
            raise ValueError("BLS secret key must be in 1..r-1")
        self._secret = secret
        self.public_key = _G2.scalar_mul(secret).compress()  # 96 bytes

    @classmethod
    def generate(cls, seed: bytes | None = None) -> BlsKey:
        """A fresh key, or the same key for the same seed (for reproducible dev instances)."""
        material = os.urandom(64) if seed is None else hashlib.sha512(b"icchat-bls-key\0" + seed).digest()
        return cls(int.from_bytes(material, "big") % (_R - 1) + 1)

    @property
    def public_key_der(self) -> bytes:
        return der.encode_spki((BLS_ALGORITHM_OID, BLS_CURVE_OID), self.public_key)

    def sign(self, message: bytes) -> bytes:
        return pyblst.BlstP1Element.hash_to_group(message, DST).scalar_mul(self._secret).compress()


def bls_key_from_der(der_key: bytes) -> bytes:
    """The 96-byte G2 public key inside a DER-encoded IC BLS key (extract_der in the spec)."""
    try:
        oids, key = der.decode_spki(der_key)
    except der.DerError as exc:
        raise CertificateError(f"BLS public key: {exc}") from None
    if oids != (BLS_ALGORITHM_OID, BLS_CURVE_OID):
        raise CertificateError(f"not an IC BLS12-381 public key (algorithm {', '.join(oids)})")
    if len(key) != 96:
        raise CertificateError(f"BLS public key has {len(key)} bytes, expected 96")
    return key


def bls_verify(public_key: bytes, signature: bytes, message: bytes) -> bool:
    """Min-sig BLS verification: e(sig, g2) == e(H(message), pk), with subgroup checks."""
    try:
        sig = pyblst.BlstP1Element.uncompress(bytes(signature))
        pk = pyblst.BlstP2Element.uncompress(bytes(public_key))
    except ValueError:
        return False
    identity_1, identity_2 = pyblst.BlstP1Element(), pyblst.BlstP2Element()
    if sig == identity_1 or pk == identity_2:
        return False
    if sig.scalar_mul(_R) != identity_1 or pk.scalar_mul(_R) != identity_2:
        return False  # not in the prime-order subgroup
    hashed = pyblst.BlstP1Element.hash_to_group(bytes(message), DST)
    return pyblst.final_verify(pyblst.miller_loop(sig, _G2), pyblst.miller_loop(hashed, pk))


# --- certificates --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Delegation:
    """Links a subnet's key to the root key: a root-signed certificate naming that key."""

    subnet_id: Principal
    certificate: bytes


@dataclass(frozen=True)
class Certificate:
    tree: HashTree
    signature: bytes
    delegation: Delegation | None = None

    def lookup(self, path: Iterable[bytes | str]) -> LookupResult:
        return lookup_path(self.tree, path)

    def time_ns(self) -> int:
        """The certified `/time` (nanoseconds since 1970)."""
        found = self.lookup([b"time"])
        if found.status is not LookupStatus.FOUND or found.value is None:
            raise CertificateError("certificate has no /time")
        return _leb_nat(found.value, "/time")

    def to_cbor(self) -> bytes:
        body: dict = {"tree": to_cbor_obj(self.tree), "signature": self.signature}
        if self.delegation is not None:
            body["delegation"] = {"subnet_id": self.delegation.subnet_id.raw,
                                  "certificate": self.delegation.certificate}
        return cbor2.dumps(cbor2.CBORTag(SELF_DESCRIBE_TAG, body))


def sign_certificate(tree: HashTree, key: BlsKey, delegation: Delegation | None = None) -> bytes:
    """The CBOR certificate for `tree`, signed by `key` (the root key, or a delegated subnet key)."""
    signature = key.sign(STATE_ROOT_DOMAIN + tree.digest())
    return Certificate(tree, signature, delegation).to_cbor()


def make_delegation(root_key: BlsKey, subnet_id: Principal, subnet_key: BlsKey,
                    canister_ranges: Sequence[tuple[Principal, Principal]], time_ns: int) -> Delegation:
    """A root-signed delegation to a subnet key, scoped to `canister_ranges` (inclusive pairs)."""
    ranges = cbor2.dumps(cbor2.CBORTag(SELF_DESCRIBE_TAG, [[lo.raw, hi.raw] for lo, hi in canister_ranges]))
    tree = from_dict({
        "canister_ranges": {subnet_id.raw: {canister_ranges[0][0].raw: ranges}} if canister_ranges else {},
        "subnet": {subnet_id.raw: {"public_key": subnet_key.public_key_der, "canister_ranges": ranges}},
        "time": time_ns,
    })
    return Delegation(subnet_id, sign_certificate(tree, root_key))


def decode_certificate(data: bytes) -> Certificate:
    """Parse the CBOR form (the self-describe tag is optional), without verifying it."""
    try:
        obj = cbor2.loads(bytes(data))
    except (cbor2.CBORDecodeError, RecursionError, ValueError, TypeError) as exc:
        raise CertificateError(f"certificate is not valid CBOR: {exc}") from None
    if isinstance(obj, cbor2.CBORTag) and obj.tag == SELF_DESCRIBE_TAG:
        obj = obj.value
    if not hasattr(obj, "get") or "tree" not in obj or "signature" not in obj:
        raise CertificateError("certificate must be a map with `tree` and `signature`")
    unknown = set(obj) - {"tree", "signature", "delegation"}
    if unknown:
        raise CertificateError(f"certificate has unknown fields: {sorted(map(str, unknown))}")
    try:
        tree = from_cbor_obj(obj["tree"])
    except HashTreeError as exc:
        raise CertificateError(f"certificate tree: {exc}") from None
    signature = obj["signature"]
    if not isinstance(signature, bytes):
        raise CertificateError("certificate signature must be a byte string")
    delegation = None
    if obj.get("delegation") is not None:
        d = obj["delegation"]
        if not (hasattr(d, "get") and isinstance(d.get("subnet_id"), bytes) and isinstance(d.get("certificate"), bytes)):
            raise CertificateError("certificate delegation must be a map of `subnet_id` and `certificate` bytes")
        try:
            delegation = Delegation(Principal(d["subnet_id"]), d["certificate"])
        except ValueError as exc:
            raise CertificateError(f"delegation subnet id: {exc}") from None
    return Certificate(tree, signature, delegation)


def verify_certificate(data: bytes, root_key_der: bytes, *, canister_id: Principal | None = None,
                       now_ns: int | None = None, max_age_ns: int | None = None) -> Certificate:
    """Decode and verify (spec: verify_cert), optionally checking freshness and that a delegated
    subnet may certify `canister_id`; raises CertificateError saying what failed."""
    cert = decode_certificate(data)
    key = bls_key_from_der(root_key_der)
    if cert.delegation is not None:
        key = _check_delegation(cert.delegation, key, canister_id)
    if not bls_verify(key, cert.signature, STATE_ROOT_DOMAIN + cert.tree.digest()):
        raise CertificateError("certificate signature does not verify")
    if max_age_ns is not None:
        now = now_ns if now_ns is not None else time.time_ns()
        age = now - cert.time_ns()
        if age > max_age_ns:
            raise CertificateError(f"certificate is {age / 1e9:.0f} s old, older than {max_age_ns / 1e9:.0f} s")
    return cert


def _check_delegation(delegation: Delegation, root_key: bytes, canister_id: Principal | None) -> bytes:
    parent = decode_certificate(delegation.certificate)
    if parent.delegation is not None:
        raise CertificateError("a delegation's certificate must not itself have a delegation")
    if not bls_verify(root_key, parent.signature, STATE_ROOT_DOMAIN + parent.tree.digest()):
        raise CertificateError("delegation certificate signature does not verify")
    subnet = delegation.subnet_id.raw
    found = parent.lookup([b"subnet", subnet, b"public_key"])
    if found.status is not LookupStatus.FOUND or found.value is None:
        raise CertificateError(f"delegation does not reveal the public key of subnet {delegation.subnet_id}")
    if canister_id is not None and not _in_ranges(parent, subnet, canister_id):
        raise CertificateError(f"subnet {delegation.subnet_id} is not authorized for canister {canister_id}")
    return bls_key_from_der(found.value)


def _in_ranges(parent: Certificate, subnet: bytes, canister_id: Principal) -> bool:
    blobs = (leaves_under(parent.tree, [b"subnet", subnet, b"canister_ranges"])
             + leaves_under(parent.tree, [b"canister_ranges", subnet]))  # whole list, or shards
    for blob in blobs:
        try:
            ranges = cbor2.loads(blob)
            ranges = ranges.value if isinstance(ranges, cbor2.CBORTag) else ranges
            if any(bytes(lo) <= canister_id.raw <= bytes(hi) for lo, hi in ranges):
                return True
        except (cbor2.CBORDecodeError, ValueError, TypeError):
            raise CertificateError("delegation has malformed canister ranges") from None
    return False


def state_tree(entries: dict, time_ns: int) -> HashTree:
    """A certified-state tree from nested dicts, always with `/time`."""
    return from_dict({**entries, "time": time_ns})


def _leb_nat(data: bytes, what: str) -> int:
    reader = Reader(data)
    try:
        value = reader.uleb(what)
    except CandidError as exc:
        raise CertificateError(f"{what}: {exc}") from None
    if reader.remaining:
        raise CertificateError(f"{what}: trailing bytes after the LEB128 number")
    return value


__all__ = [
    "DST", "STATE_ROOT_DOMAIN", "BlsKey", "Certificate", "CertificateError", "Delegation",
    "bls_key_from_der", "bls_verify", "decode_certificate", "make_delegation",
    "sign_certificate", "state_tree", "verify_certificate",
]
