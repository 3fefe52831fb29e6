"""Just enough DER for public keys: SubjectPublicKeyInfo = SEQUENCE { SEQUENCE { OID, [params] },
BIT STRING key } (RFC 5280 4.1, RFC 5480, RFC 8410). Stdlib only."""

from __future__ import annotations

_SEQUENCE, _BIT_STRING, _OID, _NULL = 0x30, 0x03, 0x06, 0x05


class DerError(ValueError):
    """Malformed or unexpected DER."""


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _tlv(tag: int, body: bytes) -> bytes:
    return bytes([tag]) + _length(len(body)) + body


def encode_oid(oid: str) -> bytes:
    arcs = [int(a) for a in oid.split(".")]
    body = bytearray([40 * arcs[0] + arcs[1]])
    for arc in arcs[2:]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body += bytes(reversed(chunk))
    return _tlv(_OID, bytes(body))


def decode_oid(body: bytes) -> str:
    if not body or body[-1] & 0x80:
        raise DerError("malformed OID")
    arcs = [body[0] // 40, body[0] % 40]
    value = 0
    for byte in body[1:]:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    return ".".join(map(str, arcs))


def encode_spki(algorithm_oids: tuple[str, ...], key: bytes) -> bytes:
    algorithm = _tlv(_SEQUENCE, b"".join(encode_oid(o) for o in algorithm_oids))
    return _tlv(_SEQUENCE, algorithm + _tlv(_BIT_STRING, b"\x00" + key))


def _read(data: bytes, pos: int, expected_tag: int, what: str) -> tuple[bytes, int]:
    if pos + 2 > len(data):
        raise DerError(f"{what}: truncated")
    if data[pos] != expected_tag:
        raise DerError(f"{what}: expected tag 0x{expected_tag:02x}, got 0x{data[pos]:02x}")
    n, pos = data[pos + 1], pos + 2
    if n & 0x80:
        size = n & 0x7F
        if size == 0 or size > 4 or pos + size > len(data):
            raise DerError(f"{what}: bad length")
        n = int.from_bytes(data[pos:pos + size], "big")
        if n < 0x80 or data[pos] == 0:
            raise DerError(f"{what}: length not in minimal form")
        pos += size
    if pos + n > len(data):
        raise DerError(f"{what}: length {n} runs past the end")
    return data[pos:pos + n], pos + n


def decode_spki(der: bytes) -> tuple[tuple[str, ...], bytes]:
    """(algorithm OIDs, key bytes) of a SubjectPublicKeyInfo; an explicit NULL parameter is skipped."""
    der = bytes(der)
    outer, end = _read(der, 0, _SEQUENCE, "public key")
    if end != len(der):
        raise DerError("public key: trailing bytes after the DER structure")
    algorithm, pos = _read(outer, 0, _SEQUENCE, "algorithm identifier")
    oids, apos = [], 0
    while apos < len(algorithm):
        if algorithm[apos] == _NULL:
            _, apos = _read(algorithm, apos, _NULL, "algorithm parameters")
            continue
        body, apos = _read(algorithm, apos, _OID, "algorithm identifier")
        oids.append(decode_oid(body))
    bits, pos = _read(outer, pos, _BIT_STRING, "public key bits")
    if pos != len(outer):
        raise DerError("public key: unexpected fields after the key")
    if not bits or bits[0] != 0:
        raise DerError("public key bits must be whole bytes")
    return tuple(oids), bits[1:]
