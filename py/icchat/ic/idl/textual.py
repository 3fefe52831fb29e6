"""Textual Candid values (parsed by syntax.py) -> Python values at expected types."""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from typing import Any

from icchat.ic.idl.coerce import Coercer
from icchat.ic.idl.decode import read_message
from icchat.ic.idl.encode import encode
from icchat.ic.idl.errors import CandidError, CoercionError
from icchat.ic.idl.syntax import Value, field_key_id
from icchat.ic.idl.types import (
    Func,
    FuncRef,
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

_INT_RANGES = {
    "nat8": (0, 8), "nat16": (0, 16), "nat32": (0, 32), "nat64": (0, 64),
    "int8": (1, 8), "int16": (1, 16), "int32": (1, 32), "int64": (1, 64),
}
MAX_DEPTH = 300


def values_at(values: Sequence[Value], types: Sequence[Type]) -> list[Any]:
    """An argument list at its types: extra values are ignored, missing ones must admit null."""
    out = []
    for i, t in enumerate(types):
        if i < len(values):
            try:
                out.append(value_at(values[i], t))
            except CandidError as exc:
                raise type(exc)(f"argument {i}: {exc}") from None
        elif nullable(t):
            out.append(None)
        else:
            raise CoercionError(f"argument {i} of type {show(t)} is missing")
    return out


def value_at(v: Value, t: Type, depth: int = 0) -> Any:
    if depth > MAX_DEPTH:
        raise CandidError(f"value nests deeper than {MAX_DEPTH} levels")
    t = resolve(t)
    kind = v.kind
    if kind == "annot":
        assert v.type is not None
        inner = value_at(v.data, v.type, depth + 1)
        if v.type == t:
            return inner
        # Coerce exactly like binary data would be: through the codec.
        message = read_message(encode([v.type], [inner]))
        return Coercer().coerce(message.values[0], message.types[0], t, 0)
    cls = type(t)
    if cls is Prim:
        return _prim_at(v, t)
    if cls is Opt:
        if kind == "null":
            return None
        if kind == "opt":
            inner = value_at(v.data, t.inner, depth + 1)
        else:
            try:
                inner = value_at(v, t.inner, depth + 1)
            except CoercionError:
                return None
        return Some(inner) if nullable(t.inner) else inner
    if cls is Vec:
        inner_t = resolve(t.inner)
        is_blob = type(inner_t) is Prim and inner_t.name == "nat8"
        if kind == "blob":
            if not is_blob:
                raise _mismatch(v, t)
            return v.data
        if kind != "vec":
            raise _mismatch(v, t)
        items = [value_at(item, inner_t, depth + 1) for item in v.data]
        return bytes(items) if is_blob else items
    if cls is Record or cls is Tuple:
        if kind != "record":
            raise _mismatch(v, t)
        given: dict[int, Value] = {}
        next_id = 0
        for key, item in v.items:
            fid = next_id if key is None else field_key_id(key)
            if fid in given:
                raise CandidError(f"record field {key if key is not None else fid} is given twice")
            given[fid] = item
            next_id = fid + 1
        out = {}
        for f in t.fields:
            if f.id in given:
                out[f.name] = value_at(given[f.id], f.type, depth + 1)
            elif nullable(f.type):
                out[f.name] = None
            else:
                raise CoercionError(f"record field {f.name!r} is missing")
        return tuple(out.values()) if cls is Tuple else out
    if cls is Variant:
        if kind != "variant":
            raise _mismatch(v, t)
        ((key, item),) = v.items
        f = t.by_id.get(field_key_id(key))  # type: ignore[arg-type]
        if f is None:
            raise CoercionError(f"variant case {key!r} is not in {show(t)}")
        return {f.name: value_at(item, f.type, depth + 1)}
    if cls is Func:
        if kind != "func":
            raise _mismatch(v, t)
        service, method = v.data
        return FuncRef(_principal(service), method)
    if cls is Service:
        if kind != "service":
            raise _mismatch(v, t)
        return _principal(v.data)
    raise _mismatch(v, t)


def _prim_at(v: Value, t: Prim) -> Any:
    name, kind = t.name, v.kind
    if name == "reserved":
        return None
    if name == "null" and kind == "null":
        return None
    if name == "bool" and kind == "bool":
        return v.data
    if name == "text" and kind == "text":
        try:
            return v.data.decode("utf-8")
        except UnicodeDecodeError:
            raise CandidError("text literal is not valid UTF-8") from None
    if name == "principal" and kind in ("principal", "service"):
        return _principal(v.data)
    if kind == "num":
        sign, tok = v.data
        if name in ("float32", "float64"):
            try:
                x = float(tok.value)
            except OverflowError:
                raise CandidError(f"{tok.value} is out of range for {name}") from None
            x = -x if sign == "-" else x
            if name == "float32" and math.isfinite(x):
                try:
                    x = struct.unpack("<f", struct.pack("<f", x))[0]
                except OverflowError:
                    raise CandidError(f"{x} is out of range for float32") from None
            return x
        if tok.kind != "nat":
            raise CoercionError(f"{tok.value} is not an integer ({name})")
        n = -tok.value if sign == "-" else tok.value
        if name == "nat":
            if n < 0:
                raise CoercionError(f"{n} is negative, not a nat")
            return n
        if name == "int":
            return n
        if name in _INT_RANGES:
            signed, bits = _INT_RANGES[name]
            lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
            if not lo <= n <= hi:
                raise CoercionError(f"{n} is out of range for {name}")
            return n
    raise _mismatch(v, t)


def _principal(text: str) -> Principal:
    try:
        return Principal.from_text(text)
    except ValueError as exc:
        raise CandidError(str(exc)) from None


def _mismatch(v: Value, t: Type) -> CoercionError:
    return CoercionError(f"a textual {v.kind} value is not a {show(t)}")
