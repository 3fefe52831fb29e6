"""A bounds-checked cursor over WASM bytes. Every malformed input raises `WasmDecodeError`."""

from __future__ import annotations


class WasmDecodeError(ValueError):
    """The bytes are not a module this decoder understands; the message says where and why."""


class Reader:
    __slots__ = ("data", "end", "pos")

    def __init__(self, data: bytes | memoryview, pos: int = 0, end: int | None = None) -> None:
        self.data = data
        self.pos = pos
        self.end = len(data) if end is None else end

    def error(self, message: str) -> WasmDecodeError:
        return WasmDecodeError(f"{message} (at byte {self.pos})")

    def at_end(self) -> bool:
        return self.pos >= self.end

    def byte(self) -> int:
        if self.pos >= self.end:
            raise self.error("unexpected end of input")
        b = self.data[self.pos]
        self.pos += 1
        return b

    def bytes(self, n: int) -> bytes:
        if n < 0 or self.pos + n > self.end:
            raise self.error(f"needs {n} bytes, {self.end - self.pos} remain")
        out = bytes(self.data[self.pos : self.pos + n])
        self.pos += n
        return out

    def skip(self, n: int) -> None:
        if n < 0 or self.pos + n > self.end:
            raise self.error(f"needs {n} bytes, {self.end - self.pos} remain")
        self.pos += n

    def u32(self) -> int:
        return self._uleb(32)

    def u64(self) -> int:
        return self._uleb(64)

    def _uleb(self, bits: int) -> int:
        data, pos, end = self.data, self.pos, self.end
        if pos < end and data[pos] < 0x80:  # the common one-byte case
            self.pos = pos + 1
            return data[pos]
        result = shift = 0
        max_bytes = (bits + 6) // 7
        for _ in range(max_bytes):
            if pos >= end:
                raise self.error("unexpected end of input in LEB128")
            b = data[pos]
            pos += 1
            result |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                if result >> bits:
                    raise self.error(f"LEB128 value out of range for u{bits}")
                self.pos = pos
                return result
        raise self.error(f"LEB128 longer than {max_bytes} bytes")

    def s32(self) -> int:
        return self._sleb(32)

    def s33(self) -> int:
        return self._sleb(33)

    def s64(self) -> int:
        return self._sleb(64)

    def _sleb(self, bits: int) -> int:
        data, pos, end = self.data, self.pos, self.end
        result = shift = 0
        max_bytes = (bits + 6) // 7
        for _ in range(max_bytes):
            if pos >= end:
                raise self.error("unexpected end of input in SLEB128")
            b = data[pos]
            pos += 1
            result |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                if b & 0x40:
                    result -= 1 << shift
                if not -(1 << (bits - 1)) <= result < (1 << (bits - 1)):
                    raise self.error(f"SLEB128 value out of range for s{bits}")
                self.pos = pos
                return result
        raise self.error(f"SLEB128 longer than {max_bytes} bytes")

    def name(self) -> str:
        raw = self.bytes(self.u32())
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise self.error("name is not valid UTF-8") from None


def uleb(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def sleb(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if (n == 0 and not b & 0x40) or (n == -1 and b & 0x40):
            out.append(b)
            return bytes(out)
        out.append(b | 0x80)


def vec(items: list[bytes]) -> bytes:
    return uleb(len(items)) + b"".join(items)


def name(text: str) -> bytes:
    raw = text.encode("utf-8")
    return uleb(len(raw)) + raw
