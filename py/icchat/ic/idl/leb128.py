"""LEB128 / SLEB128 (arbitrary precision) and a bounds-checked reader over Candid bytes."""

from __future__ import annotations

from icchat.ic.idl.errors import CandidError

_GROUP_BITS = [format(b & 0x7F, "07b") for b in range(256)]  # a byte's 7 payload bits, as text


def uleb(n: int) -> bytes:
    if n < 0:
        raise CandidError(f"cannot LEB128-encode negative {n}")
    if n < 0x80:
        return bytes((n,))
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def sleb(n: int) -> bytes:
    if -0x40 <= n < 0x40:
        return bytes((n & 0x7F,))
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7  # arithmetic shift: ends at 0 or -1
        if (n == 0 and not byte & 0x40) or (n == -1 and byte & 0x40):
            out.append(byte)
            return bytes(out)
        out.append(byte | 0x80)


class Reader:
    """A cursor over immutable bytes; every read checks the bounds and names what it was reading."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    @property
    def remaining(self) -> int:
        return len(self.data) - self.pos

    def truncated(self, what: str) -> CandidError:
        return CandidError(f"input ends at byte {len(self.data)} while reading {what}")

    def byte(self, what: str) -> int:
        pos = self.pos
        if pos >= len(self.data):
            raise self.truncated(what)
        self.pos = pos + 1
        return self.data[pos]

    def take(self, n: int, what: str) -> bytes:
        pos = self.pos
        end = pos + n
        if end > len(self.data):
            raise CandidError(
                f"{what} needs {n} bytes at byte {pos}, but only {len(self.data) - pos} remain"
            )
        self.pos = end
        return self.data[pos:end]

    def view(self, n: int, what: str) -> memoryview:
        """`take` without the copy: a view into the (immutable) input."""
        pos = self.pos
        if pos + n > len(self.data):
            raise CandidError(
                f"{what} needs {n} bytes at byte {pos}, but only {len(self.data) - pos} remain"
            )
        self.pos = pos + n
        return memoryview(self.data)[pos : pos + n]

    def uleb(self, what: str) -> int:
        data, pos = self.data, self.pos
        if pos < len(data) and data[pos] < 0x80:  # the common one-byte case
            self.pos = pos + 1
            return data[pos]
        return self._groups(f"{what} (LEB128)")[0]

    def sleb(self, what: str) -> int:
        value, bits = self._groups(f"{what} (SLEB128)")
        if value >> (bits - 1):  # sign bit of the last group
            value -= 1 << bits
        return value

    def _groups(self, what: str) -> tuple[int, int]:
        """The 7-bit groups of one (S)LEB128 number as an unsigned int, and its bit count."""
        data, start = self.data, self.pos
        end = start
        while end < len(data) and data[end] & 0x80:
            end += 1
        if end >= len(data):
            raise self.truncated(what)
        self.pos = end + 1
        if end - start < 8:
            value = 0
            for shift, byte in enumerate(data[start : end + 1]):
                value |= (byte & 0x7F) << (7 * shift)
        else:  # long (overlong or bignum) numbers: linear time, not quadratic shifting
            groups = data[start : end + 1]
            value = int("".join(map(_GROUP_BITS.__getitem__, reversed(groups))), 2)
        return value, 7 * (end + 1 - start)

    def count(self, what: str, min_item_size: int = 1) -> int:
        """A LEB128 length that cannot exceed what the rest of the input could hold."""
        n = self.uleb(what)
        if n * min_item_size > self.remaining:
            raise CandidError(
                f"{what} is {n}, but only {self.remaining} bytes of input remain at byte {self.pos}"
            )
        return n
