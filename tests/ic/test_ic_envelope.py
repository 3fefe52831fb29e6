"""Envelope parsing: every malformed body is an EnvelopeError with an HTTP status (400, or 413
for oversize) and a message naming the problem; the expiry window follows the IC's limits."""

from __future__ import annotations

import contextlib
import time

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from icchat.ic import envelope as E
from icchat.ic.envelope import EnvelopeError, parse_envelope
from icchat.ic.principal import Principal
from icchat.ic.request_id import request_id

ANON = Principal.anonymous().raw
NOW = time.time_ns()


def call(**overrides) -> dict:
    content = {"request_type": "call", "canister_id": b"\x00" * 8 + b"\x01\x01", "method_name": "m",
               "arg": b"DIDL\x00\x00", "sender": ANON, "ingress_expiry": NOW + 60 * 10**9, "nonce": b"n"}
    content.update(overrides)
    return {k: v for k, v in content.items() if v is not ...}


def body(content, tag: bool = True, **envelope) -> bytes:
    obj = {"content": content, **envelope}
    return cbor2.dumps(cbor2.CBORTag(55799, obj) if tag else obj)


def test_a_valid_anonymous_call():
    env = parse_envelope(body(call()), expected_type="call")
    req = env.request
    assert (req.request_type, req.method_name, req.arg, req.nonce) == ("call", "m", b"DIDL\x00\x00", b"n")
    assert req.canister_id == Principal.from_canister_index(0) and req.sender.is_anonymous
    assert req.request_id == request_id(call())
    env.verify(now_ns=NOW)
    assert parse_envelope(body(call(), tag=False)).request.request_id == req.request_id


def test_read_state_paths():
    content = {"request_type": "read_state", "paths": [[b"time"], [b"request_status", bytes(32), b"reply"]],
               "sender": ANON, "ingress_expiry": 1}
    env = parse_envelope(body(content), expected_type="read_state")
    assert env.request.paths == ((b"time",), (b"request_status", bytes(32), b"reply"))
    env.verify(now_ns=NOW)  # anonymous read_state may carry any expiry


@pytest.mark.parametrize(("data", "message"), [
    (b"\xff\x00", "not valid CBOR"),
    (cbor2.dumps([1, 2]), "must be a CBOR map"),
    (cbor2.dumps({"sender_sig": b""}), "missing the field 'content'"),
    (body(call(), extra=1), "unknown field\\(s\\): extra"),
    (body(call(request_type="update")), "unknown request_type 'update'"),
    (body(call(color="red")), "call content has unknown field\\(s\\): color"),
    (body(call(method_name=b"m")), "method_name must be text"),
    (body(call(arg="x")), "content.arg must be a byte string"),
    (body(call(sender=...)), "missing the field 'sender'"),
    (body(call(sender=bytes(30))), "sender: principal is 30 bytes"),
    (body(call(ingress_expiry=-1)), "ingress_expiry must be a nat"),
    (body(call(ingress_expiry=1.5)), "ingress_expiry must be a nat"),
    (body(call(nonce=bytes(33))), "nonce has 33 bytes, at most 32"),
    (body(call(sender_info={"info": b""})), "sender_info .* not supported"),
    (body(call(), sender_delegation={"a": 1}), "sender_delegation must be an array"),
    (body(call(), sender_delegation=[{"delegation": {"pubkey": b"k"}, "signature": b""}]),
     "sender_delegation\\[0\\].delegation is missing the field 'expiration'"),
    (body({"request_type": "read_state", "paths": [[b"x"]] * 1001, "sender": ANON, "ingress_expiry": 1}),
     "1001 paths requested, at most 1000"),
    (body({"request_type": "read_state", "paths": [["x"]], "sender": ANON, "ingress_expiry": 1}),
     "paths\\[0\\] label must be a byte string"),
])
def test_malformed_envelopes_are_400(data, message):
    with pytest.raises(EnvelopeError, match=message) as info:
        parse_envelope(data)
    assert info.value.status == 400


def test_wrong_endpoint_and_oversize():
    with pytest.raises(EnvelopeError, match="request_type 'call' sent to the query endpoint"):
        parse_envelope(body(call()), expected_type="query")
    with pytest.raises(EnvelopeError, match="exceeds the limit") as info:
        parse_envelope(body(call(arg=bytes(2000))), max_size=1000)
    assert info.value.status == 413


def test_expiry_window():
    E.check_expiry(NOW, NOW)
    E.check_expiry(NOW + E.MAX_INGRESS_TTL_NS + E.PERMITTED_DRIFT_AT_VALIDATOR_NS, NOW)
    with pytest.raises(EnvelopeError, match="request expired"):
        E.check_expiry(NOW - 1, NOW)
    with pytest.raises(EnvelopeError, match="too far in the future"):
        E.check_expiry(NOW + E.MAX_INGRESS_TTL_NS + E.PERMITTED_DRIFT_AT_VALIDATOR_NS + 1, NOW)
    with pytest.raises(EnvelopeError, match="request expired"):
        parse_envelope(body(call(ingress_expiry=NOW - 1))).verify(now_ns=NOW)
    anonymous_query = parse_envelope(body(call(request_type="query", ingress_expiry=NOW - 1)))
    anonymous_query.verify(now_ns=NOW)  # the IC may accept any expiry on anonymous queries


@settings(max_examples=500, deadline=None)
@given(data=st.binary(max_size=300))
def test_random_bodies_only_raise_envelope_error(data):
    try:
        parse_envelope(data)
    except EnvelopeError as exc:
        assert exc.status == 400


@settings(max_examples=300, deadline=None)
@given(content=st.dictionaries(st.sampled_from(["request_type", "sender", "canister_id", "method_name", "arg",
                                                "ingress_expiry", "nonce", "paths"]),
                               st.one_of(st.binary(max_size=40), st.text(max_size=5), st.integers(-5, 2**70),
                                         st.sampled_from(["call", "query", "read_state"]),
                                         st.lists(st.lists(st.binary(max_size=4), max_size=3), max_size=3),
                                         st.none(), st.booleans(), st.floats())))
def test_random_contents_parse_or_raise_envelope_error(content):
    with contextlib.suppress(EnvelopeError):  # and nothing else, from parsing or verifying
        parse_envelope(body(content)).verify(now_ns=NOW)
