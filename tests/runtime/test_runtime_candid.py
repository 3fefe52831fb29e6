"""candid_reader.c and candid_writer.c through the probe canister, with icchat.ic.candid as the
oracle: typed values round trip through the C reader and writer; Candid's subtyping; spec-valid
messages of random types are accepted; malformed, mutated and hostile messages are refused with
"invalid argument: ..." (a canister reject, never a trap); writer misuse traps with its reason."""

from __future__ import annotations

import hashlib
import math
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from runtime_helpers import CANISTER_REJECT, CONTROLLER

from icchat.ic import candid
from icchat.ic.idl.leb128 import uleb as leb
from icchat.ic.principal import Principal
from icchat.replica import Reject

ECHO_DID = candid.parse_did("""
type State = variant { On; Off : nat64 };
type Item = record { x : float32; y : State };
type Top = record { a : nat32; b : opt text; c : vec Item; d : blob; e : principal; f : int64; g : bool };
service : {}
""")
TOP = candid.parse_type("Top", ECHO_DID)
FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def echo_reason(probe, data: bytes) -> str:
    failure = probe.reject("echo", data)
    assert failure.code == CANISTER_REJECT, failure
    return failure.message


def validated(probe, data: bytes) -> tuple[int, int, dict[int, str]]:
    """The probe's view of any message: (type-table entries, arguments, {index: text argument})."""
    reply = probe.query("validate", data)
    n_types, n_args = struct.unpack("<II", reply[:8])
    texts, at = {}, 8
    while at < len(reply):
        index, size = struct.unpack("<II", reply[at:at + 8])
        texts[index] = reply[at + 8:at + 8 + size].decode()
        at += 8 + size
    return n_types, n_args, texts


# ---- round trips and subtyping ----------------------------------------------------------------

FLOAT32 = st.floats(width=32, allow_nan=False)
VALUES = st.fixed_dictionaries({
    "a": st.integers(0, 2**32 - 1),
    "b": st.one_of(st.none(), st.text(max_size=20)),
    "c": st.lists(st.fixed_dictionaries({"x": FLOAT32, "y": st.one_of(st.just({"On": None}),
                                                                      st.integers(0, 2**64 - 1).map(lambda n: {"Off": n}))}),
                  max_size=5),
    "d": st.binary(max_size=50),
    "e": st.binary(min_size=0, max_size=29).map(Principal),
    "f": st.integers(-(2**63), 2**63 - 1),
    "g": st.booleans(),
})


@settings(FUZZ, max_examples=60)
@given(VALUES)
def test_values_round_trip_through_reader_and_writer(probe, value):
    reply = probe.query("echo", candid.encode([TOP], [value]))
    assert candid.decode(reply, [TOP])[0] == value


def test_reader_follows_candid_subtyping(probe):
    wider = candid.parse_types("(record { a : nat; c : vec record { x : float64; y : variant { Off : nat; On } }; "
                               "d : blob; e : principal; f : int; g : bool; extra : text; huge : nat }, text)")
    value = {"a": 7, "c": [{"x": 0.5, "y": {"Off": 3}}], "d": b"\x01", "e": Principal(b"\x04"), "f": -5, "g": True,
             "extra": "ignored", "huge": 2**100}
    echoed = candid.decode(probe.query("echo", candid.encode(wider, [value, "extra argument"])), [TOP])[0]
    # extra fields (even a nat beyond 64 bits) and arguments ignored, absent opt -> none, nat for nat32/nat64
    assert echoed == {"a": 7, "b": None, "c": [{"x": 0.5, "y": {"Off": 3}}], "d": b"\x01", "e": Principal(b"\x04"),
                      "f": -5, "g": True}


def test_plain_value_stands_for_an_opt(probe):
    as_text = candid.parse_types("(record { b : text })")
    echoed = candid.decode(probe.query("echo", candid.encode(as_text, [{"b": "plain"}])), [TOP])[0]
    assert echoed["b"] == "plain"


@pytest.mark.parametrize(("did", "value", "reason"), [
    ("(record { a : nat })", {"a": 2**32}, "number too large for nat32 at field `a`"),
    ("(record { a : nat })", {"a": 2**100}, "number too large for nat32 at field `a`"),
    ("(record { a : nat64 })", {"a": 1}, "expected nat32 at field `a`, got nat64"),
    ("(record { f : int })", {"f": -(2**70)}, "number too large for int64 at field `f`"),
    ("(record { f : nat })", {"f": 2**63}, "number too large for int64 at field `f`"),
    ("(record { b : opt nat })", {"b": 5}, "expected text at field `b`, got nat"),
    ("(record { c : text })", {"c": "no"}, "expected vec at field `c`, got text"),
    ("(record { d : vec nat16 })", {"d": [1]}, "expected blob at field `d`, got vec"),
    ("(text)", "not a record", "expected record, got text"),
    ("()", (), "missing argument"),
])
def test_type_mismatches_are_refused_with_the_field(probe, did, value, reason):
    types = candid.parse_types(did)
    data = candid.encode(types, list(value) if isinstance(value, tuple) else [value])
    assert echo_reason(probe, data) == f"invalid argument: {reason}"


# ---- spec-valid messages are accepted -----------------------------------------------------------

NAMES = st.sampled_from(["a", "b", "c", "d", "x", "y", "name", "tag", "Ok", "Err", "é", "長"])
PRIMITIVES = [candid.Null, candid.Bool, candid.Nat, candid.Int, candid.Nat8, candid.Nat16, candid.Nat32,
              candid.Nat64, candid.Int8, candid.Int16, candid.Int32, candid.Int64, candid.Float32, candid.Float64,
              candid.Text, candid.Reserved, candid.PrincipalT]
TYPES = st.recursive(
    st.sampled_from(PRIMITIVES),
    lambda inner: st.one_of(inner.map(candid.Opt), inner.map(candid.Vec),
                            st.dictionaries(NAMES, inner, max_size=4).map(candid.Record),
                            st.dictionaries(NAMES, inner, min_size=1, max_size=4).map(candid.Variant)),
    max_leaves=10)
SIZED = {candid.Nat8: 8, candid.Nat16: 16, candid.Nat32: 32, candid.Nat64: 64}
SIGNED = {candid.Int8: 8, candid.Int16: 16, candid.Int32: 32, candid.Int64: 64}


def values_of(t: candid.Type) -> st.SearchStrategy:
    """Python values of a Candid type (as icchat.ic.candid encodes them)."""
    if t in (candid.Null, candid.Reserved):
        return st.none()
    if t in SIZED:
        return st.integers(0, 2 ** SIZED[t] - 1)
    if t in SIGNED:
        return st.integers(-(2 ** (SIGNED[t] - 1)), 2 ** (SIGNED[t] - 1) - 1)
    simple = {candid.Bool: st.booleans(), candid.Nat: st.integers(0, 2**80), candid.Int: st.integers(-(2**80), 2**80),
              candid.Float32: st.floats(width=32), candid.Float64: st.floats(), candid.Text: st.text(max_size=8),
              candid.PrincipalT: st.binary(max_size=29).map(Principal)}
    if t in simple:
        return simple[t]
    if isinstance(t, candid.Opt):
        inner = values_of(t.inner)
        if t.inner in (candid.Null, candid.Reserved) or isinstance(t.inner, candid.Opt):
            inner = inner.map(candid.Some)
        return st.one_of(st.none(), inner)
    if isinstance(t, candid.Vec):
        return st.binary(max_size=8) if t.inner == candid.Nat8 else st.lists(values_of(t.inner), max_size=3)
    if isinstance(t, candid.Variant):
        return st.one_of(*[values_of(f.type).map(lambda v, name=f.name: {name: v}) for f in t.fields])
    assert isinstance(t, candid.Record)
    return st.fixed_dictionaries({f.name: values_of(f.type) for f in t.fields})


def table_size(data: bytes) -> int:
    """The type-table length in a message's header (the LEB128 after "DIDL")."""
    value, shift, at = 0, 0, 4
    while True:
        value |= (data[at] & 0x7F) << shift
        if data[at] < 0x80:
            return value
        shift, at = shift + 7, at + 1


@st.composite
def messages(draw) -> tuple[list[candid.Type], list]:
    types = draw(st.lists(TYPES, max_size=4))
    return types, [draw(values_of(t)) for t in types]


@settings(FUZZ, max_examples=150)
@given(messages())
def test_every_valid_message_of_random_types_is_accepted(probe, message):
    types, values = message
    data = candid.encode(types, values)
    n_types, n_args, texts = validated(probe, data)
    assert n_args == len(types)
    assert n_types == table_size(data)
    assert texts == {i: v for i, (t, v) in enumerate(zip(types, values, strict=True)) if t == candid.Text}


def test_more_arguments_than_indexed_are_found_by_walking(probe):
    types = [candid.Text if i % 7 == 3 else [candid.Nat, candid.Null, candid.Opt(candid.Int)][i % 3] for i in range(40)]
    values = [f"arg {i}" if t == candid.Text else None if t != candid.Nat else i for i, t in enumerate(types)]
    _, n_args, texts = validated(probe, candid.encode(types, values))
    assert n_args == 40
    assert texts == {i: f"arg {i}" for i in range(40) if i % 7 == 3}


def test_recursive_and_zero_size_values_are_accepted(probe):
    chain = candid.Rec()
    chain.fill(candid.Opt(candid.Record({"head": candid.Nat32, "tail": chain})))
    value = None
    for i in range(30):  # 30 records deep: 60 levels with their opts
        value = {"head": i, "tail": value}
    empty_records = candid.Vec(candid.Record({"a": candid.Null, "b": candid.Record({})}))
    nulls = candid.Vec(candid.Null)
    data = candid.encode([chain, empty_records, nulls], [value, [{"a": None, "b": {}}] * 1000, [None] * 5000])
    assert validated(probe, data)[1] == 3


def opt_chain(depth: int) -> bytes:
    """type 0 = opt 0; one argument `depth` opts deep (then none)."""
    return b"DIDL\x01\x6e\x00\x01\x00" + b"\x01" * depth + b"\x00"


def test_nesting_limit_is_64_levels(probe):
    assert validated(probe, opt_chain(64))[1] == 1
    assert echo_reason(probe, opt_chain(65)) == "invalid argument: value nested deeper than 64 levels"


# ---- malformed and hostile messages -------------------------------------------------------------

@pytest.mark.parametrize(("data", "reason"), [
    (b"", "not Candid (no DIDL header)"),
    (b"DIDM\x00\x00", "not Candid (no DIDL header)"),
    (b"DIDL", "truncated LEB128 number"),
    (b"DIDL\x00\x01\x7e\x01\x02", "trailing bytes after the arguments"),
    (b"DIDL\x00\x01\x79\x01", "value runs past the end of the message"),
    (b"DIDL\x01\x6d\x7b\x01\x00\xff\xff\xff\xff\x0f", "vector runs past the end of the message"),
    (b"DIDL\x01\x6d\x71\x01\x00\x05\x00", "vector runs past the end of the message"),
    (b"DIDL\x01\x6d\x7d\x01\x00\x02\x05\x80", "truncated LEB128 number"),
    (b"DIDL\x00\x01\x71\x02\xc3\x28", "text is not valid UTF-8"),
    (b"DIDL\x00\x01\x71\x13" + b"0123456789abcdef\xe6\x97\xb7"[:-1] + b"!", "text is not valid UTF-8"),
    (b"DIDL\x00\x01\x71\x03\xed\xa0\x80", "text is not valid UTF-8"),  # a surrogate
    (b"DIDL\x00\x01\x71\x02\xc0\x80", "text is not valid UTF-8"),  # overlong NUL
    (b"DIDL\x00\x01\x7e\x02", "bool must be 0 or 1"),
    (b"DIDL\x01\x6e\x7d\x01\x00\x02", "opt flag must be 0 or 1"),
    (b"DIDL\x01\x6c\x02\x01\x7e\x00\x7e\x01\x00\x00\x00", "field ids must be 32-bit and strictly increasing"),
    (b"DIDL\x01\x6b\x02\x00\x7f\x00\x7f\x01\x00\x00", "field ids must be 32-bit and strictly increasing"),
    (b"DIDL\x01\x6c\x01\x80\x80\x80\x80\x10\x7f\x01\x00", "field ids must be 32-bit and strictly increasing"),
    (b"DIDL\x01\x6b\x01\x00\x7f\x01\x00\x01", "variant tag index out of range"),
    (b"DIDL\x00\x01\x05", "bad type reference in the type table"),
    (b"DIDL\x01\x6e\x05\x01\x00\x00", "bad type reference in the type table"),
    (b"DIDL\x01\x68\x01\x00\x00", "unknown type opcode in the type table"),
    (b"DIDL\x01\x7d\x01\x00\x00", "unknown type opcode in the type table"),
    (b"DIDL\x00\x01\x6f", "a value of type empty cannot exist"),
    (b"DIDL\x00\x01\x68\x00", "opaque principal references are not supported"),
    (b"DIDL\x00\x01\x68\x01\x1e" + bytes(30), "principal longer than 29 bytes"),
    (b"DIDL\x00\x01\x7c\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80", "truncated LEB128 number"),
    (b"DIDL\x00\x01" + b"\x80" * 9 + b"\x01", "SLEB128 number does not fit 64 bits"),
    (b"DIDL\xff\xff\xff\xff\x0f", "type table longer than the message"),
    (b"DIDL\x00\xff\xff\xff\xff\x0f", "more arguments than bytes"),
])
def test_malformed_messages_are_refused_with_a_reason(probe, data, reason):
    assert echo_reason(probe, data) == f"invalid argument: {reason}"
    with pytest.raises(candid.CandidError):  # the Python decoder agrees that they are malformed
        candid.decode(data)


@pytest.mark.parametrize(("data", "reason"), [
    (b"DIDL\x01\x6a\x00\x00\x00\x01\x00\x01\x01\x00\x01f", "values of type func are not supported"),
    (b"DIDL\x01\x69\x00\x01\x00\x01\x00", "values of type service are not supported"),
])
def test_references_are_refused_as_unsupported(probe, data, reason):
    candid.decode(data)  # valid Candid
    assert echo_reason(probe, data) == f"invalid argument: {reason}"


def test_unused_reference_types_in_the_table_are_fine(probe):
    service = candid.Service({"go": candid.Func([candid.Text], [candid.Nat], ["query"])})
    data = candid.encode([candid.Opt(service), candid.Text], [None, "after"])
    assert validated(probe, data)[1:] == (2, {1: "after"})


def zero_size_tree(levels: int) -> bytes:
    """type i = record { 0 : i+1; 1 : i+1 }, the last one record {}: 2^levels values in 0 bytes."""
    table = b"".join(b"\x6c\x02\x00" + bytes([i + 1]) + b"\x01" + bytes([i + 1]) for i in range(levels - 1))
    return b"DIDL" + bytes([levels]) + table + b"\x6c\x00" + b"\x01\x00"


def long_variant_walks(tags: int, values: int) -> bytes:
    """vec variant { 0..tags-1 : null }, every element the last tag: tags * values type walks."""
    fields = b"".join(leb(i) + b"\x7f" for i in range(tags))
    return b"DIDL\x02\x6b" + leb(tags) + fields + b"\x6d\x00\x01\x01" + leb(values) + leb(tags - 1) * values


def test_messages_too_costly_to_walk_are_refused(probe):
    assert validated(probe, zero_size_tree(10))[1] == 1  # 1024 empty records: fine
    too_costly = "invalid argument: message too costly to decode (nested empty values or long type walks)"
    assert echo_reason(probe, zero_size_tree(60)) == too_costly
    assert validated(probe, long_variant_walks(1000, 10))[1] == 1
    assert echo_reason(probe, long_variant_walks(20_000, 20_000)) == too_costly


@st.composite
def mutated(draw) -> bytes:
    data = bytearray(candid.encode([TOP], [draw(VALUES)]))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["set", "insert", "delete", "truncate"]))
        byte = draw(st.sampled_from([0x00, 0x01, 0x7F, 0x80, 0xFF, draw(st.integers(0, 255))]))
        if kind == "set" and at < len(data):
            data[at] = byte
        elif kind == "insert":
            data.insert(at, byte)
        elif kind == "delete" and at < len(data):
            del data[at]
        elif kind == "truncate":
            del data[at:]
    return bytes(data)


def check_refused_or_echoed(probe, data: bytes) -> None:
    try:
        reply = probe.query("echo", data)
    except Reject as failure:
        assert failure.code == CANISTER_REJECT, failure  # never a trap or a WASM error
        assert failure.message.startswith("invalid argument: ")
        return
    candid.decode(reply, [TOP])  # anything the reader accepted is echoed as valid Candid


@settings(FUZZ, max_examples=300)
@given(st.one_of(mutated(), st.binary(max_size=60).map(lambda tail: b"DIDL" + tail)))
def test_mutated_and_random_messages_are_refused_or_echoed(probe, data):
    check_refused_or_echoed(probe, data)


def test_two_mebibyte_blob_is_validated_without_a_walk(probe):
    blob = bytes(range(256)) * 8191  # just under 2 MiB with its header
    reply = probe.query("decode_cost", candid.encode([candid.Blob], [blob]))
    validation = struct.unpack("<3Q", reply[:24])[2]
    assert reply[24:] == hashlib.sha256(blob).digest()
    small = struct.unpack("<3Q", probe.query("decode_cost", candid.encode([candid.Blob], [b"x"]))[:24])[2]
    assert validation < small + 100  # skipping a vec nat8 does not walk it (2 more LEB128 bytes only)


# ---- writer -------------------------------------------------------------------------------------

def test_writer_shares_equal_type_entries(probe):
    reply = probe.query("shared_types")
    assert table_size(reply) == 3  # vec nat32, opt text, the record: each once
    record = candid.parse_types("(record { a : vec nat32; b : vec nat32; c : opt text; d : opt text })")
    assert candid.decode(reply, record) == [{"a": [1, 2, 3], "b": [], "c": "some", "d": None}]


@pytest.mark.parametrize(("case", "reason"), [
    (0, "candid writer: expected nat32, got text"),
    (1, "candid writer: more vector elements than declared"),
    (2, "candid writer: fewer record fields than declared"),
    (3, "candid writer: variant has no tag `b`"),
    (4, "candid writer: unfinished values"),
    (5, "candid writer: unknown type 7"),
])
def test_writer_misuse_traps_with_its_reason(probe, case, reason):
    assert probe.trap_message("misuse", bytes([case])) == reason


def test_float_specials_survive_the_writer(probe):
    value = {"a": 0, "b": None, "c": [{"x": x, "y": {"On": None}} for x in (math.inf, -math.inf, -0.0, 2**-149)],
             "d": b"", "e": Principal(b""), "f": 0, "g": False}
    echoed = candid.decode(probe.query("echo", candid.encode([TOP], [value])), [TOP])[0]
    assert [item["x"] for item in echoed["c"]] == [math.inf, -math.inf, 0.0, 2**-149]  # the smallest subnormal
    assert math.copysign(1, echoed["c"][2]["x"]) == -1


def many_skipped_fields(skipped: int, lookups: int) -> bytes:
    """(record { 0 : null; ...; <skipped - 1> : null; wanted : nat = 42 }, nat32 lookups): every
    lookup of `wanted` walks all the null fields before it (ids sort before its hash)."""
    wanted = candid.idl_hash("wanted")
    assert wanted >= skipped
    fields = b"".join(leb(i) + b"\x7f" for i in range(skipped)) + leb(wanted) + b"\x7d"
    return b"DIDL\x01\x6c" + leb(skipped + 1) + fields + b"\x02\x00\x79" + leb(42) + lookups.to_bytes(4, "little")


def instructions_of(probe, method: str, arg: bytes) -> tuple[int, str, bytes | str]:
    """Instructions of the whole message (the replica's meter), and its reply or reject."""
    with probe.replica.lock:
        canister = probe.replica.canister(probe.canister_id)
        outcome = probe.replica.execution.execute_update(canister, method, arg, CONTROLLER, probe.replica.time_ns())
    return outcome.instructions, *outcome.response


def test_field_lookups_that_rewalk_a_two_megabyte_record_are_bounded_by_the_message_budget(probe):
    """The decoder's work budget covers the whole message, not only validation: a valid 2 MB
    argument whose reader looks a field up again and again behind half a million skipped fields
    is refused once the budget is spent, at a few times the cost of validating it."""
    message = many_skipped_fields(490_000, 1000)
    assert 1_900_000 < len(message) < 2_000_000
    total, kind, answer = instructions_of(probe, "field_lookups", message)
    validation, _, _ = instructions_of(probe, "field_lookups", many_skipped_fields(490_000, 0))
    print(f"\n1000 lookups behind 490,000 skipped fields ({len(message):,} bytes): {total:,} instructions; "
          f"validation alone {validation:,}")
    assert kind == "reject" and "message too costly to decode" in answer
    assert total < 12 * validation
    # a reader that looks each field up once or a few times stays well inside the budget
    kind, reply = instructions_of(probe, "field_lookups", many_skipped_fields(490_000, 3))[1:]
    assert kind == "reply" and struct.unpack("<3Q", reply)[2] == 42
