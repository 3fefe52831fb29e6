"""Request ids / representation-independent hashing: the spec's worked example, and the
official agents (@icp-sdk/core's requestIdOf, icp-py-core's to_request_id) on random maps."""

from __future__ import annotations

import hashlib
import random

import pytest
from icp_agent.agent import to_request_id as icp_request_id
from node_peer import node_available, run_node

from icchat.ic.idl.leb128 import sleb, uleb
from icchat.ic.principal import Principal
from icchat.ic.request_id import hash_of_map, request_id


def H(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def test_spec_worked_example():
    # Interface spec, "Request ids": the example with its published result.
    content = {"request_type": "call", "sender": b"\x04", "ingress_expiry": 1685570400000000000,
               "canister_id": bytes.fromhex("00000000000004D2"), "method_name": "hello", "arg": b"DIDL\x00\xfd*"}
    assert request_id(content).hex() == "1d1091364d6bb8a6c16b203ee75467d59ead468f523eb058880ae8ec80e2b101"
    content["sender"] = Principal.anonymous()  # a Principal hashes as its bytes
    assert request_id(content).hex() == "1d1091364d6bb8a6c16b203ee75467d59ead468f523eb058880ae8ec80e2b101"


def test_spec_nested_map_formula():
    # hash_of_map({ "reply": { "arg": "DIDL\x00\x00" } }) as the spec spells it out.
    inner = H(b"".join(sorted([H(b"arg") + H(b"DIDL\x00\x00")])))
    assert hash_of_map({"reply": {"arg": b"DIDL\x00\x00"}}) == H(b"".join(sorted([H(b"reply") + inner])))


def test_spec_leb128_examples():
    assert uleb(0) == b"\x00" and uleb(624485) == bytes([0xE5, 0x8E, 0x26])
    assert sleb(0) == b"\x00" and sleb(-123456) == bytes([0xC0, 0xBB, 0x78])
    assert hash_of_map({"x": -123456}) == H(H(b"x") + H(bytes([0xC0, 0xBB, 0x78])))


def test_arrays_absent_fields_and_errors():
    paths = [[b"request_status", bytes(32)], [b"time"]]
    expected = H(b"".join(H(b"".join(H(label) for label in p)) for p in paths))
    assert hash_of_map({"paths": paths}) == H(H(b"paths") + expected)
    assert hash_of_map({"a": b"1", "nonce": None}) == hash_of_map({"a": b"1"})
    for bad in ({"a": True}, {"a": 1.5}, {1: b""}):
        with pytest.raises(ValueError):
            hash_of_map(bad)


def random_value(rng: random.Random, depth: int = 0):
    kind = rng.choice(["b", "s", "n", "a", "m"] if depth < 3 else ["b", "s", "n"])
    if kind == "b":
        return rng.randbytes(rng.randrange(40))
    if kind == "s":
        return "".join(rng.choice("abc€🐂_") for _ in range(rng.randrange(8)))
    if kind == "n":
        return rng.choice([0, 1, 127, 128, 624485, 1 << 63, (1 << 64) - 1, rng.randrange(1 << 100)])
    if kind == "a":
        return [random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return random_map(rng, depth + 1)


def random_map(rng: random.Random, depth: int = 0) -> dict:
    keys = rng.sample(["request_type", "sender", "arg", "paths", "nonce", "x", "ingress_expiry", "é"], rng.randrange(6))
    return {k: random_value(rng, depth) for k in keys}


def tagged(v):
    if isinstance(v, bytes):
        return {"b": v.hex()}
    if isinstance(v, str):
        return {"s": v}
    if isinstance(v, int):
        return {"n": str(v)}
    if isinstance(v, list):
        return {"a": [tagged(x) for x in v]}
    return {"m": {k: tagged(x) for k, x in v.items()}}


MAPS = [random_map(random.Random(seed)) for seed in range(300)]


@pytest.mark.skipif(not node_available(), reason="needs node and node_modules")
def test_agrees_with_icp_sdk_core():
    theirs = run_node("request_id_peer.mjs", [tagged(m)["m"] for m in MAPS])
    assert theirs == [request_id(m).hex() for m in MAPS]


def test_agrees_with_icp_py_core():
    # icp-py-core's lists hash only flat lists of blobs/text/nats; keep to what it supports.
    flat = [{k: v for k, v in m.items() if not isinstance(v, (dict, list))} for m in MAPS]
    assert [icp_request_id(m) for m in flat] == [request_id(m) for m in flat]
