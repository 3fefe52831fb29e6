"""Encode Python values at Candid types: `DIDL`, the type table, argument types, then values."""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from typing import Any

from icchat.ic.idl.errors import CandidError
from icchat.ic.idl.leb128 import sleb, uleb
from icchat.ic.idl.types import (
    ANNOTATIONS,
    FUNC,
    OPT,
    RECORD,
    SERVICE,
    VARIANT,
    VEC,
    Func,
    Opt,
    Prim,
    Record,
    Service,
    Some,
    Tuple,
    Type,
    Variant,
    Vec,
    nullable,
    resolve,
    show,
)
from icchat.ic.principal import Principal

MAGIC = b"DIDL"


def encode(types: Sequence[Type], values: Sequence[Any]) -> bytes:
    """Serialise an argument (or result) sequence."""
    types, values = list(types), list(values)
    if len(types) != len(values):
        raise CandidError(f"{len(types)} types but {len(values)} values")
    table = _TypeTable()
    try:
        arg_refs = [table.ref(t) for t in types]
    except RecursionError:
        raise CandidError("types nest too deeply to encode") from None
    out = bytearray(MAGIC)
    out += uleb(len(table.entries))
    for entry in table.entries:
        out += entry
    out += uleb(len(arg_refs))
    for ref in arg_refs:
        out += ref
    for i, (t, v) in enumerate(zip(types, values, strict=True)):
        try:
            _write(t, v, out)
        except CandidError as exc:
            raise CandidError(f"argument {i}: {exc}") from None
        except RecursionError:
            raise CandidError(f"argument {i}: value nests too deeply (or contains itself)") from None
    return bytes(out)


class _TypeTable:
    """Assigns table indices to composite types; equal types share one entry."""

    def __init__(self) -> None:
        self.entries: list[bytes] = []
        self.index: dict[Type, int] = {}

    def ref(self, t: Type) -> bytes:
        t = resolve(t)
        if type(t) is Prim:
            return sleb(t.opcode)
        idx = self.index.get(t)
        if idx is None:
            idx = self.index[t] = len(self.entries)
            self.entries.append(b"")  # reserve the slot first: the body may refer back to it
            self.entries[idx] = self._body(t)
        return sleb(idx)

    def _body(self, t: Type) -> bytes:
        if isinstance(t, Opt):
            return sleb(OPT) + self.ref(t.inner)
        if isinstance(t, Vec):
            return sleb(VEC) + self.ref(t.inner)
        if isinstance(t, (Record, Variant)):
            out = bytearray(sleb(RECORD if isinstance(t, Record) else VARIANT))
            out += uleb(len(t.fields))
            for f in t.fields:
                out += uleb(f.id) + self.ref(f.type)
            return bytes(out)
        if isinstance(t, Func):
            out = bytearray(sleb(FUNC))
            for group in (t.args, t.rets):
                out += uleb(len(group))
                for a in group:
                    out += self.ref(a)
            out += uleb(len(t.annotations)) + bytes(sorted(ANNOTATIONS[a] for a in t.annotations))
            return bytes(out)
        if isinstance(t, Service):
            out = bytearray(sleb(SERVICE))
            out += uleb(len(t.methods))
            for name, m in t.methods.items():
                if not isinstance(resolve(m), Func):
                    raise CandidError(f"service method {name!r} has type {show(m)}, not a func type")
                raw = name.encode("utf-8")
                out += uleb(len(raw)) + raw + self.ref(m)
            return bytes(out)
        raise CandidError(f"cannot encode type {show(t)}")


# --- values ---------------------------------------------------------------------------------------


def _describe(v: Any) -> str:
    text = repr(v)
    return f"{type(v).__name__} {text[:60] + '…' if len(text) > 60 else text}"


def _mismatch(t: Type, v: Any) -> CandidError:
    return CandidError(f"expected a {show(t)} value, got {_describe(v)}")


def _write_null(v: Any, out: bytearray) -> None:
    if v is not None:
        raise CandidError(f"expected None for null, got {_describe(v)}")


def _write_bool(v: Any, out: bytearray) -> None:
    if not isinstance(v, bool):
        raise CandidError(f"expected a bool, got {_describe(v)}")
    out.append(1 if v else 0)


def _int_value(v: Any, name: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise CandidError(f"expected an int for {name}, got {_describe(v)}")
    return v


def _write_nat(v: Any, out: bytearray) -> None:
    v = _int_value(v, "nat")
    if v < 0:
        raise CandidError(f"nat cannot be negative: {v}")
    out += uleb(v)


def _write_int(v: Any, out: bytearray) -> None:
    out += sleb(_int_value(v, "int"))


def _fixed_int_writer(name: str, size: int, signed: bool):
    lo, hi = (-(1 << (8 * size - 1)), (1 << (8 * size - 1)) - 1) if signed else (0, (1 << (8 * size)) - 1)

    def write(v: Any, out: bytearray) -> None:
        v = _int_value(v, name)
        if not lo <= v <= hi:
            raise CandidError(f"{v} is out of range for {name} ({lo}..{hi})")
        out += v.to_bytes(size, "little", signed=signed)

    return write


def _float_writer(name: str, fmt: str):
    def write(v: Any, out: bytearray) -> None:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise CandidError(f"expected a float for {name}, got {_describe(v)}")
        try:
            out += struct.pack(fmt, v)
        except (OverflowError, struct.error):
            raise CandidError(f"{v} is out of range for {name}") from None

    return write


def _write_text(v: Any, out: bytearray) -> None:
    if not isinstance(v, str):
        raise CandidError(f"expected a str for text, got {_describe(v)}")
    try:
        raw = v.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise CandidError(f"text is not valid Unicode: {exc.reason} at index {exc.start}") from None
    out += uleb(len(raw))
    out += raw


def _write_reserved(v: Any, out: bytearray) -> None:
    pass  # reserved carries no data, whatever the value


def _write_empty(v: Any, out: bytearray) -> None:
    raise CandidError("type empty has no values")


def _principal(v: Any, what: str) -> Principal:
    if isinstance(v, Principal):
        return v
    if isinstance(v, str):
        try:
            return Principal.from_text(v)
        except ValueError as exc:
            raise CandidError(str(exc)) from None
    raise CandidError(f"expected a Principal for {what}, got {_describe(v)}")


def _write_principal(v: Any, out: bytearray) -> None:
    raw = _principal(v, "principal").raw
    out.append(1)
    out += uleb(len(raw))
    out += raw


_PRIM_WRITERS = {
    -1: _write_null,
    -2: _write_bool,
    -3: _write_nat,
    -4: _write_int,
    -5: _fixed_int_writer("nat8", 1, False),
    -6: _fixed_int_writer("nat16", 2, False),
    -7: _fixed_int_writer("nat32", 4, False),
    -8: _fixed_int_writer("nat64", 8, False),
    -9: _fixed_int_writer("int8", 1, True),
    -10: _fixed_int_writer("int16", 2, True),
    -11: _fixed_int_writer("int32", 4, True),
    -12: _fixed_int_writer("int64", 8, True),
    -13: _float_writer("float32", "<f"),
    -14: _float_writer("float64", "<d"),
    -15: _write_text,
    -16: _write_reserved,
    -17: _write_empty,
    -24: _write_principal,
}


def _write(t: Type, v: Any, out: bytearray) -> None:
    t = resolve(t)
    cls = type(t)
    if cls is Prim:
        _PRIM_WRITERS[t.opcode](v, out)
    elif cls is Opt:
        if v is None:
            out.append(0)
        else:
            out.append(1)
            _write(t.inner, v.value if isinstance(v, Some) else v, out)
    elif cls is Vec:
        _write_vec(t, v, out)
    elif cls is Record or cls is Tuple:
        _write_record(t, v, out)
    elif cls is Variant:
        _write_variant(t, v, out)
    elif cls is Func:
        if not (isinstance(v, tuple) and len(v) == 2 and isinstance(v[1], str)):
            raise CandidError(f"expected FuncRef(service, method) for {show(t)}, got {_describe(v)}")
        out.append(1)
        out.append(1)
        raw = _principal(v[0], "func service").raw
        out += uleb(len(raw)) + raw
        _write_text(v[1], out)
    elif cls is Service:
        raw = _principal(v, "service").raw
        out.append(1)
        out += uleb(len(raw)) + raw
    else:
        raise CandidError(f"cannot encode a value of type {show(t)}")


def _write_vec(t: Vec, v: Any, out: bytearray) -> None:
    inner = resolve(t.inner)
    if isinstance(v, (bytes, bytearray, memoryview)):
        if not (type(inner) is Prim and inner.opcode == -5):
            raise CandidError(f"bytes are only a value of blob (vec nat8), not of {show(t)}")
        data = bytes(v)
        out += uleb(len(data))
        out += data
        return
    if not isinstance(v, (list, tuple)):
        raise _mismatch(t, v)
    out += uleb(len(v))
    for i, item in enumerate(v):
        try:
            _write(inner, item, out)
        except CandidError as exc:
            raise CandidError(f"element {i}: {exc}") from None


def _write_record(t: Record, v: Any, out: bytearray) -> None:
    if isinstance(v, Mapping):
        used = 0
        for f in t.fields:
            if f.name in v:
                item = v[f.name]
                used += 1
            elif f.id in v:
                item = v[f.id]
                used += 1
            elif nullable(f.type):
                item = None  # absent opt/null/reserved fields read as null
            else:
                raise CandidError(f"missing record field {f.name!r} of type {show(f.type)}")
            try:
                _write(f.type, item, out)
            except CandidError as exc:
                raise CandidError(f"field {f.name!r}: {exc}") from None
        if used != len(v):
            known = {f.name for f in t.fields} | {f.id for f in t.fields}
            extra = [k for k in v if k not in known]
            raise CandidError(f"unknown record field(s) {extra!r} for {show(t)}")
        return
    if isinstance(v, (tuple, list)) and all(f.id == i for i, f in enumerate(t.fields)):
        if len(v) != len(t.fields):
            raise CandidError(f"expected {len(t.fields)} tuple elements, got {len(v)}")
        for i, (f, item) in enumerate(zip(t.fields, v, strict=True)):
            try:
                _write(f.type, item, out)
            except CandidError as exc:
                raise CandidError(f"tuple element {i}: {exc}") from None
        return
    raise _mismatch(t, v)


def _write_variant(t: Variant, v: Any, out: bytearray) -> None:
    if isinstance(v, str):  # a bare tag for a null-typed case, e.g. "nil"
        v = {v: None}
    if not (isinstance(v, Mapping) and len(v) == 1):
        raise CandidError(f"expected a one-key dict {{tag: value}} for {show(t)}, got {_describe(v)}")
    ((tag, item),) = v.items()
    for index, f in enumerate(t.fields):
        if f.name == tag or (isinstance(tag, int) and not isinstance(tag, bool) and f.id == tag):
            out += uleb(index)
            try:
                _write(f.type, item, out)
            except CandidError as exc:
                raise CandidError(f"variant {f.name!r}: {exc}") from None
            return
    raise CandidError(f"unknown variant tag {tag!r} for {show(t)}")
