"""Certificates: our BLS signing and verification, and the proof that matters — @icp-sdk/core's
`Certificate.create` accepts what we sign (with and without a subnet delegation) and rejects
what it should."""

from __future__ import annotations

import time

import cbor2
import pytest
from node_peer import node_available, run_node

from icchat.ic import certificate as cert
from icchat.ic import hashtree as ht
from icchat.ic.certificate import BlsKey, CertificateError
from icchat.ic.principal import Principal

ROOT = BlsKey.generate(b"test root")
CANISTER = Principal.from_canister_index(1)
AGENT_DER_PREFIX = "308182301d060d2b0601040182dc7c0503010201060c2b0601040182dc7c05030201036100"


def fresh_tree(extra: dict | None = None) -> ht.HashTree:
    return cert.state_tree({"canister": {CANISTER.raw: {"certified_data": b"ok"}}, **(extra or {})}, time.time_ns())


def test_root_key_der_and_determinism():
    assert ROOT.public_key_der.hex().startswith(AGENT_DER_PREFIX) and len(ROOT.public_key_der) == 133
    assert cert.bls_key_from_der(ROOT.public_key_der) == ROOT.public_key
    assert BlsKey.generate(b"test root").public_key == ROOT.public_key
    assert BlsKey.generate().public_key != BlsKey.generate().public_key
    with pytest.raises(CertificateError, match="not an IC BLS12-381 public key"):
        cert.bls_key_from_der(bytes.fromhex("302a300506032b6570032100") + bytes(32))


def test_sign_and_verify():
    data = cert.sign_certificate(fresh_tree(), ROOT)
    assert data.startswith(bytes.fromhex("d9d9f7"))  # the self-describe tag, as the IC sends it
    c = cert.verify_certificate(data, ROOT.public_key_der, now_ns=time.time_ns(), max_age_ns=60 * 10**9)
    assert c.lookup(["canister", CANISTER.raw, "certified_data"]).value == b"ok"
    assert abs(c.time_ns() - time.time_ns()) < 60 * 10**9
    other = BlsKey.generate(b"other")
    with pytest.raises(CertificateError, match="signature does not verify"):
        cert.verify_certificate(data, other.public_key_der)
    tampered = cert.Certificate(fresh_tree({"x": b"1"}), c.signature).to_cbor()
    with pytest.raises(CertificateError, match="signature does not verify"):
        cert.verify_certificate(tampered, ROOT.public_key_der)
    old = cert.sign_certificate(cert.state_tree({}, time.time_ns() - 3600 * 10**9), ROOT)
    with pytest.raises(CertificateError, match="older than"):
        cert.verify_certificate(old, ROOT.public_key_der, max_age_ns=300 * 10**9)


def test_bls_verify_rejects_junk():
    message = b"m"
    sig = ROOT.sign(message)
    assert cert.bls_verify(ROOT.public_key, sig, message)
    assert not cert.bls_verify(ROOT.public_key, sig, b"other message")
    assert not cert.bls_verify(ROOT.public_key, b"\xc0" + bytes(47), message)  # the identity point
    assert not cert.bls_verify(ROOT.public_key, b"\x00" * 48, message)
    assert not cert.bls_verify(b"\xc0" + bytes(95), sig, message)


@pytest.mark.parametrize(("data", "message"), [
    (b"\xff", "not valid CBOR"),
    (cbor2.dumps({"tree": [0]}), "`tree` and `signature`"),
    (cbor2.dumps({"tree": [9], "signature": b""}), "unknown hash tree node tag"),
    (cbor2.dumps({"tree": [0], "signature": "x"}), "signature must be a byte string"),
    (cbor2.dumps({"tree": [0], "signature": b"", "extra": 1}), "unknown fields"),
    (cbor2.dumps({"tree": [0], "signature": b"", "delegation": {"subnet_id": 1}}), "delegation must be a map"),
])
def test_malformed_certificates(data, message):
    with pytest.raises(CertificateError, match=message):
        cert.decode_certificate(data)


def test_delegation():
    subnet_key, subnet = BlsKey.generate(b"subnet"), Principal(b"\x01\x02")
    ranges = [(Principal.from_canister_index(0), Principal.from_canister_index(9))]
    delegation = cert.make_delegation(ROOT, subnet, subnet_key, ranges, time.time_ns())
    data = cert.sign_certificate(fresh_tree(), subnet_key, delegation)
    assert cert.verify_certificate(data, ROOT.public_key_der, canister_id=CANISTER).delegation == delegation
    with pytest.raises(CertificateError, match="not authorized for canister"):
        cert.verify_certificate(data, ROOT.public_key_der, canister_id=Principal.from_canister_index(10))
    nested = cert.sign_certificate(fresh_tree(), subnet_key, cert.Delegation(subnet, data))
    with pytest.raises(CertificateError, match="must not itself have a delegation"):
        cert.verify_certificate(nested, ROOT.public_key_der)
    forged = cert.make_delegation(subnet_key, subnet, subnet_key, ranges, time.time_ns())  # not root-signed
    with pytest.raises(CertificateError, match="delegation certificate signature"):
        cert.verify_certificate(cert.sign_certificate(fresh_tree(), subnet_key, forged), ROOT.public_key_der)


@pytest.mark.skipif(not node_available(), reason="needs node and node_modules")
def test_icp_sdk_core_verifies_our_certificates():
    now = time.time_ns()
    subnet_key, subnet = BlsKey.generate(b"subnet"), Principal(b"\x01\x02")
    in_range = cert.make_delegation(ROOT, subnet, subnet_key, [(CANISTER, CANISTER)], now)
    out_of_range = cert.make_delegation(ROOT, subnet, subnet_key, [(Principal.from_canister_index(5),) * 2], now)
    good = cert.sign_certificate(fresh_tree(), ROOT)
    cases = {
        "root": (good, ROOT, True),
        "delegated": (cert.sign_certificate(fresh_tree(), subnet_key, in_range), ROOT, True),
        "stale": (cert.sign_certificate(cert.state_tree({}, now - 3600 * 10**9), ROOT), ROOT, False),
        "wrong root key": (good, subnet_key, False),
        "tampered tree": (cert.Certificate(fresh_tree({"x": b"1"}), cert.decode_certificate(good).signature).to_cbor(), ROOT, False),
        "canister outside delegation": (cert.sign_certificate(fresh_tree(), subnet_key, out_of_range), ROOT, False),
    }
    out = run_node("certificate_peer.mjs", {"certs": [
        {"cert": data.hex(), "rootKey": key.public_key_der.hex(), "canisterId": CANISTER.to_text()}
        for data, key, _ in cases.values()]})["certs"]
    for (name, (data, _, accepted)), result in zip(cases.items(), out, strict=True):
        assert ("ok" in result) == accepted, (name, result)
        if accepted:
            assert bytes.fromhex(result["time"]) == ht.lookup_path(cert.decode_certificate(data).tree, ["time"]).value
