"""Sender authentication against real signers: envelopes from @icp-sdk/core identities
(Ed25519, secp256k1, P-256/WebCrypto, delegation chains) and icp-py-core identities, plus
hand-made chains for the failure modes."""

from __future__ import annotations

import itertools
import time

import cbor2
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from icp_agent.agent import sign_request
from icp_identity import Identity
from node_peer import node_available, run_node

from icchat.ic import auth
from icchat.ic.auth import AuthError, SignedDelegation, verify_sender
from icchat.ic.envelope import EnvelopeError, parse_envelope
from icchat.ic.principal import Principal
from icchat.ic.request_id import request_id

CANISTER = Principal.from_canister_index(1)
OTHER = Principal.from_canister_index(2)
HOUR_MS = 3600 * 1000
needs_node = pytest.mark.skipif(not node_available(), reason="needs node and node_modules")


def js_envelopes(expiry_ms: int, targets: list[str] | None) -> list[dict]:
    return run_node("identity_peer.mjs", {"canister": CANISTER.to_text(), "delegationExpiryMs": expiry_ms,
                                          "targets": targets})


@pytest.fixture(scope="module")
def js_valid():
    return js_envelopes(int(time.time() * 1000) + HOUR_MS, [CANISTER.to_text()])


@needs_node
def test_envelopes_from_icp_sdk_core_identities_verify(js_valid):
    kinds = {c["identity"] for c in js_valid}
    assert kinds == {"ed25519", "secp256k1", "p256", "delegation1", "delegation2"}
    for case in js_valid:
        for request_type, hex_body in case["envelopes"].items():
            env = parse_envelope(bytes.fromhex(hex_body), expected_type=request_type)
            assert env.request.sender == Principal.from_text(case["principal"])
            assert env.sender_pubkey == bytes.fromhex(case["der"])
            env.verify(now_ns=time.time_ns(), effective_canister_id=CANISTER)
            if request_type == "call":
                assert env.request.request_id.hex() == case["requestId"]
    schemes = {auth.parse_public_key(bytes.fromhex(c["der"])).scheme for c in js_valid}
    assert schemes == {"Ed25519", "ECDSA secp256k1", "ECDSA P-256"}


@needs_node
def test_tampering_is_detected(js_valid):
    for case in js_valid:
        body = cbor2.loads(bytes.fromhex(case["envelopes"]["call"]))
        sig = bytearray(body["sender_sig"])
        sig[5] ^= 1
        forged = dict(body, sender_sig=bytes(sig))
        with pytest.raises(EnvelopeError, match="sender_sig does not verify"):
            parse_envelope(cbor2.dumps(forged)).verify(now_ns=time.time_ns())
        changed = dict(body, content=dict(body["content"], method_name="steal"))
        with pytest.raises(EnvelopeError, match="sender_sig does not verify"):
            parse_envelope(cbor2.dumps(changed)).verify(now_ns=time.time_ns())
        if body.get("sender_delegation"):
            first = dict(body["sender_delegation"][0])
            first["delegation"] = dict(first["delegation"], expiration=first["delegation"]["expiration"] + 1)
            extended = dict(body, sender_delegation=[first, *body["sender_delegation"][1:]])
            with pytest.raises(EnvelopeError, match="delegation 0 signature does not verify"):
                parse_envelope(cbor2.dumps(extended)).verify(now_ns=time.time_ns())


@needs_node
def test_delegation_expiry_and_targets():
    expired = js_envelopes(int(time.time() * 1000) - HOUR_MS, None)
    elsewhere = js_envelopes(int(time.time() * 1000) + HOUR_MS, [OTHER.to_text()])
    for case in expired:
        if case["identity"].startswith("delegation"):
            with pytest.raises(EnvelopeError, match="delegation 0 expired"):
                parse_envelope(bytes.fromhex(case["envelopes"]["query"])).verify(now_ns=time.time_ns())
    case = next(c for c in elsewhere if c["identity"] == "delegation2")
    with pytest.raises(EnvelopeError, match=f"delegation 0 does not allow canister {CANISTER}"):
        parse_envelope(bytes.fromhex(case["envelopes"]["call"])).verify(now_ns=time.time_ns())
    read_state = parse_envelope(bytes.fromhex(case["envelopes"]["read_state"]))
    read_state.verify(now_ns=time.time_ns(), effective_canister_id=OTHER)
    with pytest.raises(EnvelopeError, match="does not allow canister"):
        read_state.verify(now_ns=time.time_ns(), effective_canister_id=CANISTER)


@pytest.mark.parametrize("key_type", ["ed25519", "secp256k1", "p256"])
def test_envelopes_from_icp_py_core_identities_verify(key_type):
    identity = Identity(type=key_type)
    content = {"request_type": "call", "sender": identity.sender().bytes, "canister_id": CANISTER.raw,
               "method_name": "greet", "arg": b"DIDL\x00\x00", "ingress_expiry": time.time_ns() + 60 * 10**9}
    rid, body = sign_request(content, identity)
    env = parse_envelope(body, expected_type="call")
    assert env.request.request_id == rid
    env.verify(now_ns=time.time_ns())
    assert auth.parse_public_key(identity.der_pubkey).scheme.lower().replace("ecdsa ", "").replace("-", "") == key_type


# --- hand-made chains for the remaining rules -------------------------------------------------------


class Key:
    def __init__(self, seed: int) -> None:
        self.sk = ed25519.Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32)
        self.der = self.sk.public_key().public_bytes(serialization.Encoding.DER,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo)

    def delegate(self, to: Key, expiration: int, targets=None) -> SignedDelegation:
        fields = SignedDelegation.create(to.der, expiration, b"", targets).fields
        return SignedDelegation.create(to.der, expiration, self.sk.sign(auth.delegation_payload(fields)), targets)


def signed(keys: list[Key], now: int, **delegate_kw):
    sender = Principal.self_authenticating(keys[0].der)
    rid = request_id({"request_type": "query", "sender": sender.raw, "x": b"1"})
    chain = [a.delegate(b, now + 10**12, **delegate_kw) for a, b in itertools.pairwise(keys)]
    return sender, rid, keys[0].der, keys[-1].sk.sign(auth.REQUEST_DOMAIN + rid), chain


def check(sender, rid, pubkey, sig, chain, now, canister=CANISTER):
    verify_sender(sender, rid, sender_pubkey=pubkey, sender_sig=sig, delegations=chain or None,
                  now_ns=now, canister_id=canister)


def test_chain_rules():
    now = time.time_ns()
    a, b, c = Key(1), Key(2), Key(3)
    check(*signed([a, b, c], now), now)
    with pytest.raises(AuthError, match="repeats a key"):
        check(*signed([a, b, a], now), now)
    with pytest.raises(AuthError, match="repeats a key"):
        check(*signed([a, a], now), now)
    with pytest.raises(AuthError, match="at most 20"):
        check(*signed([Key(i) for i in range(1, 23)], now), now)
    sender, rid, pubkey, sig, chain = signed([a, b], now)
    with pytest.raises(AuthError, match="is not the principal of sender_pubkey"):
        check(Principal.self_authenticating(c.der), rid, pubkey, sig, chain, now)
    with pytest.raises(AuthError, match="needs sender_pubkey and sender_sig"):
        check(sender, rid, None, sig, chain, now)
    with pytest.raises(AuthError, match="anonymous request must not carry"):
        check(Principal.anonymous(), rid, pubkey, sig, chain, now)
    check(Principal.anonymous(), rid, None, None, [], now)
    check(*signed([a, b], now, targets=[OTHER, CANISTER]), now)


@pytest.mark.parametrize(("der_hex", "message"), [
    ("305e300c060a2b0601040183b8430101034e00" + "a5" * 77, "WebAuthn"),
    ("3019300c060a2b0601040183b8430102030900" + "aa" * 8, "canister signatures"),
    ("302a300506032b6571032100" + "00" * 32, "unsupported public key algorithm 1.3.101.113"),
    ("3036301006072a8648ce3d020106052b8104000a032200" + "02" + "11" * 32, "uncompressed point"),
    ("3059301306072a8648ce3d020106082a8648ce3d030107034200" + "04" + "00" * 64, "not a point on the curve"),
    ("302a300506032b6570032100" + "00" * 31, "malformed public key"),
])
def test_unsupported_and_malformed_keys(der_hex, message):
    with pytest.raises(AuthError, match=message):
        auth.parse_public_key(bytes.fromhex(der_hex))
