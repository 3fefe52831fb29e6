"""Candid: the IC's interface description language and its binary format (stdlib only).

    from icchat.ic import candid
    data = candid.encode([candid.Text, candid.Opt(candid.Nat)], ["hi", 5])
    candid.decode(data, [candid.Text, candid.Opt(candid.Nat)])   # ['hi', 5]
    candid.decode(data)                                           # generic: ['hi', 5]

Decoding at expected types follows the spec's subtyping/coercion rules (extra record fields
and arguments ignored, absent `opt` fields -> None, failed `opt` coercions -> None, `nat` read
as `int`, ...). Without types, records come back as {field id: value} and variants as
{tag id: value}. Values: see `icchat.ic.idl.types`; every malformed input or mismatch raises
`CandidError` (a ValueError) with a message that says where and why.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from icchat.ic.idl.coerce import Coercer, is_subtype
from icchat.ic.idl.decode import MAX_DEPTH, default_budget, read_message
from icchat.ic.idl.encode import encode
from icchat.ic.idl.errors import CandidError
from icchat.ic.idl.syntax import Did, Parser
from icchat.ic.idl.textual import values_at
from icchat.ic.idl.types import (
    Blob,
    Bool,
    Empty,
    Field,
    Float32,
    Float64,
    Func,
    FuncRef,
    FutureType,
    Int,
    Int8,
    Int16,
    Int32,
    Int64,
    Nat,
    Nat8,
    Nat16,
    Nat32,
    Nat64,
    Null,
    Opt,
    Prim,
    PrincipalT,
    Rec,
    Record,
    Reserved,
    Service,
    Some,
    Text,
    Tuple,
    Type,
    Variant,
    Vec,
    idl_hash,
    nullable,
    resolve,
)
from icchat.ic.principal import Principal

__all__ = [
    "MAX_DEPTH", "Blob", "Bool", "CandidError", "Did", "Empty", "Field", "Float32", "Float64", "Func",
    "FuncRef", "FutureType", "Int", "Int8", "Int16", "Int32", "Int64", "Nat", "Nat8", "Nat16",
    "Nat32", "Nat64", "Null", "Opt", "Prim", "Principal", "PrincipalT", "Rec", "Record",
    "Reserved", "Service", "Some", "Text", "Tuple", "Type", "Variant", "Vec", "decode",
    "decode_with_types", "default_budget", "encode", "idl_hash", "is_subtype", "nullable",
    "parse_args", "parse_did", "parse_type", "parse_types", "resolve",
]


def decode(data: bytes, types: Sequence[Type] | None = None, *, budget: int | None = None) -> list[Any]:
    """Decode a Candid message, at `types` if given (coercing per the spec), else generically.

    `budget` caps the number of values decoded (default: proportional to the input size).
    """
    message = read_message(data, budget)
    if types is None:
        return message.values
    try:
        return Coercer().args(message.values, message.types, list(types))
    except RecursionError:
        raise CandidError("types nest too deeply to coerce") from None


def decode_with_types(data: bytes, *, budget: int | None = None, blob_views: bool = False) -> tuple[list[Type], list[Any]]:
    """Generic decode that also returns the argument types as sent (`blob_views`: blobs as
    memoryviews into `data`, not copies — for megabyte bodies)."""
    message = read_message(data, budget, blob_views=blob_views)
    return message.types, message.values


# --- text: .did files, types and values ---------------------------------------------------------


def parse_did(text: str) -> Did:
    """Parse a .did file: `Did.types` (named types) and `Did.service` (its methods' Func types)."""
    return Parser(text).program()


def parse_type(text: str, did: Did | None = None) -> Type:
    """Parse one type, e.g. `record { a : nat; b : opt text }`; names resolve in `did`."""
    parser = _parser_with(text, did)
    t = parser.datatype()
    _finish(parser)
    return t


def parse_types(text: str, did: Did | None = None) -> list[Type]:
    """Parse an argument type list, e.g. `(text, opt nat)`."""
    parser = _parser_with(text, did)
    types = parser.tuple_type()
    _finish(parser)
    return types


def parse_args(text: str, types: Sequence[Type]) -> list[Any]:
    """Parse textual argument values, e.g. `(record { a = 1 }, opt "x")`, at `types`."""
    parser = Parser(text)
    values = parser.args()
    if not parser.at_eof():
        raise parser.error("expected the end of the arguments")
    try:
        return values_at(values, list(types))
    except RecursionError:
        raise CandidError("value nests too deeply") from None


def _parser_with(text: str, did: Did | None) -> Parser:
    parser = Parser(text)
    if did is not None:
        parser.names.update(did.types)
        parser.defined.update(dict.fromkeys(did.types))
    return parser


def _finish(parser: Parser) -> None:
    if not parser.at_eof():
        raise parser.error("expected the end of the type")
    parser.finish()
