"""Subtyping and coercion (spec: "Upgrading and Subtyping", "Coercion").

Decoding at an expected type is: read the wire values generically (decode.py), then coerce
each `value : wire type` to the expected type here. Only `CoercionError` is recoverable (the
`opt` rules turn it into null); limits stay fatal.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from icchat.ic.idl.decode import MAX_DEPTH
from icchat.ic.idl.errors import CandidError, CoercionError
from icchat.ic.idl.types import (
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
    show_name,
)

_NULL, _NAT, _INT, _NAT8, _RESERVED, _EMPTY, _PRINCIPAL = -1, -3, -4, -5, -16, -17, -24


class Coercer:
    """Coerces the values of one message; caches subtype checks between its types."""

    def __init__(self) -> None:
        self._subtype_cache: dict[tuple[int, int], bool] = {}

    def args(self, values: Sequence[Any], wire_types: Sequence[Type], expected: Sequence[Type]) -> list[Any]:
        """Argument lists coerce like tuple records: extra ones are ignored, missing ones must admit null."""
        out = []
        for i, et in enumerate(expected):
            if i < len(values):
                try:
                    out.append(self.coerce(values[i], wire_types[i], et, 0))
                except CandidError as exc:
                    raise type(exc)(f"argument {i}: {exc}") from None
            elif nullable(et):
                out.append(None)
            else:
                raise CoercionError(f"argument {i} of type {show(et)} is missing ({len(values)} sent)")
        return out

    def coerce(self, v: Any, wt: Type, et: Type, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise CandidError(f"types nest deeper than {MAX_DEPTH} levels while coercing")
        wt, et = resolve(wt), resolve(et)
        ecls, wcls = type(et), type(wt)
        if ecls is Prim:
            op = et.opcode
            if op == _RESERVED:
                return None
            if wcls is Prim and (wt.opcode == op or (op == _INT and wt.opcode == _NAT)):
                return v
            if op == _PRINCIPAL and wcls is Service:
                return v
            raise _mismatch(wt, et)
        if ecls is Opt:
            if wcls is Prim and wt.opcode in (_NULL, _RESERVED):
                return None
            if wcls is Opt:
                if v is None:
                    return None
                wt = wt.inner
                if nullable(wt):
                    v = v.value
            try:
                inner = self.coerce(v, wt, et.inner, depth + 1)
            except CoercionError:
                return None
            return Some(inner) if nullable(et.inner) else inner
        if ecls is Vec:
            if wcls is not Vec:
                raise _mismatch(wt, et)
            einner = resolve(et.inner)
            if type(einner) is Prim and einner.opcode == _NAT8:
                if isinstance(v, bytes):
                    return v
                return bytes(self.coerce(x, wt.inner, einner, depth + 1) for x in v)
            items = []
            for i, x in enumerate(v):
                try:
                    items.append(self.coerce(x, wt.inner, einner, depth + 1))
                except CandidError as exc:
                    raise type(exc)(f"element {i}: {exc}") from None
            return items
        if ecls is Record or ecls is Tuple:
            if not isinstance(wt, Record):
                raise _mismatch(wt, et)
            out = {}
            for f in et.fields:
                wf = wt.by_id.get(f.id)
                if wf is not None:
                    try:
                        out[f.name] = self.coerce(v[f.id], wf.type, f.type, depth + 1)
                    except CandidError as exc:
                        raise type(exc)(f"field {show_name(f.name)}: {exc}") from None
                elif nullable(f.type):
                    out[f.name] = None
                else:
                    raise CoercionError(f"record field {show_name(f.name)} : {show(f.type)} is missing")
            return tuple(out.values()) if ecls is Tuple else out
        if ecls is Variant:
            if wcls is not Variant:
                raise _mismatch(wt, et)
            ((tag, value),) = v.items()
            f = et.by_id.get(tag)
            if f is None:
                raise CoercionError(f"variant tag {tag} is not a case of {show(et)}")
            try:
                return {f.name: self.coerce(value, wt.by_id[tag].type, f.type, depth + 1)}
            except CandidError as exc:
                raise type(exc)(f"variant {show_name(f.name)}: {exc}") from None
        if ecls is Func or ecls is Service:
            if wcls is ecls and self.is_subtype(wt, et):
                return v
            raise _mismatch(wt, et)
        raise _mismatch(wt, et)

    # --- subtyping ---------------------------------------------------------------------------------

    def is_subtype(self, t1: Type, t2: Type) -> bool:
        key = (id(t1), id(t2))
        result = self._subtype_cache.get(key)
        if result is None:
            result = self._subtype_cache[key] = _Subtyping().check(t1, t2)
        return result


def is_subtype(t1: Type, t2: Type) -> bool:
    """`t1 <: t2` per the spec's rules, with recursive types checked coinductively."""
    return _Subtyping().check(t1, t2)


class _Subtyping:
    def __init__(self) -> None:
        # Pairs under examination count as related (coinduction). Any failure fails the whole
        # check (the rules are conjunctions), so pairs never need to leave this set.
        self.assumed: set[tuple[int, int]] = set()

    def check(self, t1: Type, t2: Type) -> bool:
        t1, t2 = resolve(t1), resolve(t2)
        key = (id(t1), id(t2))
        if key in self.assumed:
            return True
        self.assumed.add(key)
        c1, c2 = type(t1), type(t2)
        if c2 is Opt or (c2 is Prim and t2.opcode == _RESERVED) or (c1 is Prim and t1.opcode == _EMPTY):
            return True
        if c2 is Prim:
            if c1 is Prim:
                return t1.opcode == t2.opcode or (t1.opcode == _NAT and t2.opcode == _INT)
            return t2.opcode == _PRINCIPAL and c1 is Service
        if c2 is Vec:
            return c1 is Vec and self.check(t1.inner, t2.inner)
        if isinstance(t2, Record):
            if not isinstance(t1, Record):
                return False
            for f2 in t2.fields:
                f1 = t1.by_id.get(f2.id)
                if f1 is None:
                    if not nullable(f2.type):
                        return False
                elif not self.check(f1.type, f2.type):
                    return False
            return True
        if c2 is Variant:
            if c1 is not Variant:
                return False
            for f1 in t1.fields:
                f2 = t2.by_id.get(f1.id)
                if f2 is None or not self.check(f1.type, f2.type):
                    return False
            return True
        if c2 is Func:
            return (c1 is Func and t1.annotations == t2.annotations
                    and self._tuple(t2.args, t1.args) and self._tuple(t1.rets, t2.rets))
        if c2 is Service:
            if c1 is not Service:
                return False
            for name, m2 in t2.methods.items():
                m1 = t1.methods.get(name)
                if m1 is None or not self.check(m1, m2):
                    return False
            return True
        return False

    def _tuple(self, ts1: Sequence[Type], ts2: Sequence[Type]) -> bool:
        """record {ts1...} <: record {ts2...} with positional fields."""
        for j, b in enumerate(ts2):
            if j < len(ts1):
                if not self.check(ts1[j], b):
                    return False
            elif not nullable(b):
                return False
        return True


def _mismatch(wt: Type, et: Type) -> CoercionError:
    return CoercionError(f"expected {show(et)}, got a value of type {show(wt)}")
