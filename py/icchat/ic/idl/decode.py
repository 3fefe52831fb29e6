"""Read Candid binary into wire types and generic values, metered against hostile input.

The spec asks decoders to self-meter (time, memory, stack). Here:
  * every length is checked against the bytes that remain before anything is allocated;
  * a vector's elements of a type that may take zero bytes (null, reserved, record {}) are
    checked against a budget of decoded values, proportional to the input size;
  * nesting deeper than MAX_DEPTH is an error, not a stack overflow.
Generic values: records are {field id: value}, variants {tag id: value}; see types.py.
"""

from __future__ import annotations

import struct
from typing import Any

from icchat.ic.idl.errors import CandidError
from icchat.ic.idl.leb128 import Reader
from icchat.ic.idl.types import (
    ANNOTATIONS,
    FUNC,
    OPT,
    PRIMITIVES,
    RECORD,
    SERVICE,
    VARIANT,
    VEC,
    Func,
    FuncRef,
    FutureType,
    Opt,
    Prim,
    Rec,
    Record,
    Service,
    Some,
    Type,
    Variant,
    Vec,
    nullable,
    resolve,
)
from icchat.ic.principal import MAX_LENGTH, Principal

MAGIC = b"DIDL"
MAX_DEPTH = 300  # nested values or types; keeps Python's stack (CPython and Pyodide) safe

# Values a message may decode: a few per input byte, plus room for small zero-sized data.
VALUES_PER_BYTE = 4
VALUES_BASE = 100_000


def default_budget(size: int) -> int:
    return VALUES_PER_BYTE * size + VALUES_BASE


class WireMessage:
    """A decoded message: its argument types as sent, and their generic values."""

    __slots__ = ("types", "values")

    def __init__(self, types: list[Type], values: list[Any]) -> None:
        self.types = types
        self.values = values


def read_message(data: bytes, budget: int | None = None, *, blob_views: bool = False) -> WireMessage:
    """`blob_views`: blobs (vec nat8) come back as memoryviews into `data` instead of copies."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise CandidError(f"Candid input must be bytes, not {type(data).__name__}")
    data = bytes(data)
    if data[:4] != MAGIC:
        raise CandidError(f"not Candid: expected magic bytes 'DIDL', got {data[:4]!r}")
    reader = Reader(data)
    reader.pos = 4
    table = _read_type_table(reader)
    n_args = reader.count("argument count")
    types = [_type_ref(reader.sleb("argument type"), table, "argument type") for _ in range(n_args)]
    values_reader = _ValueReader(reader, default_budget(len(data)) if budget is None else budget, blob_views)
    values = []
    for i, t in enumerate(types):
        try:
            values.append(values_reader.read(t, 0))
        except CandidError as exc:
            raise CandidError(f"argument {i}: {exc}") from None
        except RecursionError:
            raise CandidError(f"argument {i}: value nests too deeply") from None
    if reader.remaining:
        raise CandidError(f"{reader.remaining} unexpected bytes after the last argument (at byte {reader.pos})")
    return WireMessage(types, values)


# --- type table -------------------------------------------------------------------------------------


def _type_ref(index: int, table: list[Rec], what: str) -> Type:
    if index >= 0:
        if index >= len(table):
            raise CandidError(f"{what} refers to type table entry {index}, but the table has {len(table)}")
        return table[index]
    prim = PRIMITIVES.get(index)
    if prim is None:
        raise CandidError(f"{what} has type code {index}, which is neither a primitive type nor a table index")
    return prim


def _read_type_table(reader: Reader) -> list[Rec]:
    n = reader.count("type table length")
    table = [Rec(name=f"table{i}") for i in range(n)]
    pending: list[tuple[Rec, str, Any]] = []
    for i in range(n):
        where = f"type table entry {i}"
        op = reader.sleb(where)
        if op in (OPT, VEC):
            pending.append((table[i], "opt" if op == OPT else "vec", reader.sleb(where)))
        elif op in (RECORD, VARIANT):
            count = reader.count(f"{where}: field count", 2)
            fields = []
            previous = -1
            for _ in range(count):
                fid = reader.uleb(f"{where}: field id")
                if fid >= 1 << 32:
                    raise CandidError(f"{where}: field id {fid} does not fit in 32 bits")
                if fid <= previous:
                    raise CandidError(f"{where}: field ids are not strictly increasing ({previous}, then {fid})")
                previous = fid
                fields.append((fid, reader.sleb(f"{where}: field type")))
            pending.append((table[i], "record" if op == RECORD else "variant", fields))
        elif op == FUNC:
            args = [reader.sleb(f"{where}: argument type") for _ in range(reader.count(f"{where}: argument count"))]
            rets = [reader.sleb(f"{where}: result type") for _ in range(reader.count(f"{where}: result count"))]
            annotations = set()
            for _ in range(reader.count(f"{where}: annotation count")):
                code = reader.byte(f"{where}: annotation")
                name = next((k for k, v in ANNOTATIONS.items() if v == code), None)
                if name is None:
                    raise CandidError(f"{where}: unknown function annotation {code}")
                annotations.add(name)
            pending.append((table[i], "func", (args, rets, annotations)))
        elif op == SERVICE:
            methods = []
            previous_name: bytes | None = None
            for _ in range(reader.count(f"{where}: method count", 2)):
                raw = reader.take(reader.count(f"{where}: method name length"), f"{where}: method name")
                try:
                    name = raw.decode("utf-8")
                except UnicodeDecodeError:
                    raise CandidError(f"{where}: method name is not valid UTF-8") from None
                if previous_name is not None and raw <= previous_name:
                    raise CandidError(f"{where}: method names are not sorted and unique ({name!r})")
                previous_name = raw
                methods.append((name, reader.sleb(f"{where}: method type")))
            pending.append((table[i], "service", methods))
        elif op < SERVICE and op != -24:  # a future type: skip its length-prefixed description
            reader.take(reader.count(f"{where}: future type length"), f"{where}: future type")
            table[i].fill(FutureType(op))
        elif op >= 0:
            raise CandidError(f"{where}: a type index ({op}) cannot be a table entry")
        else:
            raise CandidError(f"{where}: primitive type {PRIMITIVES[op].name} cannot be a table entry")

    for rec, kind, body in pending:
        where = f"type table entry {rec.name[5:]}"
        if kind in ("opt", "vec"):
            inner = _type_ref(body, table, where)
            rec.fill(Opt(inner) if kind == "opt" else Vec(inner))
        elif kind in ("record", "variant"):
            fields = [(fid, _type_ref(idx, table, where)) for fid, idx in body]
            rec.fill(Record(fields) if kind == "record" else Variant(fields))
        elif kind == "func":
            args, rets, annotations = body
            rec.fill(Func([_type_ref(a, table, where) for a in args],
                          [_type_ref(r, table, where) for r in rets], annotations))
        else:
            rec.fill(Service([(name, _type_ref(idx, table, where)) for name, idx in body]))
    for rec, kind, _ in pending:  # only now can method types be followed
        if kind == "service":
            for name, m in rec.inner.methods.items():  # type: ignore[union-attr]
                if not isinstance(resolve(m), Func):
                    raise CandidError(f"type table entry {rec.name[5:]}: method {name!r} is not a func type")
    return table


# --- values -------------------------------------------------------------------------------------------


class _ValueReader:
    def __init__(self, reader: Reader, budget: int, blob_views: bool = False) -> None:
        self.r = reader
        self.budget = budget
        self.blob_views = blob_views
        self._min_sizes: dict[int, int] = {}
        self._prim = {
            -1: self._null, -2: self._bool, -3: self._nat, -4: self._int,
            -5: self._fixed(1, False, "nat8"), -6: self._fixed(2, False, "nat16"),
            -7: self._fixed(4, False, "nat32"), -8: self._fixed(8, False, "nat64"),
            -9: self._fixed(1, True, "int8"), -10: self._fixed(2, True, "int16"),
            -11: self._fixed(4, True, "int32"), -12: self._fixed(8, True, "int64"),
            -13: self._float("<f", 4, "float32"), -14: self._float("<d", 8, "float64"),
            -15: self._text, -16: self._null, -17: self._empty, -24: self._principal,
        }

    def read(self, t: Type, depth: int) -> Any:
        self.budget -= 1
        if self.budget < 0:
            raise CandidError("message decodes to too many values for its size (decoding budget exhausted)")
        while type(t) is Rec:
            t = t.inner  # type: ignore[assignment]  # wire knots are always filled
        cls = type(t)
        if cls is Prim:
            return self._prim[t.opcode]()
        if depth >= MAX_DEPTH:
            raise CandidError(f"value nests deeper than {MAX_DEPTH} levels")
        depth += 1
        r = self.r
        if cls is Opt:
            tag = r.byte("opt tag")
            if tag == 0:
                return None
            if tag != 1:
                raise CandidError(f"opt tag must be 0 or 1, got {tag} at byte {r.pos - 1}")
            value = self.read(t.inner, depth)
            return Some(value) if nullable(t.inner) else value
        if cls is Vec:
            inner = t.inner
            while type(inner) is Rec:
                inner = inner.inner
            if type(inner) is Prim and inner.opcode == -5:
                n = r.count("blob length")
                return r.view(n, "blob") if self.blob_views else r.take(n, "blob")
            size = self._min_size(inner)
            if size:
                n = r.count("vector length", size)
            else:
                n = r.uleb("vector length")
                if n > self.budget:
                    raise CandidError(f"vector of {n} zero-sized elements exceeds the decoding budget")
            return [self.read(inner, depth) for _ in range(n)]
        if cls is Record:
            return {f.id: self.read(f.type, depth) for f in t.fields}
        if cls is Variant:
            index = r.uleb("variant index")
            if index >= len(t.fields):
                raise CandidError(f"variant index {index} is out of range (the type has {len(t.fields)} cases)")
            f = t.fields[index]
            return {f.id: self.read(f.type, depth)}
        if cls is Func:
            self._reference_tag("func")
            self._reference_tag("func service")
            service = self._principal_bytes("func service")
            raw = r.take(r.count("func method name length"), "func method name")
            return FuncRef(service, _utf8(raw, "func method name"))
        if cls is Service:
            self._reference_tag("service")
            return self._principal_bytes("service")
        if cls is FutureType:
            size = r.count("future value length")
            refs = r.uleb("future value reference count")
            if refs:
                raise CandidError("future values with references are not supported")
            r.take(size, "future value")
            return None
        raise CandidError(f"cannot decode a value of type {t}")  # pragma: no cover

    def _min_size(self, t: Type) -> int:
        """A lower bound on the bytes any value of wire type t takes (0 while on a cycle)."""
        while type(t) is Rec:
            t = t.inner  # type: ignore[assignment]
        key = id(t)
        cached = self._min_sizes.get(key)
        if cached is not None:
            return cached
        self._min_sizes[key] = 0  # provisional: recursion through t costs nothing extra
        cls = type(t)
        if cls is Prim:
            size = _PRIM_MIN_SIZE[t.opcode]
        elif cls is Record:
            size = sum(self._min_size(f.type) for f in t.fields)
        elif cls is Func:
            size = 4  # two tags, an id length and a name length
        elif cls is Service or cls is FutureType:
            size = 2  # a tag and a length, or two lengths
        else:  # opt, vec, variant: a tag, length or index byte at least
            size = 1
        self._min_sizes[key] = size
        return size

    def _reference_tag(self, what: str) -> None:
        tag = self.r.byte(f"{what} reference tag")
        if tag == 0:
            raise CandidError(f"opaque {what} references are not supported")
        if tag != 1:
            raise CandidError(f"{what} reference tag must be 1, got {tag}")

    def _principal_bytes(self, what: str) -> Principal:
        n = self.r.count(f"{what} id length")
        if n > MAX_LENGTH:
            raise CandidError(f"{what} id is {n} bytes, at most {MAX_LENGTH} allowed")
        return Principal(self.r.take(n, f"{what} id"))

    # primitives
    def _null(self) -> None:
        return None

    def _bool(self) -> bool:
        b = self.r.byte("bool")
        if b > 1:
            raise CandidError(f"bool must be 0 or 1, got {b} at byte {self.r.pos - 1}")
        return b == 1

    def _nat(self) -> int:
        return self.r.uleb("nat")

    def _int(self) -> int:
        return self.r.sleb("int")

    def _fixed(self, size: int, signed: bool, name: str):
        def read() -> int:
            return int.from_bytes(self.r.take(size, name), "little", signed=signed)
        return read

    def _float(self, fmt: str, size: int, name: str):
        def read() -> float:
            return struct.unpack(fmt, self.r.take(size, name))[0]
        return read

    def _text(self) -> str:
        raw = self.r.take(self.r.count("text length"), "text")
        return _utf8(raw, "text")

    def _empty(self) -> None:
        raise CandidError("a value of type empty cannot exist")

    def _principal(self) -> Principal:
        self._reference_tag("principal")
        return self._principal_bytes("principal")


_PRIM_MIN_SIZE = {-1: 0, -2: 1, -3: 1, -4: 1, -5: 1, -6: 2, -7: 4, -8: 8, -9: 1, -10: 2, -11: 4,
                  -12: 8, -13: 4, -14: 8, -15: 1, -16: 0, -17: 0, -24: 2}


def _utf8(raw: bytes, what: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CandidError(f"{what} is not valid UTF-8 ({exc.reason} at offset {exc.start})") from None
