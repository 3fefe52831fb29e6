"""Principals: the spec's examples, canister ids, validation, and @icp-sdk/core as the peer."""

from __future__ import annotations

import random

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from hypothesis import given
from hypothesis import strategies as st
from node_peer import node_available, run_node

from icchat.ic.principal import Principal

# (raw hex, text): the interface spec's tip (0xABCD01), dfinity/candid test/reference.test.did,
# and the well-known ids of the anonymous principal and the NNS ledger (canister index 2).
KNOWN = [
    ("abcd01", "em77e-bvlzu-aq"),
    ("", "aaaaa-aa"),
    ("caffee", "w7x7r-cok77-xa"),
    ("efcdab000000000001", "2chl6-4hpzw-vqaaa-aaaaa-c"),
    ("04", "2vxsx-fae"),
    ("00000000000000020101", "ryjl3-tyaaa-aaaaa-aaaba-cai"),
]


@pytest.mark.parametrize(("raw", "text"), KNOWN)
def test_known_textual_forms(raw, text):
    p = Principal(bytes.fromhex(raw))
    assert p.to_text() == str(p) == text
    assert Principal.from_text(text) == p
    assert Principal.from_text(text.upper()) == p  # the spec parses case-insensitively


def test_special_principals():
    assert Principal.management().to_text() == "aaaaa-aa"
    assert Principal.anonymous().is_anonymous and not Principal.management().is_anonymous
    assert Principal.from_canister_index(2).to_text() == "ryjl3-tyaaa-aaaaa-aaaba-cai"
    assert Principal.from_text("ryjl3-tyaaa-aaaaa-aaaba-cai").canister_index() == 2


@given(st.integers(min_value=0, max_value=(1 << 64) - 1))
def test_canister_index_roundtrip(n):
    p = Principal.from_canister_index(n)
    assert p.canister_index() == n and Principal.from_text(p.to_text()) == p


@given(st.binary(max_size=29))
def test_text_roundtrip(raw):
    assert Principal.from_text(Principal(raw).to_text()).raw == raw


@pytest.mark.parametrize(("text", "message"), [
    ("", "empty"),
    ("ryjl3-tyaaa-aaaaa-aaaca-cai", "checksum"),
    ("aaaaa-ab", "canonical"),
    ("ryjl3-tyaaa-aaaaa-aaaba-caj", "canonical"),
    ("ryjl3tyaaa-aaaaa-aaaba-cai", "canonical"),
    ("ryjl3-tyaaa-aaaaa-aaaba-cai-", "canonical"),
    ("ryjl3-tyaaa-aaaaa-aaaba-ca!", "only base32"),
    ("a", "base32"),
    ("aaaa", "too short"),
    (Principal(bytes(29)).to_text() + "aaaaaaa", "at most 29"),
])
def test_invalid_text_is_a_clear_value_error(text, message):
    with pytest.raises(ValueError, match=message):
        Principal.from_text(text)


def test_invalid_constructions():
    with pytest.raises(ValueError, match="at most 29"):
        Principal(bytes(30))
    with pytest.raises(ValueError, match="not a canister id"):
        Principal.anonymous().canister_index()
    with pytest.raises(ValueError, match="outside"):
        Principal.from_canister_index(-1)


def test_ordered_hashable_frozen():
    ps = [Principal(b"\x02"), Principal(b"\x01\x05"), Principal(b""), Principal(b"\x01")]
    assert [p.raw for p in sorted(ps)] == [b"", b"\x01", b"\x01\x05", b"\x02"]
    assert len({Principal(b"\x01"), Principal(bytearray(b"\x01"))}) == 1
    with pytest.raises(AttributeError):
        ps[0].raw = b"x"  # type: ignore[misc]


def _der_keys(rng: random.Random) -> list[bytes]:
    keys = []
    for _ in range(4):
        keys.append(ed25519.Ed25519PrivateKey.from_private_bytes(rng.randbytes(32)).public_key())
        keys.append(ec.derive_private_key(rng.randrange(1, 1 << 200), ec.SECP256K1()).public_key())
        keys.append(ec.derive_private_key(rng.randrange(1, 1 << 200), ec.SECP256R1()).public_key())
    return [k.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
            for k in keys]


@pytest.mark.skipif(not node_available(), reason="needs node and node_modules")
def test_agrees_with_icp_sdk_core():
    rng = random.Random(0)
    raws = [rng.randbytes(rng.randrange(30)) for _ in range(300)]
    ders = _der_keys(rng)
    texts = [Principal(r).to_text() for r in raws]
    out = run_node("principal_peer.mjs", {"raw": [r.hex() for r in raws], "der": [d.hex() for d in ders],
                                          "text": texts})
    assert out["raw"] == texts
    assert out["der"] == [Principal.self_authenticating(d).to_text() for d in ders]
    assert out["text"] == [r.hex() for r in raws]
    assert all(Principal.self_authenticating(d).is_self_authenticating for d in ders)
