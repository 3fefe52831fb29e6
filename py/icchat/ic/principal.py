"""IC principals: opaque ids of users and canisters, with the textual form agents show.

The textual form (interface spec, "Textual representation of principals") is
base32(CRC32(raw) big-endian ++ raw), lowercase, unpadded, in dash-separated groups of 5.
Stdlib only: this module also runs in Pyodide.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

MAX_LENGTH = 29  # bytes; the spec bounds every principal (29 = SHA-224 + one class byte)

# The last byte of a principal says how it was made (interface spec, "Special forms of Principals").
_OPAQUE = 0x01  # canister ids minted by the system
_SELF_AUTHENTICATING = 0x02
_ANONYMOUS = 0x04


@dataclass(frozen=True, order=True)
class Principal:
    """A principal: at most 29 raw bytes; equal, hashed and ordered by those bytes."""

    raw: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.raw, bytes):
            object.__setattr__(self, "raw", bytes(self.raw))
        if len(self.raw) > MAX_LENGTH:
            raise ValueError(f"principal is {len(self.raw)} bytes long, at most {MAX_LENGTH} allowed")

    @classmethod
    def from_text(cls, text: str) -> Principal:
        """Parse the textual form; the checksum and the exact grouping are verified (any case)."""
        if not isinstance(text, str):
            raise ValueError(f"principal text must be a str, not {type(text).__name__}")
        compact = text.replace("-", "").upper()
        if not compact:
            raise ValueError(f"invalid principal {text!r}: empty")
        if not compact.isascii() or not compact.isalnum():
            raise ValueError(f"invalid principal {text!r}: only base32 letters, digits 2-7 and '-' are allowed")
        try:
            data = base64.b32decode(compact + "=" * (-len(compact) % 8))
        except binascii.Error:
            raise ValueError(f"invalid principal {text!r}: not valid base32") from None
        if len(data) < 4:
            raise ValueError(f"invalid principal {text!r}: too short to hold its checksum")
        checksum, raw = data[:4], data[4:]
        if len(raw) > MAX_LENGTH:
            raise ValueError(f"invalid principal {text!r}: {len(raw)} bytes, at most {MAX_LENGTH} allowed")
        if checksum != _crc32(raw):
            raise ValueError(f"invalid principal {text!r}: checksum mismatch")
        principal = cls(raw)
        if principal.to_text() != text.lower():
            raise ValueError(
                f"invalid principal {text!r}: not in canonical form (expected {principal.to_text()!r})"
            )
        return principal

    def to_text(self) -> str:
        encoded = base64.b32encode(_crc32(self.raw) + self.raw).decode("ascii").rstrip("=").lower()
        return "-".join(encoded[i : i + 5] for i in range(0, len(encoded), 5))

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        return f"Principal({self.to_text()!r})"

    @classmethod
    def anonymous(cls) -> Principal:
        """`2vxsx-fae`, the sender of unsigned requests."""
        return cls(bytes([_ANONYMOUS]))

    @classmethod
    def management(cls) -> Principal:
        """`aaaaa-aa`, the management canister (empty raw bytes)."""
        return cls(b"")

    @classmethod
    def self_authenticating(cls, der_public_key: bytes) -> Principal:
        """The principal of whoever holds the key: SHA-224 of its DER encoding, then 0x02."""
        return cls(hashlib.sha224(bytes(der_public_key)).digest() + bytes([_SELF_AUTHENTICATING]))

    @classmethod
    def from_canister_index(cls, index: int) -> Principal:
        """The id the IC gives the canister number `index`: 8-byte big-endian index, 0x01, 0x01."""
        if not 0 <= index < 1 << 64:
            raise ValueError(f"canister index {index} is outside 0..2**64-1")
        return cls(index.to_bytes(8, "big") + bytes([_OPAQUE, _OPAQUE]))

    def canister_index(self) -> int:
        """Inverse of `from_canister_index`; ValueError for principals not of that form."""
        if len(self.raw) != 10 or self.raw[8:] != bytes([_OPAQUE, _OPAQUE]):
            raise ValueError(f"{self} is not a canister id of the form <8-byte index> 0x01 0x01")
        return int.from_bytes(self.raw[:8], "big")

    @property
    def is_anonymous(self) -> bool:
        return self.raw == bytes([_ANONYMOUS])

    @property
    def is_self_authenticating(self) -> bool:
        return len(self.raw) == MAX_LENGTH and self.raw[-1] == _SELF_AUTHENTICATING


def _crc32(data: bytes) -> bytes:
    return binascii.crc32(data).to_bytes(4, "big")
