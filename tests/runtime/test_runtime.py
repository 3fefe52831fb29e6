"""The C canister runtime (canister/runtime) through a probe canister in the replica: SHA-256
against hashlib, the Candid reader and writer against icchat.ic.candid."""

from __future__ import annotations

import hashlib
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from icchat.build.canister import compile_c
from icchat.build.gpt2 import runtime_sources
from icchat.ic import candid
from icchat.ic.principal import Principal
from icchat.paths import BUILD, REPO
from icchat.replica import Reject, Replica

ECHO_DID = candid.parse_did("""
type State = variant { On; Off : nat64 };
type Item = record { x : float32; y : State };
type Top = record { a : nat32; b : opt text; c : vec Item; d : blob; e : principal; f : int64; g : bool };
service : {}
""")
TOP = candid.parse_type("Top", ECHO_DID)


@pytest.fixture(scope="module")
def probe():
    wasm = compile_c([REPO / "tests" / "canisters" / "runtime_probe.c", *runtime_sources()], BUILD / "test-canisters" / "runtime_probe.wasm")
    with Replica() as replica:
        cid = replica.create_canister()
        replica.install_code(cid, wasm.read_bytes())
        yield replica, cid


def rejected(replica, cid, method, arg) -> str:
    with pytest.raises(Reject) as failure:
        replica.query(cid, method, arg)
    return failure.value.message


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300), st.lists(st.integers(0, 300), max_size=6))
def test_sha256_in_pieces_matches_hashlib(probe, data, cuts):
    replica, cid = probe
    offsets = sorted(min(c, len(data)) for c in cuts)
    arg = struct.pack(f"<I{len(offsets)}I", len(offsets), *offsets) + data
    assert replica.query(cid, "sha256", arg) == hashlib.sha256(data).digest()


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


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(VALUES)
def test_candid_values_round_trip_through_reader_and_writer(probe, value):
    replica, cid = probe
    reply = replica.query(cid, "echo", candid.encode([TOP], [value]))
    assert candid.decode(reply, [TOP])[0] == value


def test_reader_follows_candid_subtyping(probe):
    replica, cid = probe
    wider = candid.parse_types("(record { a : nat; c : vec record { x : float64; y : variant { Off : nat; On } }; "
                               "d : blob; e : principal; f : int; g : bool; extra : text })")
    value = {"a": 7, "c": [{"x": 0.5, "y": {"Off": 3}}], "d": b"\x01", "e": Principal(b"\x04"), "f": -5, "g": True,
             "extra": "ignored"}
    echoed = candid.decode(replica.query(cid, "echo", candid.encode(wider, [value])), [TOP])[0]
    assert echoed == {"a": 7, "b": None, "c": [{"x": 0.5, "y": {"Off": 3}}], "d": b"\x01", "e": Principal(b"\x04"),
                      "f": -5, "g": True}
    too_big = candid.encode(candid.parse_types("(record { a : nat })"), [{"a": 2**32}])
    assert rejected(replica, cid, "echo", too_big) == "invalid argument: number too large for nat32 at field `a`"


@pytest.mark.parametrize(("data", "reason"), [
    (b"", "not Candid (no DIDL header)"),
    (b"DIDL\x00\x01\x7e\x01\x02", "trailing bytes after the arguments"),
    (b"DIDL\x00\x01\x79\x01", "value runs past the end of the message"),
    (b"DIDL\x01\x6d\x7b\x01\x00\xff\xff\xff\xff\x0f", "vector runs past the end of the message"),
    (b"DIDL\x00\x01\x71\x02\xc3\x28", "text is not valid UTF-8"),
    (b"DIDL\x01\x6c\x02\x01\x7e\x00\x7e\x01\x00\x00\x00", "field ids must be 32-bit and strictly increasing"),
    (b"DIDL\x00\x01\x05", "bad type reference in the type table"),
])
def test_malformed_messages_are_refused_with_a_reason(probe, data, reason):
    replica, cid = probe
    assert rejected(replica, cid, "echo", data) == f"invalid argument: {reason}"


def test_writer_misuse_traps_with_its_reason(probe):
    replica, cid = probe
    assert "candid writer: expected nat32, got text" in rejected(replica, cid, "misuse", b"")
