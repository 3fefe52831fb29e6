"""Our Candid codec against the official ones: @dfinity/candid, @icp-sdk/core (Node) and
icp-py-core's icp_candid. Each side encodes, the other decodes, values must agree."""

from __future__ import annotations

import math
from pathlib import Path

import candid_strategies as cs
import icp_candid_peer as icp_peer
from candid_json import args_json, normalize, type_json
from hypothesis import HealthCheck, given, settings

from icchat.ic import candid
from icchat.ic.principal import Principal

C = candid
FIXED: list[tuple[list[candid.Type], list]] = [
    ([], []),
    ([C.Nat, C.Int, C.Nat64, C.Int64], [1 << 200, -(1 << 200), (1 << 64) - 1, -(1 << 63)]),
    ([C.Nat8, C.Nat16, C.Nat32, C.Int8, C.Int16, C.Int32], [255, 65535, (1 << 32) - 1, -128, -32768, -(1 << 31)]),
    ([C.Float32, C.Float64, C.Float64, C.Float64], [3.5, math.nan, math.inf, -math.inf]),
    ([C.Text, C.Text, C.Bool, C.Null, C.Reserved], ["", "héllo ☃ 🐂", False, None, None]),
    ([C.PrincipalT] * 3, [Principal.management(), Principal.anonymous(), Principal(bytes(range(29)))]),
    ([C.Blob, C.Blob], [b"", bytes(range(256)) * 8]),
    ([C.Opt(C.Opt(C.Nat)), C.Opt(C.Opt(C.Nat)), C.Opt(C.Opt(C.Nat)), C.Opt(C.Null)],
     [None, C.Some(None), C.Some(7), C.Some(None)]),
    ([C.Record({"name": C.Text, "tags": C.Vec(C.Text), "extra": C.Opt(C.Record({}))}), C.Tuple(C.Nat, C.Text)],
     [{"name": "x", "tags": ["a", "b"], "extra": {}}, (3, "y")]),
    ([C.Variant({"Ok": C.Blob, "Err": C.Variant({"NotFound": C.Null, "Other": C.Text})})],
     [{"Err": {"Other": "boom"}}]),
    ([cs.LIST], [{"head": 1, "tail": {"head": -2, "tail": {"head": 3, "tail": None}}}]),
    ([C.Func([C.Text], [C.Nat], ["query"]), C.Service({"go": C.Func([C.Text], [C.Nat])})],
     [C.FuncRef(Principal.from_canister_index(5), "get"), Principal.from_canister_index(7)]),
]


def check_both_ways(peer, types, values):
    expected = args_json(types, values)
    ours = candid.encode(types, values)
    theirs = peer.ask({"types": [type_json(t) for t in types], "hex": ours.hex()})
    assert "values" in theirs, theirs
    got = [normalize(t, j) for t, j in zip(types, theirs["values"], strict=True)]
    assert got == expected, f"JS decoded our {ours.hex()} differently"
    encoded = peer.ask({"types": [type_json(t) for t in types], "values": expected})
    assert "hex" in encoded, encoded
    back = candid.decode(bytes.fromhex(encoded["hex"]), types)
    assert args_json(types, back) == expected, f"we decoded JS's {encoded['hex']} differently"


def test_fixed_values_both_ways(js_candid):
    for types, values in FIXED:
        check_both_ways(js_candid, types, values)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(args=cs.typed_args(nan=True))
def test_random_values_both_ways(js_candid, args):
    check_both_ways(js_candid, *args)


# --- icp-py-core (icp_candid) --------------------------------------------------------------------

ICP_SUBSET = [t for t in cs.PRIMS if t.name != "reserved"]
icp_types = cs.st.recursive(cs.st.one_of(cs.st.sampled_from(ICP_SUBSET), cs.st.just(C.Blob)),
                            cs._composite, max_leaves=8)


@cs.st.composite
def icp_args(draw):
    ts = draw(cs.st.lists(icp_types, max_size=3))
    return ts, [draw(cs.values(t)) for t in ts]


@settings(max_examples=150, deadline=None)
@given(args=icp_args())
def test_icp_candid_both_ways(args):
    types, values = args
    expected = args_json(types, values)
    assert icp_peer.decode_json(candid.encode(types, values), types) == expected
    assert args_json(types, candid.decode(icp_peer.encode(types, values), types)) == expected


IC_DID = candid.parse_did((Path(__file__).parent / "data" / "did" / "ic.did").read_text(encoding="utf-8"))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=cs.st.data())
def test_management_canister_types_both_ways(js_candid, data):
    name = data.draw(cs.st.sampled_from(sorted(IC_DID.service.methods)))
    method = candid.resolve(IC_DID.service.methods[name])
    for types in (list(method.args), list(method.rets)):
        check_both_ways(js_candid, types, [data.draw(cs.values(t)) for t in types])
