"""Response bodies through the gateway: read ahead, verify while streaming, decode for clients.

A body that ends within `READ_AHEAD_BYTES` is verified whole before anything is sent, so a
failure is a clean error page (ic-gateway verifies streams of up to 4 callback chunks this
way). A longer stream is sent as it is fetched, hashed on the way; the last chunk is held back
until the whole body has been checked, and a mismatch cuts the connection instead — the client
never receives a complete-looking uncertified body (ic-gateway skips verification of such
streams altogether; the spec says a certifying gateway must not pass on uncertified chunks).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator

from icchat.replica.http.gateway_verify import BodyCheck

READ_AHEAD_BYTES = 8 * 1024 * 1024
DECODE_PIECE_BYTES = 1024 * 1024


class BodyError(Exception):
    """The body cannot be delivered (bad compression, failed verification mid-stream)."""


def read_ahead(chunks: Iterator[bytes], limit: int = READ_AHEAD_BYTES) -> tuple[list[bytes], bool]:
    """Chunks until the body ends (True) or more than `limit` bytes are in hand (False)."""
    held: list[bytes] = []
    size = 0
    for chunk in chunks:
        held.append(chunk)
        size += len(chunk)
        if size > limit:
            return held, False
    return held, True


def verified(chunks: Iterable[bytes], check: BodyCheck, *, hashed: bool = False) -> Iterator[bytes]:
    """The chunks, each released only once the next one is in; the last only after `finish`.
    `hashed`: the chunks were passed to `check.update` already (by the prefetching worker)."""
    pending: bytes | None = None
    for chunk in chunks:
        if not hashed:
            check.update(chunk)
        if pending is not None:
            yield pending
        pending = chunk
    check.finish()  # raises VerificationError: the server cuts the connection
    if pending is not None:
        yield pending


def decodes(encoding: str) -> bool:
    return encoding in ("gzip", "x-gzip", "deflate")


def decoded(chunks: Iterable[bytes], encoding: str) -> Iterator[bytes]:
    """Undo a gzip or deflate Content-Encoding chunk by chunk (for clients that do not accept it)."""
    decoder = None
    for chunk in chunks:
        if decoder is None:
            if not chunk:
                continue
            decoder = zlib.decompressobj(_wbits(encoding, chunk))
        while chunk and not decoder.eof:  # in bounded pieces, however well it compresses
            try:
                out = decoder.decompress(chunk, DECODE_PIECE_BYTES)
            except zlib.error as exc:
                raise BodyError(f"the canister's {encoding} body is corrupt: {exc}") from None
            chunk = decoder.unconsumed_tail
            if out:
                yield out
    if decoder is not None:
        try:
            rest = decoder.flush()  # output still inside the decoder, if any
        except zlib.error as exc:
            raise BodyError(f"the canister's {encoding} body is corrupt: {exc}") from None
        if rest:
            yield rest
    if decoder is not None and not decoder.eof:
        raise BodyError(f"the canister's {encoding} body ends early")


def decode_all(body: bytes, encoding: str) -> bytes:
    return b"".join(decoded([body], encoding))


def _wbits(encoding: str, first: bytes) -> int:
    if encoding in ("gzip", "x-gzip"):
        return 31
    # "deflate" is zlib-wrapped by RFC 9110, but servers also send raw deflate.
    is_zlib = len(first) >= 2 and first[0] & 0x0F == 8 and (first[0] << 8 | first[1]) % 31 == 0
    return 15 if is_zlib else -15


def accepts(accept_encoding: str | None, encoding: str) -> bool:
    """Does an Accept-Encoding header value allow `encoding` (q > 0, or via `*`)?"""
    if not accept_encoding:
        return False
    wildcard = None
    for item in accept_encoding.split(","):
        name, _, params = item.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        name = name.strip().lower()
        if name == encoding or (encoding == "gzip" and name == "x-gzip"):
            return q > 0
        if name == "*":
            wildcard = q > 0
    return bool(wildcard)
