"""JSON forms of Candid types and values shared with the JS peer (tests/ic/js/candid_peer.mjs).

Values: nat/int/nat64/int64 as decimal strings, blobs as hex, principals as text, opt as
[] / [v] (the JS agents' form), records as objects keyed by name ("_N_" for numeric ids),
tuples as arrays, non-finite floats as "NaN" / "Infinity" / "-Infinity".
"""

from __future__ import annotations

import math
from typing import Any

from icchat.ic import candid

BIG = {"nat", "int", "nat64", "int64"}


def key(name: str | int) -> str:
    return f"_{name}_" if isinstance(name, int) else name


def type_json(t: candid.Type, recs: dict[int, int] | None = None) -> dict:
    recs = {} if recs is None else recs
    if isinstance(t, candid.Rec):
        if isinstance(t.inner, candid.Rec) or isinstance(candid.resolve(t), candid.Prim):
            return type_json(t.inner, recs)  # an alias (`type id = principal`): no IDL.Rec needed
        if id(t) in recs:
            return {"recref": recs[id(t)]}
        recs[id(t)] = len(recs)
        return {"rec": recs[id(t)], "body": type_json(t.inner, recs)}
    if isinstance(t, candid.Prim):
        return {"prim": t.name}
    if isinstance(t, candid.Opt):
        return {"opt": type_json(t.inner, recs)}
    if isinstance(t, candid.Vec):
        return {"vec": type_json(t.inner, recs)}
    if isinstance(t, candid.Tuple):
        return {"tuple": [type_json(f.type, recs) for f in t.fields]}
    if isinstance(t, candid.Record):
        return {"record": [[key(f.name), type_json(f.type, recs)] for f in t.fields]}
    if isinstance(t, candid.Variant):
        return {"variant": [[key(f.name), type_json(f.type, recs)] for f in t.fields]}
    if isinstance(t, candid.Func):
        return {"func": [[type_json(a, recs) for a in t.args], [type_json(r, recs) for r in t.rets],
                         sorted(t.annotations)]}
    if isinstance(t, candid.Service):
        return {"service": [[n, type_json(m, recs)] for n, m in t.methods.items()]}
    raise TypeError(t)


def value_json(t: candid.Type, v: Any) -> Any:
    t = candid.resolve(t)
    if isinstance(t, candid.Prim):
        if t.name in BIG:
            return str(v)
        if t.name in ("float32", "float64"):
            return v if math.isfinite(v) else {math.inf: "Infinity", -math.inf: "-Infinity"}.get(v, "NaN")
        if t.name == "principal":
            return v.to_text()
        if t.name in ("null", "reserved"):
            return None
        return v
    if isinstance(t, candid.Opt):
        if v is None:
            return []
        return [value_json(t.inner, v.value if isinstance(v, candid.Some) else v)]
    if isinstance(t, candid.Vec):
        if isinstance(v, bytes):
            return v.hex()
        return [value_json(t.inner, x) for x in v]
    if isinstance(t, candid.Tuple):
        return [value_json(f.type, x) for f, x in zip(t.fields, v, strict=True)]
    if isinstance(t, candid.Record):
        return {key(f.name): value_json(f.type, v[f.name]) for f in t.fields}
    if isinstance(t, candid.Variant):
        ((tag, x),) = v.items()
        f = next(f for f in t.fields if f.name == tag)
        return {key(f.name): value_json(f.type, x)}
    if isinstance(t, candid.Func):
        return [v.service.to_text(), v.method]
    if isinstance(t, candid.Service):
        return v.to_text()
    raise TypeError(t)


def args_json(types: list[candid.Type], values: list[Any]) -> list:
    return [value_json(t, v) for t, v in zip(types, values, strict=True)]


def normalize(t: candid.Type, j: Any) -> Any:
    """A peer's JSON value with floats as floats (JS writes 1e16 as 10000000000000000)."""
    t = candid.resolve(t)
    if isinstance(t, candid.Prim):
        return float(j) if t.name in ("float32", "float64") and isinstance(j, int) else j
    if isinstance(t, candid.Opt):
        return [normalize(t.inner, x) for x in j]
    if isinstance(t, candid.Vec):
        return j if isinstance(j, str) else [normalize(t.inner, x) for x in j]
    if isinstance(t, candid.Tuple):
        return [normalize(f.type, x) for f, x in zip(t.fields, j, strict=True)]
    if isinstance(t, candid.Record):
        return {key(f.name): normalize(f.type, j[key(f.name)]) for f in t.fields}
    if isinstance(t, candid.Variant):
        ((k, x),) = j.items()
        f = next(f for f in t.fields if key(f.name) == k)
        return {k: normalize(f.type, x)}
    return j
