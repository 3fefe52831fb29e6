"""Identities that sign IC requests: anonymous, Ed25519 and secp256k1 (interface spec,
"Authentication"), loaded from the PEM files dfx and icp-cli write or generated here.

    identity = load_pem(Path("~/.config/dfx/identity/default/identity.pem").expanduser())
    identity.principal                 # the self-authenticating principal of its public key
    identity.sign(b"\\x0aic-request" + request_id)   # 64 bytes (ECDSA as r · s, low-S)

PEM forms: `-----BEGIN PRIVATE KEY-----` (PKCS#8 Ed25519, v1 or v2 with the public key, or a
PKCS#8 EC key), `-----BEGIN EC PRIVATE KEY-----` (SEC1 secp256k1, dfx's `--storage plaintext`
secp256k1 identities, optionally preceded by `-----BEGIN EC PARAMETERS-----`). Host-only
(cryptography).
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from icchat.ic.principal import Principal

# The order n of secp256k1: signatures are normalised to s <= n/2, as the IC's verifier requires.
_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


class IdentityError(ValueError):
    """A key file that cannot be used; the message says which and why."""


class Identity:
    """Who sends a request. Anonymous unless a subclass holds a key."""

    public_key_der: bytes | None = None

    @property
    def principal(self) -> Principal:
        return Principal.anonymous()

    @property
    def is_anonymous(self) -> bool:
        return self.public_key_der is None

    def sign(self, payload: bytes) -> bytes:
        raise TypeError("the anonymous identity does not sign")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.principal})"



class Ed25519Identity(Identity):
    def __init__(self, key: ed25519.Ed25519PrivateKey) -> None:
        self._key = key
        self.public_key_der = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        self._principal = Principal.self_authenticating(self.public_key_der)

    @classmethod
    def generate(cls) -> Ed25519Identity:
        return cls(ed25519.Ed25519PrivateKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> Ed25519Identity:
        """The key whose 32-byte private seed is `seed` (reproducible test identities)."""
        return cls(ed25519.Ed25519PrivateKey.from_private_bytes(bytes(seed)))

    @property
    def principal(self) -> Principal:
        return self._principal

    def sign(self, payload: bytes) -> bytes:
        return self._key.sign(bytes(payload))

    def to_pem(self) -> bytes:
        """PKCS#8 `-----BEGIN PRIVATE KEY-----`, the form dfx and icp-cli read."""
        return self._key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption())


class Secp256k1Identity(Identity):
    def __init__(self, key: ec.EllipticCurvePrivateKey) -> None:
        if not isinstance(key.curve, ec.SECP256K1):
            raise IdentityError(f"EC key on curve {key.curve.name}; IC identities use secp256k1")
        self._key = key
        self.public_key_der = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        self._principal = Principal.self_authenticating(self.public_key_der)

    @classmethod
    def generate(cls) -> Secp256k1Identity:
        return cls(ec.generate_private_key(ec.SECP256K1()))

    @property
    def principal(self) -> Principal:
        return self._principal

    def sign(self, payload: bytes) -> bytes:
        r, s = decode_dss_signature(self._key.sign(bytes(payload), ec.ECDSA(hashes.SHA256())))
        if s > _SECP256K1_N // 2:
            s = _SECP256K1_N - s
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    def to_pem(self) -> bytes:
        """SEC1 `-----BEGIN EC PRIVATE KEY-----`, as dfx writes secp256k1 identities."""
        return self._key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.TraditionalOpenSSL,
                                       serialization.NoEncryption())


def load_pem(source: Path | str | bytes) -> Identity:
    """An identity from a PEM file (a path) or PEM bytes; IdentityError says what is wrong."""
    name = "PEM data"
    if isinstance(source, (str, Path)):
        path = Path(source).expanduser()
        name = str(path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise IdentityError(f"cannot read identity {name}: {exc.strerror}") from None
    else:
        data = bytes(source)
    if b"ENCRYPTED" in data:
        raise IdentityError(f"{name} is encrypted; export it unencrypted "
                            "(dfx identity export NAME > key.pem) and pass that file")
    block = _pem_block(data, name)
    try:
        key = serialization.load_pem_private_key(block, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        key = _ed25519_v2_fallback(block)
        if key is None:
            raise IdentityError(f"{name} is not a usable private key: {exc}") from None
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return Ed25519Identity(key)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return Secp256k1Identity(key)
    raise IdentityError(f"{name} holds a {type(key).__name__}; IC identities are Ed25519 or secp256k1")


def load_or_create(path: Path) -> Ed25519Identity | Identity:
    """The identity in `path`, or a new Ed25519 one written there (mode 0600) if it is absent."""
    if path.exists():
        return load_pem(path)
    identity = Ed25519Identity.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(path.name + ".tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(identity.to_pem())
    os.replace(temp, path)
    return identity


def _pem_block(data: bytes, name: str) -> bytes:
    """The private key block; dfx's secp256k1 files may start with an EC PARAMETERS block."""
    for label in (b"PRIVATE KEY", b"EC PRIVATE KEY"):
        begin = data.find(b"-----BEGIN " + label + b"-----")
        end_marker = b"-----END " + label + b"-----"
        end = data.find(end_marker, begin)
        if begin >= 0 and end >= 0:
            return data[begin:end + len(end_marker)] + b"\n"
    raise IdentityError(f"{name} has no '-----BEGIN PRIVATE KEY-----' or "
                        "'-----BEGIN EC PRIVATE KEY-----' block")


def _ed25519_v2_fallback(block: bytes) -> ed25519.Ed25519PrivateKey | None:
    """Old dfx versions wrote PKCS#8 v2 Ed25519 keys that some OpenSSL builds refuse: the
    32-byte seed is the OCTET STRING (04 20 ...) nested in the privateKey OCTET STRING."""
    import base64

    body = b"".join(line for line in block.splitlines() if line and not line.startswith(b"-----"))
    try:
        der = base64.b64decode(body)
    except ValueError:
        return None
    ed25519_oid = bytes.fromhex("06032b6570")
    marker = der.find(b"\x04\x22\x04\x20")
    if ed25519_oid not in der or marker < 0 or marker + 36 > len(der):
        return None
    return ed25519.Ed25519PrivateKey.from_private_bytes(der[marker + 4:marker + 36])
