"""icp-py-core's `icp_candid` (the maintained ic-py fork) as a Python peer codec.

It covers a subset of Candid well (no reserved/empty/func/service at the API level we use);
these helpers translate our types and values to its forms and its results to our JSON forms.
"""

from __future__ import annotations

from typing import Any

from candid_json import value_json
from icp_candid import Types as T
from icp_candid import decode as icp_decode
from icp_candid import encode as icp_encode

from icchat.ic import candid

_PRIMS = {p.name: getattr(T, p.name.capitalize()) for p in
          (candid.Null, candid.Bool, candid.Nat, candid.Int, candid.Nat8, candid.Nat16, candid.Nat32,
           candid.Nat64, candid.Int8, candid.Int16, candid.Int32, candid.Int64, candid.Float32,
           candid.Float64, candid.Text)}
_PRIMS["principal"] = T.Principal


def icp_type(t: candid.Type):
    t = candid.resolve(t)
    if isinstance(t, candid.Prim):
        return _PRIMS[t.name]
    if isinstance(t, candid.Opt):
        return T.Opt(icp_type(t.inner))
    if isinstance(t, candid.Vec):
        return T.Vec(icp_type(t.inner))
    if isinstance(t, candid.Tuple):
        return T.Tuple(*(icp_type(f.type) for f in t.fields))
    if isinstance(t, candid.Record):
        return T.Record({f.name: icp_type(f.type) for f in t.fields})
    if isinstance(t, candid.Variant):
        return T.Variant({f.name: icp_type(f.type) for f in t.fields})
    raise TypeError(f"not in the icp_candid subset: {t}")


def icp_value(t: candid.Type, v: Any) -> Any:
    t = candid.resolve(t)
    if isinstance(t, candid.Prim):
        return v.to_text() if t.name == "principal" else v
    if isinstance(t, candid.Opt):
        return [] if v is None else [icp_value(t.inner, v.value if isinstance(v, candid.Some) else v)]
    if isinstance(t, candid.Vec):
        return v if isinstance(v, bytes) else [icp_value(t.inner, x) for x in v]
    if isinstance(t, candid.Tuple):
        return [icp_value(f.type, x) for f, x in zip(t.fields, v, strict=True)]
    if isinstance(t, candid.Record):
        return {f.name: icp_value(f.type, v[f.name]) for f in t.fields}
    if isinstance(t, candid.Variant):
        ((tag, x),) = v.items()
        return {tag: icp_value(t.by_id[candid.idl_hash(tag)].type, x)}
    raise TypeError(t)


def from_icp(t: candid.Type, v: Any) -> Any:
    """icp_candid's decoded value -> our Python form (then comparable via value_json)."""
    t = candid.resolve(t)
    if isinstance(t, candid.Prim):
        if t.name == "principal":
            from icchat.ic.principal import Principal
            return Principal(v.bytes)
        return v
    if isinstance(t, candid.Opt):
        if not v:
            return None
        inner = from_icp(t.inner, v[0])
        return candid.Some(inner) if candid.nullable(t.inner) else inner
    if isinstance(t, candid.Vec):
        return bytes(v) if candid.resolve(t.inner) == candid.Nat8 else [from_icp(t.inner, x) for x in v]
    if isinstance(t, candid.Tuple):
        return tuple(from_icp(f.type, x) for f, x in zip(t.fields, v, strict=True))
    if isinstance(t, candid.Record):
        return {f.name: from_icp(f.type, v[f.name]) for f in t.fields}
    if isinstance(t, candid.Variant):
        ((tag, x),) = v.items()
        return {tag: from_icp(t.by_id[candid.idl_hash(tag)].type, x)}
    raise TypeError(t)


def encode(types: list[candid.Type], values: list[Any]) -> bytes:
    return icp_encode([{"type": icp_type(t), "value": icp_value(t, v)} for t, v in zip(types, values, strict=True)])


def decode_json(data: bytes, types: list[candid.Type]) -> list:
    decoded = icp_decode(data, [icp_type(t) for t in types]) if types else []
    return [value_json(t, from_icp(t, d["value"])) for t, d in zip(types, decoded, strict=True)]
