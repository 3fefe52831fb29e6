"""Candid codec behaviour: roundtrips, coercion at named types, error messages, .did parsing,
and hostile input (random and mutated bytes must give CandidError, quickly)."""

from __future__ import annotations

import contextlib
import math
from pathlib import Path

import candid_strategies as cs
import pytest
from candid_json import args_json
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from icchat.ic import candid
from icchat.ic.candid import CandidError
from icchat.ic.idl.leb128 import sleb, uleb
from icchat.ic.principal import Principal

C = candid


# --- roundtrips --------------------------------------------------------------------------------


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(args=cs.typed_args())
def test_roundtrip_at_the_same_types(args):
    types, values = args
    assert candid.decode(candid.encode(types, values), types) == values


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(args=cs.typed_args(nan=True))
def test_roundtrip_with_nan(args):
    types, values = args
    assert args_json(types, candid.decode(candid.encode(types, values), types)) == args_json(types, values)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(args=cs.typed_args())
def test_generic_decode_reencodes_at_the_wire_types(args):
    wire_types, generic = candid.decode_with_types(candid.encode(*args))
    assert candid.decode(candid.encode(wire_types, generic)) == generic
    assert candid.decode(candid.encode(wire_types, generic), wire_types) == generic


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(t=cs.types)
def test_subtyping_is_reflexive_and_types_print_as_parseable_candid(t):
    assert candid.is_subtype(t, t)
    assert str(candid.parse_type(str(t), LIST_DID)) == str(t)


LIST_DID = candid.parse_did("type List = opt record { head : int; tail : List };")


def test_blob_fast_path_and_large_values():
    blob = bytes(range(256)) * 8192  # 2 MiB
    data = candid.encode([C.Blob, C.Nat], [blob, 1 << 1000])
    assert candid.decode(data, [C.Blob, C.Nat]) == [blob, 1 << 1000]
    assert candid.decode(candid.encode([C.Blob], [bytearray(b"ab")])) == [b"ab"]
    assert candid.decode(candid.encode([C.Vec(C.Nat8)], [[1, 2]]), [C.Blob]) == [b"\x01\x02"]


# --- decoding at named types (the spec's coercions, as the Python API shows them) -----------


def test_decoding_at_a_newer_or_older_record_type():
    v1 = C.Record({"name": C.Text, "age": C.Nat, "tags": C.Vec(C.Text)})
    data = candid.encode([v1], [{"name": "ada", "age": 36, "tags": ["x"]}])
    v2 = C.Record({"name": C.Text, "age": C.Int, "email": C.Opt(C.Text)})
    assert candid.decode(data, [v2]) == [{"name": "ada", "age": 36, "email": None}]
    with pytest.raises(CandidError, match="record field phone : text is missing"):
        candid.decode(data, [C.Record({"phone": C.Text})])


def test_variants_tuples_and_opt_forms():
    result = C.Variant({"Ok": C.Tuple(C.Nat, C.Text), "Err": C.Variant({"NotFound": C.Null})})
    data = candid.encode([result, result], [{"Ok": (1, "a")}, {"Err": "NotFound"}])
    assert candid.decode(data, [result, result]) == [{"Ok": (1, "a")}, {"Err": {"NotFound": None}}]
    assert candid.decode(data) == [{candid.idl_hash("Ok"): {0: 1, 1: "a"}},
                                   {candid.idl_hash("Err"): {candid.idl_hash("NotFound"): None}}]
    nested = C.Opt(C.Opt(C.Nat))
    data = candid.encode([nested] * 4, [None, C.Some(None), C.Some(5), 5])
    assert candid.decode(data, [nested] * 4) == [None, C.Some(None), C.Some(5), C.Some(5)]
    assert candid.decode(candid.encode([C.Opt(C.Nat)], [C.Some(3)]), [C.Opt(C.Nat)]) == [3]


def test_a_failed_coercion_under_opt_becomes_none():
    data = candid.encode([C.Variant({"a": C.Nat, "b": C.Nat})], [{"b": 1}])
    assert candid.decode(data, [C.Opt(C.Variant({"a": C.Nat}))]) == [None]
    with pytest.raises(CandidError, match=r"variant tag \d+ is not a case"):
        candid.decode(data, [C.Variant({"a": C.Nat})])


def test_recursive_values():
    tree = C.Rec(name="Tree")
    tree.fill(C.Variant({"leaf": C.Int, "node": C.Vec(tree)}))
    value = {"node": [{"leaf": 1}, {"node": [{"leaf": -2}, {"node": []}]}]}
    assert candid.decode(candid.encode([tree], [value]), [tree]) == [value]


def test_references():
    f = C.Func([C.Text], [C.Nat], ["query"])
    svc = C.Service({"get": f})
    ref = C.FuncRef(Principal.from_canister_index(1), "get")
    data = candid.encode([f, svc], [ref, "rrkah-fqaaa-aaaaa-aaaaq-cai"])
    assert candid.decode(data, [f, svc]) == [ref, Principal.from_canister_index(1)]
    assert candid.decode(data, [C.Reserved, C.PrincipalT]) == [None, Principal.from_canister_index(1)]
    assert candid.decode(data, [C.Opt(C.Func([C.Text], [C.Nat]))]) == [None]  # annotations differ


def test_subtyping_rules():
    sub = candid.is_subtype
    assert sub(C.Nat, C.Int) and not sub(C.Int, C.Nat) and not sub(C.Nat8, C.Nat)
    assert sub(C.Text, C.Opt(C.Nat)) and sub(C.Empty, C.Text) and sub(C.Text, C.Reserved)
    assert sub(C.Record({"a": C.Nat, "b": C.Text}), C.Record({"a": C.Int, "c": C.Opt(C.Text)}))
    assert not sub(C.Record({}), C.Record({"a": C.Nat}))
    assert sub(C.Variant({"a": C.Nat}), C.Variant({"a": C.Int, "b": C.Null}))
    assert not sub(C.Variant({"a": C.Nat, "b": C.Null}), C.Variant({"a": C.Nat}))
    assert sub(C.Func([C.Int], [C.Nat]), C.Func([C.Nat, C.Text], [C.Int, C.Opt(C.Bool)]))
    assert sub(C.Service({"m": C.Func([], []), "n": C.Func([], [])}), C.Service({"m": C.Func([], [])}))
    assert sub(C.Service({}), C.PrincipalT) and not sub(C.PrincipalT, C.Service({}))
    assert sub(cs.LIST, C.Opt(C.Record({"head": C.Int})))


# --- encoding errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(("types", "values", "message"), [
    ([C.Nat], [-1], "argument 0: nat cannot be negative: -1"),
    ([C.Nat], ["1"], "expected an int for nat, got str '1'"),
    ([C.Nat], [True], "expected an int for nat, got bool"),
    ([C.Nat8], [256], "256 is out of range for nat8"),
    ([C.Int64], [1 << 63], "out of range for int64"),
    ([C.Float32], [1e300], "out of range for float32"),
    ([C.Text], ["\ud800"], "text is not valid Unicode"),
    ([C.Bool], [1], "expected a bool, got int 1"),
    ([C.Null], [0], "expected None for null"),
    ([C.Empty], [None], "type empty has no values"),
    ([C.Record({"a": C.Record({"b": C.Nat})})], [{"a": {"b": "x"}}], "argument 0: field 'a': field 'b': expected an int"),
    ([C.Record({"a": C.Nat})], [{"a": 1, "z": 2}], r"unknown record field\(s\) \['z'\]"),
    ([C.Record({"a": C.Nat})], [{}], "missing record field 'a' of type nat"),
    ([C.Vec(C.Nat)], [[1, -2]], "element 1: nat cannot be negative"),
    ([C.Vec(C.Nat)], [b"ab"], r"bytes are only a value of blob \(vec nat8\)"),
    ([C.Vec(C.Text)], ["ab"], "expected a vec text value, got str"),
    ([C.Tuple(C.Nat, C.Text)], [(1,)], "expected 2 tuple elements, got 1"),
    ([C.Variant({"a": C.Null})], [{"b": None}], "unknown variant tag 'b'"),
    ([C.Variant({"a": C.Null})], [{"a": None, "b": None}], "one-key dict"),
    ([C.PrincipalT], ["not-a-principal"], "invalid principal"),
    ([C.Func([], [])], ["x"], r"expected FuncRef\(service, method\)"),
    ([C.Nat, C.Nat], [1], "2 types but 1 values"),
])
def test_encoding_errors_say_where_and_why(types, values, message):
    with pytest.raises(CandidError, match=message):
        candid.encode(types, values)


def test_malformed_types_are_rejected():
    with pytest.raises(CandidError, match="same id 97"):
        C.Record({"a": C.Nat, 97: C.Text})
    with pytest.raises(CandidError, match="never filled"):
        candid.encode([C.Rec(name="T")], [None])
    loop = C.Rec(name="Loop")
    loop.fill(loop)
    with pytest.raises(CandidError, match="defined as itself"):
        candid.encode([loop], [None])
    with pytest.raises(CandidError, match="not a func type"):
        candid.encode([C.Service({"m": C.Nat})], [Principal.anonymous()])
    with pytest.raises(CandidError, match="unknown function annotation"):
        C.Func([], [], ["fast"])


def test_self_referencing_values_are_an_error_not_a_crash():
    t = C.Rec(name="L")
    t.fill(C.Vec(t))
    v: list = []
    v.append(v)
    with pytest.raises(CandidError, match="nests too deeply"):
        candid.encode([t], [v])


# --- .did files and textual values ---------------------------------------------------------------

MANAGEMENT_EXCERPT = """
// An excerpt in the style of the IC management canister's interface.
type canister_id = principal;
type wasm_module = blob;
type canister_settings = record {
  controllers : opt vec principal;
  compute_allocation : opt nat;
  memory_allocation : opt nat;
};
type install_code_args = record {
  mode : variant { install; reinstall; upgrade : opt record { skip_pre_upgrade : opt bool } };
  canister_id : canister_id;
  wasm_module : wasm_module;
  arg : blob;
};
type status = variant { running; stopping; stopped };
/* block comments /* nest */ too */
service ic : {
  create_canister : (record { settings : opt canister_settings }) -> (record { canister_id : canister_id });
  install_code : (install_code_args) -> ();
  "canister_status" : (record { canister_id : canister_id }) -> (record { status : status; cycles : nat }) query;
}
"""


def test_parse_did_and_use_its_types():
    did = candid.parse_did(MANAGEMENT_EXCERPT)
    assert list(did.types) == ["canister_id", "wasm_module", "canister_settings", "install_code_args", "status"]
    install = did.service.methods["install_code"]
    assert isinstance(install, C.Func) and install.rets == ()
    arg = {"mode": {"upgrade": {"skip_pre_upgrade": True}}, "canister_id": Principal.from_canister_index(3),
           "wasm_module": b"\0asm", "arg": b"DIDL\0\0"}
    assert candid.decode(candid.encode(install.args, [arg]), install.args) == [arg]
    status = did.service.methods["canister_status"]
    assert status.annotations == {"query"}
    assert candid.parse_types("(record { canister_id : canister_id })", did) == list(status.args)


def test_parse_args():
    did = candid.parse_did(MANAGEMENT_EXCERPT)
    (t,) = did.service.methods["install_code"].args
    args = candid.parse_args(
        '(record { mode = variant { install }; canister_id = principal "rrkah-fqaaa-aaaaa-aaaaq-cai";'
        ' wasm_module = blob "\\00asm"; arg = vec { 68; 73 } })', [t])
    assert args == [{"mode": {"install": None}, "canister_id": Principal.from_canister_index(1),
                     "wasm_module": b"\0asm", "arg": b"DI"}]
    assert candid.parse_args("(1_000, -2.5e3, 0xff, \"\\u{1F402}\")", [C.Nat, C.Float64, C.Nat8, C.Text]) == \
        [1000, -2500.0, 255, "🐂"]
    assert candid.parse_args("((5 : nat), opt 5)", [C.Int, C.Opt(C.Opt(C.Nat))]) == [5, C.Some(5)]


@pytest.mark.parametrize(("src", "message"), [
    ("type a = b;", "undefined type name"),
    ("type a = nat; type a = int;", "defined twice"),
    ("type a = b; type b = a;", "defined as itself"),
    ('import "x.did";', "imports are not supported"),
    ("type a = record { x : nat; x : int };", "same id"),
    ("type a = record { x : nat\n  y : int };", r"line 2, column 3: expected '}'"),
    ("service : { m : nat }", "func type"),
    ('type a = "unclosed;', "unclosed text literal"),
    ("type a = nat; /* open", "unclosed block comment"),
])
def test_did_errors_are_precise(src, message):
    with pytest.raises(CandidError, match=message):
        candid.parse_did(src)


# --- hostile input --------------------------------------------------------------------------------


@pytest.mark.timeout(120)
@settings(max_examples=1000, deadline=None)
@given(data=st.binary(max_size=200), with_magic=st.booleans())
def test_random_bytes_only_raise_candid_error(data, with_magic):
    data = b"DIDL" + data if with_magic else data
    with contextlib.suppress(CandidError):
        candid.decode(data)


@pytest.mark.timeout(120)
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(args=cs.typed_args(), other=cs.typed_args(), edits=st.lists(
    st.tuples(st.sampled_from(["flip", "cut", "insert", "leb"]), st.integers(0, 10_000), st.binary(min_size=1, max_size=5)),
    min_size=1, max_size=4))
def test_mutated_messages_decode_or_raise_candid_error(args, other, edits):
    data = bytearray(candid.encode(*args))
    for kind, pos, blob in edits:
        pos %= len(data) + 1
        if kind == "flip" and pos < len(data):
            data[pos] ^= blob[0] or 1
        elif kind == "cut":
            del data[pos:pos + len(blob)]
        elif kind == "insert":
            data[pos:pos] = blob
        else:  # a huge LEB128 count
            data[pos:pos] = b"\xff\xff\xff\xff\x0f"
    for types in (None, args[0], other[0]):
        with contextlib.suppress(CandidError):
            candid.decode(bytes(data), types)


@pytest.mark.timeout(120)
def test_adversarial_inputs_are_rejected_within_bounds():
    chain = b"".join(b"\x6e" + sleb(i + 1) for i in range(99_999)) + b"\x6e\x7d"  # opt opt ... nat
    deep_table = b"DIDL" + uleb(100_000) + chain + b"\x01\x00" + b"\x01" * 100_000 + b"\x00"
    with pytest.raises(CandidError, match="nests deeper"):
        candid.decode(deep_table)
    null_bomb = b"DIDL\x01\x6d\x7f\x01\x00" + b"\xff" * 8 + b"\x7f"  # vec null with 2^63 elements
    with pytest.raises(CandidError, match="budget"):
        candid.decode(null_bomb)
    long_leb = b"DIDL\x00\x01\x7d" + b"\x80" * 1_000_000 + b"\x01"  # a 7-million-bit nat is fine...
    assert candid.decode(long_leb)[0] == 1 << 7_000_000
    assert candid.decode(b"DIDL\x00\x01\x7d\x05", budget=1) == [5]
    with pytest.raises(CandidError, match="budget"):
        candid.decode(candid.encode([C.Vec(C.Null)], [[None] * 10]), budget=5)


def test_float_special_values():
    data = candid.encode([C.Float64, C.Float32, C.Float64], [math.nan, -math.inf, -0.0])
    nan, inf, zero = candid.decode(data, [C.Float64, C.Float32, C.Float64])
    assert math.isnan(nan) and inf == -math.inf and math.copysign(1, zero) == -1


DID_DIR = Path(__file__).parent / "data" / "did"


@pytest.mark.parametrize(("name", "n_methods"), [("ic.did", 33), ("http-gateway.did", 2)])
def test_parse_the_real_interfaces(name, n_methods):
    did = candid.parse_did((DID_DIR / name).read_text(encoding="utf-8"))
    assert len(did.service.methods) == n_methods
    assert all(isinstance(candid.resolve(m), C.Func) for m in did.service.methods.values())


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_management_canister_arguments_roundtrip(data):
    did = candid.parse_did((DID_DIR / "ic.did").read_text(encoding="utf-8"))
    name = data.draw(st.sampled_from(sorted(did.service.methods)))
    method = candid.resolve(did.service.methods[name])
    for types in (method.args, method.rets):
        values = [data.draw(cs.values(t)) for t in types]
        assert candid.decode(candid.encode(types, values), types) == values
