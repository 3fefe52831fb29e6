"""Hypothesis strategies: random Candid types, and values of a given type."""

from __future__ import annotations

import re
import string

from hypothesis import strategies as st

from icchat.ic import candid
from icchat.ic.principal import Principal

PRIMS = [candid.Null, candid.Bool, candid.Nat, candid.Int, candid.Nat8, candid.Nat16, candid.Nat32,
         candid.Nat64, candid.Int8, candid.Int16, candid.Int32, candid.Int64, candid.Float32,
         candid.Float64, candid.Text, candid.Reserved, candid.PrincipalT]

# A recursive list, the classic recursive Candid type.
LIST = candid.Rec(name="List")
LIST.fill(candid.Opt(candid.Record({"head": candid.Int, "tail": LIST})))

names = st.text(alphabet=string.ascii_letters + "_", min_size=1, max_size=6).filter(
    lambda s: not re.fullmatch(r"_\d+_", s))


def _distinct(fields: dict[str, candid.Type]) -> bool:
    return len({candid.idl_hash(n) for n in fields}) == len(fields)


def _composite(children: st.SearchStrategy[candid.Type]) -> st.SearchStrategy[candid.Type]:
    fields = st.dictionaries(names, children, max_size=4).filter(_distinct)
    return st.one_of(
        children.map(candid.Opt),
        children.map(candid.Vec),
        fields.map(candid.Record),
        st.lists(children, max_size=4).map(lambda ts: candid.Tuple(*ts)),
        fields.filter(bool).map(candid.Variant),
    )


ref_types = st.one_of(
    st.builds(candid.Func, st.lists(st.sampled_from(PRIMS), max_size=2),
              st.lists(st.sampled_from(PRIMS), max_size=2),
              st.sampled_from([(), ("query",), ("oneway",), ("composite_query",)])),
    st.just(candid.Service({"go": candid.Func([candid.Text], [candid.Nat])})),
)

types = st.recursive(
    st.one_of(st.sampled_from(PRIMS), st.just(candid.Blob), st.just(LIST), ref_types),
    _composite, max_leaves=8)

principals = st.binary(max_size=29).map(Principal)


def values(t: candid.Type, *, nan: bool = False, depth: int = 0) -> st.SearchStrategy:
    """Values of type t, in the codec's canonical Python form (Some only where needed)."""
    t = candid.resolve(t)
    if isinstance(t, candid.Prim):
        return _prim_values(t.name, nan)
    if isinstance(t, candid.Opt):
        if depth > 4:
            return st.none()
        inner = values(t.inner, nan=nan, depth=depth + 1)
        if candid.nullable(t.inner):
            inner = inner.map(candid.Some)
        return st.none() | inner
    if isinstance(t, candid.Vec):
        inner = candid.resolve(t.inner)
        if inner == candid.Nat8:
            return st.binary(max_size=64)
        return st.lists(values(inner, nan=nan, depth=depth + 1), max_size=3)
    if isinstance(t, candid.Tuple):
        return st.tuples(*(values(f.type, nan=nan, depth=depth + 1) for f in t.fields))
    if isinstance(t, candid.Record):
        return st.fixed_dictionaries({f.name: values(f.type, nan=nan, depth=depth + 1) for f in t.fields})
    if isinstance(t, candid.Variant):
        return st.one_of(*(values(f.type, nan=nan, depth=depth + 1).map(lambda v, n=f.name: {n: v})
                           for f in t.fields))
    if isinstance(t, candid.Func):
        return st.builds(candid.FuncRef, principals, st.text(max_size=8))
    if isinstance(t, candid.Service):
        return principals
    raise TypeError(t)


def _prim_values(name: str, nan: bool) -> st.SearchStrategy:
    if name in ("null", "reserved"):
        return st.none()
    if name == "bool":
        return st.booleans()
    if name == "nat":
        return st.integers(min_value=0, max_value=1 << 130)
    if name == "int":
        return st.integers(min_value=-(1 << 130), max_value=1 << 130)
    if name.startswith("nat"):
        return st.integers(min_value=0, max_value=(1 << int(name[3:])) - 1)
    if name.startswith("int"):
        bits = int(name[3:])
        return st.integers(min_value=-(1 << (bits - 1)), max_value=(1 << (bits - 1)) - 1)
    if name == "float32":
        return st.floats(width=32, allow_nan=nan)
    if name == "float64":
        return st.floats(allow_nan=nan)
    if name == "text":
        return st.text(max_size=12)
    if name == "principal":
        return principals
    raise ValueError(name)


@st.composite
def typed_args(draw, max_args: int = 3, nan: bool = False):
    """(types, values) of an argument list."""
    ts = draw(st.lists(types, max_size=max_args))
    vs = [draw(values(t, nan=nan)) for t in ts]
    return ts, vs
