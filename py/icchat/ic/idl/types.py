"""Candid types as Python objects, plus the helper classes some values need.

Types compare structurally (so equal types share one type-table entry when encoding), except
`Rec`, the knot for recursive types, which compares by identity.

Python values by type (see docs/ic-primitives.md):
  nat/int/natN/intN -> int        float32/64 -> float      bool -> bool      text -> str
  null/reserved -> None           principal/service -> Principal             blob -> bytes
  vec T -> list                   record -> dict {field name: value}         Tuple -> tuple
  variant -> {tag: value}         func -> FuncRef(service, method)
  opt T -> None or the value; `Some(v)` only when T itself admits null (null, opt, reserved),
  so `opt opt nat` values are None, Some(None) and Some(5), never ambiguous.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from icchat.ic.idl.errors import CandidError
from icchat.ic.principal import Principal

# --- field ids --------------------------------------------------------------------------------


def idl_hash(name: str) -> int:
    """The spec's field id of a name: sum of utf8(name)[i] * 223^(k-i), mod 2^32."""
    h = 0
    for byte in name.encode("utf-8"):
        h = (h * 223 + byte) & 0xFFFFFFFF
    return h


def field_id(name: str | int) -> int:
    if isinstance(name, bool) or not isinstance(name, (str, int)):
        raise CandidError(f"field name must be a str or an int id, not {name!r}")
    if isinstance(name, int):
        if not 0 <= name < 1 << 32:
            raise CandidError(f"field id {name} is outside 0..2**32-1")
        return name
    return idl_hash(name)


class Field(NamedTuple):
    name: str | int  # as the program refers to it: a name, or the numeric id itself
    id: int
    type: Type


# --- values that need a class -------------------------------------------------------------------


class Some:
    """A present `opt` value whose content type itself admits null (`opt opt T`, `opt null`...)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Some) and self.value == other.value

    def __hash__(self) -> int:
        return hash(("Some", self.value))

    def __repr__(self) -> str:
        return f"Some({self.value!r})"


class FuncRef(NamedTuple):
    """A `func` value: a public method of a service."""

    service: Principal
    method: str


# --- types ---------------------------------------------------------------------------------------


class Type:
    """Base of all Candid types."""

    __slots__ = ("_hash",)

    def _key(self) -> tuple:
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self._key() == other._key()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        try:
            return self._hash
        except AttributeError:
            self._hash = hash((type(self).__name__, self._key()))
            return self._hash

    def __str__(self) -> str:
        return show(self)

    def __repr__(self) -> str:
        return f"<candid {show(self)}>"


class Prim(Type):
    """A primitive type; use the module-level singletons (Nat, Text, ...)."""

    __slots__ = ("name", "opcode")

    def __init__(self, name: str, opcode: int) -> None:
        self.name = name
        self.opcode = opcode

    def _key(self) -> tuple:
        return (self.opcode,)


Null = Prim("null", -1)
Bool = Prim("bool", -2)
Nat = Prim("nat", -3)
Int = Prim("int", -4)
Nat8 = Prim("nat8", -5)
Nat16 = Prim("nat16", -6)
Nat32 = Prim("nat32", -7)
Nat64 = Prim("nat64", -8)
Int8 = Prim("int8", -9)
Int16 = Prim("int16", -10)
Int32 = Prim("int32", -11)
Int64 = Prim("int64", -12)
Float32 = Prim("float32", -13)
Float64 = Prim("float64", -14)
Text = Prim("text", -15)
Reserved = Prim("reserved", -16)
Empty = Prim("empty", -17)
PrincipalT = Prim("principal", -24)

PRIMITIVES: dict[int, Prim] = {
    p.opcode: p
    for p in (Null, Bool, Nat, Int, Nat8, Nat16, Nat32, Nat64, Int8, Int16, Int32, Int64,
              Float32, Float64, Text, Reserved, Empty, PrincipalT)
}
PRIMITIVES_BY_NAME: dict[str, Prim] = {p.name: p for p in PRIMITIVES.values()}

OPT, VEC, RECORD, VARIANT, FUNC, SERVICE = -18, -19, -20, -21, -22, -23


class Opt(Type):
    __slots__ = ("inner",)

    def __init__(self, inner: Type) -> None:
        self.inner = _check_type(inner)

    def _key(self) -> tuple:
        return (self.inner,)


class Vec(Type):
    __slots__ = ("inner",)

    def __init__(self, inner: Type) -> None:
        self.inner = _check_type(inner)

    def _key(self) -> tuple:
        return (self.inner,)


FieldsSpec = Mapping[Any, Type] | Iterable[tuple[Any, Type]]


class Record(Type):
    """`record { name : T; ... }`; names are str (hashed to ids) or int ids."""

    __slots__ = ("by_id", "fields")

    def __init__(self, fields: FieldsSpec = ()) -> None:
        self.fields = _make_fields(fields, "record")
        self.by_id = {f.id: f for f in self.fields}

    def _key(self) -> tuple:
        return self.fields


class Tuple(Record):
    """`record { T0; T1; ... }` whose Python value is a tuple."""

    __slots__ = ()

    def __init__(self, *types: Type) -> None:
        super().__init__(enumerate(types))


class Variant(Type):
    """`variant { tag : T; ... }`; a value is a one-key dict {tag: value}."""

    __slots__ = ("by_id", "fields")

    def __init__(self, fields: FieldsSpec = ()) -> None:
        self.fields = _make_fields(fields, "variant")
        self.by_id = {f.id: f for f in self.fields}

    def _key(self) -> tuple:
        return self.fields


ANNOTATIONS = {"query": 1, "oneway": 2, "composite_query": 3}


class Func(Type):
    __slots__ = ("annotations", "args", "rets")

    def __init__(self, args: Iterable[Type] = (), rets: Iterable[Type] = (),
                 annotations: Iterable[str] = ()) -> None:
        self.args = tuple(_check_type(t) for t in args)
        self.rets = tuple(_check_type(t) for t in rets)
        anns = frozenset(annotations)
        unknown = anns - ANNOTATIONS.keys()
        if unknown:
            raise CandidError(f"unknown function annotation(s): {', '.join(sorted(unknown))}")
        self.annotations = anns

    def _key(self) -> tuple:
        return (self.args, self.rets, self.annotations)


class Service(Type):
    """`service { method : func ...; }`; a value is the Principal of the service."""

    __slots__ = ("methods",)

    def __init__(self, methods: Mapping[str, Type] | Iterable[tuple[str, Type]] = ()) -> None:
        items = list(methods.items()) if isinstance(methods, Mapping) else list(methods)
        for name, t in items:
            if not isinstance(name, str):
                raise CandidError(f"method name must be a str, not {name!r}")
            _check_type(t)
        items.sort(key=lambda item: item[0].encode("utf-8"))
        names = [name for name, _ in items]
        if len(set(names)) != len(names):
            raise CandidError("service has a duplicate method name")
        self.methods: dict[str, Type] = dict(items)

    def _key(self) -> tuple:
        return tuple(self.methods.items())


class Rec(Type):
    """A named knot for recursive types: `r = Rec(); r.fill(Opt(Record({"next": r})))`."""

    __slots__ = ("inner", "name")

    def __init__(self, inner: Type | None = None, name: str | None = None) -> None:
        self.inner = None if inner is None else _check_type(inner)
        self.name = name

    def fill(self, inner: Type) -> Rec:
        if self.inner is not None:
            raise CandidError(f"recursive type {self.name or '(unnamed)'} is already defined")
        self.inner = _check_type(inner)
        return self

    def __eq__(self, other: object) -> bool:
        return self is other

    def __hash__(self) -> int:
        return id(self)


class FutureType(Type):
    """A wire type from a newer Candid version (opcode < -24); only `opt`/`reserved` accept it."""

    __slots__ = ("opcode",)

    def __init__(self, opcode: int) -> None:
        self.opcode = opcode

    def _key(self) -> tuple:
        return (self.opcode,)


# --- helpers -------------------------------------------------------------------------------------


def resolve(t: Type) -> Type:
    """Follow `Rec` knots to the type they stand for."""
    steps = 0
    while type(t) is Rec:
        if t.inner is None:
            raise CandidError(f"recursive type {t.name or '(unnamed)'} was never filled")
        t = t.inner
        steps += 1
        if steps > 64:
            _check_rec_cycle(t)
    return t


def _check_rec_cycle(t: Type) -> None:
    seen: set[int] = set()
    while type(t) is Rec:
        if id(t) in seen:
            raise CandidError(f"recursive type {t.name or '(unnamed)'} is defined as itself")
        seen.add(id(t))
        if t.inner is None:
            return
        t = t.inner


def nullable(t: Type) -> bool:
    """`null <: t`: the types whose absent value is null (null, opt, reserved)."""
    t = resolve(t)
    return type(t) is Opt or (type(t) is Prim and t.opcode in (-1, -16))


def _check_type(t: Any) -> Type:
    if not isinstance(t, Type):
        raise CandidError(f"expected a Candid type, got {t!r}")
    return t


def _make_fields(spec: FieldsSpec, kind: str) -> tuple[Field, ...]:
    items = spec.items() if isinstance(spec, Mapping) else spec
    fields = sorted((Field(name, field_id(name), _check_type(t)) for name, t in items),
                    key=lambda f: f.id)
    for a, b in itertools.pairwise(fields):
        if a.id == b.id:
            raise CandidError(f"{kind} fields {a.name!r} and {b.name!r} have the same id {a.id}")
    return tuple(fields)


Blob = Vec(Nat8)  # `blob`; its values are bytes


# --- printing (Candid syntax) ------------------------------------------------------------------

_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
KEYWORDS = frozenset({
    "type", "import", "service", "func", "opt", "vec", "record", "variant", "blob", "principal",
    "query", "oneway", "composite_query", "null", "bool", "nat", "int", "nat8", "nat16",
    "nat32", "nat64", "int8", "int16", "int32", "int64", "float32", "float64", "text",
    "reserved", "empty", "true", "false",
})


def show_name(name: str | int) -> str:
    if isinstance(name, int):
        return str(name)
    if _ID.match(name) and name not in KEYWORDS:
        return name
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def show(t: Type, depth: int = 0) -> str:
    """Candid syntax for a type; named knots print by name, deep structure is elided."""
    if type(t) is Rec:
        if depth and t.name:
            return t.name
        if t.inner is None:
            return t.name or "(unfilled rec)"
        return show(t.inner, depth) if depth < 8 else "…"
    if depth > 8:
        return "…"
    d = depth + 1
    if isinstance(t, Prim):
        return t.name
    if isinstance(t, Opt):
        return f"opt {show(t.inner, d)}"
    if isinstance(t, Vec):
        return "blob" if resolve_or_none(t.inner) is Nat8 else f"vec {show(t.inner, d)}"
    if isinstance(t, Record) and all(f.id == i for i, f in enumerate(t.fields)) and t.fields:
        return "record { " + "; ".join(show(f.type, d) for f in t.fields) + " }"  # tuple-like
    if isinstance(t, Record):
        return "record { " + "".join(f"{show_name(f.name)} : {show(f.type, d)}; " for f in t.fields) + "}"
    if isinstance(t, Variant):
        parts = (show_name(f.name) if resolve_or_none(f.type) is Null
                 else f"{show_name(f.name)} : {show(f.type, d)}" for f in t.fields)
        return "variant { " + "".join(p + "; " for p in parts) + "}"
    if isinstance(t, Func):
        return "func " + show_signature(t, d)
    if isinstance(t, Service):
        return "service { " + "".join(
            f"{show_name(n)} : {show_method(m, d)}; " for n, m in t.methods.items()) + "}"
    if isinstance(t, FutureType):
        return f"(future type {t.opcode})"
    return repr(t)


def show_signature(f: Func, depth: int = 0) -> str:
    args = ", ".join(show(a, depth) for a in f.args)
    rets = ", ".join(show(r, depth) for r in f.rets)
    anns = "".join(" " + a for a in sorted(f.annotations))
    return f"({args}) -> ({rets}){anns}"


def show_method(m: Type, depth: int = 0) -> str:
    r = resolve_or_none(m)
    if isinstance(r, Func) and not (type(m) is Rec and m.name):
        return show_signature(r, depth)
    return show(m, depth)


def resolve_or_none(t: Type) -> Type | None:
    try:
        return resolve(t)
    except CandidError:
        return None
