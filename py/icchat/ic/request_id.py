"""Representation-independent hashing of structured data, and request ids (interface spec,
"Representation-independent hashing of structured data" and "Request ids"). Stdlib only.

    hash_of_map(m) = SHA-256(concat(sorted(SHA-256(key) · hash_value(value) for each field)))

Values: bytes as-is; str as UTF-8; int as shortest (S)LEB128 (nats unsigned, negatives signed);
lists as the concatenation of their elements' hashes; maps recursively; Principal as its bytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from icchat.ic.idl.leb128 import sleb, uleb
from icchat.ic.principal import Principal

MAX_DEPTH = 32  # request contents nest a handful of levels (envelope -> delegation -> targets)


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def hash_value(value: Any, depth: int = 0) -> bytes:
    if depth > MAX_DEPTH:
        raise ValueError(f"value nests deeper than {MAX_DEPTH} levels")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _sha256(bytes(value))
    if isinstance(value, str):
        return _sha256(value.encode("utf-8"))
    if isinstance(value, bool):
        raise ValueError("booleans have no representation-independent hash")
    if isinstance(value, int):
        return _sha256(uleb(value) if value >= 0 else sleb(value))
    if isinstance(value, Principal):
        return _sha256(value.raw)
    if isinstance(value, Mapping):
        return hash_of_map(value, depth + 1)
    if isinstance(value, (list, tuple)):
        return _sha256(b"".join(hash_value(v, depth + 1) for v in value))
    raise ValueError(f"cannot hash a value of type {type(value).__name__}")


def hash_of_map(fields: Mapping[str, Any], depth: int = 0) -> bytes:
    """The representation-independent hash of a map with text keys; None values count as absent."""
    pairs = []
    for key, value in fields.items():
        if not isinstance(key, str):
            raise ValueError(f"map keys must be text, got {key!r}")
        if value is not None:
            pairs.append(_sha256(key.encode("utf-8")) + hash_value(value, depth))
    pairs.sort()
    return _sha256(b"".join(pairs))


def request_id(content: Mapping[str, Any]) -> bytes:
    """The 32-byte id of a request: the representation-independent hash of its `content` map."""
    return hash_of_map(content)
