"""icchat.ic.agent against the real replica over HTTP: queries, certified updates (v3 sync and
v2 polling), reject reasons, certificate and signature checks, and the PEM identities dfx and
icp-cli write (cross-checked with icp-py-core's reading of the same files)."""

from __future__ import annotations

import base64

import pytest
from icp_identity import Identity as PeerIdentity

from icchat.ic import candid
from icchat.ic.agent import (
    Agent,
    AgentError,
    CanisterReject,
    HttpError,
    TransportError,
    VerificationError,
)
from icchat.ic.certificate import BlsKey
from icchat.ic.identity import Ed25519Identity, Identity, IdentityError, Secp256k1Identity, load_pem
from icchat.ic.principal import Principal

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def identities() -> list[Identity]:
    return [Identity(), load_pem(Ed25519Identity.generate().to_pem()), load_pem(Secp256k1Identity.generate().to_pem())]


@pytest.mark.parametrize("identity", identities(), ids=["anonymous", "ed25519", "secp256k1"])
def test_query_and_update_as_each_identity(http_replica, sysapi, identity):
    agent = http_replica.agent(identity, verify_query_signatures=True)
    assert agent.query(sysapi, "echo_q", b"ping") == b"ping"
    assert agent.update(sysapi, "echo", b"pong" * 1000) == b"pong" * 1000
    assert agent.update(sysapi, "caller_u") == identity.principal.raw
    assert agent.query(sysapi, "caller") == identity.principal.raw


def test_update_state_persists_between_calls(http_replica, sysapi):
    agent = http_replica.agent(Ed25519Identity.generate())
    before = int.from_bytes(agent.query(sysapi, "read"), "little")
    assert int.from_bytes(agent.update(sysapi, "inc"), "little") == before + 1
    assert int.from_bytes(agent.query(sysapi, "read"), "little") == before + 1


def test_v2_call_polls_read_state_for_the_certified_reply(http_replica, sysapi):
    agent = http_replica.agent(Ed25519Identity.generate(), sync_calls=False)
    assert agent.update(sysapi, "echo", b"polled") == b"polled"
    with pytest.raises(CanisterReject) as info:
        agent.update(sysapi, "reject", b"no thanks (polled)")
    assert (info.value.code, info.value.message) == (4, "no thanks (polled)")


def test_reject_carries_the_canisters_reason(http_replica, sysapi):
    agent = http_replica.agent(Ed25519Identity.generate())
    with pytest.raises(CanisterReject) as info:
        agent.update(sysapi, "reject", b"quota exceeded for this caller")
    assert info.value.code == 4
    assert info.value.message == "quota exceeded for this caller"
    with pytest.raises(CanisterReject) as info:
        agent.update(sysapi, "trap", b"bad state")
    assert info.value.code == 5 and info.value.error_code == "IC0503"
    assert "bad state" in info.value.message


def test_query_and_call_to_missing_method_or_canister(http_replica, sysapi):
    agent = http_replica.agent()
    with pytest.raises(CanisterReject) as info:
        agent.query(sysapi, "no_such_method")
    assert "no_such_method" in info.value.message
    missing = Principal.from_canister_index(9999)
    with pytest.raises((CanisterReject, HttpError)) as info:
        agent.update(missing, "anything")
    assert str(missing) in str(info.value)


def test_unauthorized_management_call_is_a_reject(http_replica, sysapi):
    stranger = http_replica.agent(Ed25519Identity.generate())
    arg = candid.encode([candid.Record({"canister_id": candid.PrincipalT})], [{"canister_id": sysapi}])
    with pytest.raises(CanisterReject) as info:
        stranger.update(Principal.management(), "stop_canister", arg, effective_canister_id=sysapi)
    assert info.value.error_code == "IC0512"
    assert str(stranger.identity.principal) in info.value.message


def test_certificate_under_another_root_key_is_refused(http_replica, sysapi):
    impostor_key = BlsKey.generate(b"someone else's root").public_key_der
    agent = Agent(http_replica.url, Ed25519Identity.generate(), root_key=impostor_key)
    with pytest.raises(VerificationError, match="does not verify"):
        agent.update(sysapi, "echo", b"x")
    with pytest.raises(VerificationError):
        Agent(http_replica.url, root_key=impostor_key, verify_query_signatures=True).query(sysapi, "echo_q", b"x")
    with pytest.raises(VerificationError):
        Agent(http_replica.url, root_key=impostor_key, sync_calls=False).update(sysapi, "echo", b"x")


def test_update_needs_a_root_key_and_mainnet_key_is_never_fetched(http_replica, sysapi):
    with pytest.raises(AgentError, match="fetch_root_key"):
        Agent(http_replica.url).update(sysapi, "echo", b"x")
    mainnet = Agent("https://icp-api.io")
    assert mainnet.root_key is not None and mainnet.root_key.startswith(bytes.fromhex("308182301d"))
    with pytest.raises(AgentError, match="refusing to fetch the root key"):
        mainnet.fetch_root_key()


def test_bad_signature_is_refused_by_the_replica(http_replica, sysapi):
    class WrongSigner(Ed25519Identity):
        def sign(self, payload: bytes) -> bytes:
            return super().sign(payload + b"tampered")

    agent = http_replica.agent(WrongSigner(Ed25519Identity.generate()._key))
    with pytest.raises(HttpError) as info:
        agent.update(sysapi, "echo", b"x")
    assert info.value.status == 400 and "sender_sig" in info.value.text


def test_unreachable_replica_is_a_transport_error():
    agent = Agent("http://127.0.0.1:9", root_key=b"")
    with pytest.raises(TransportError, match="cannot reach"):
        agent.query(Principal.from_canister_index(0), "x")


def test_pem_identities_match_the_peer_agent():
    for identity in (Ed25519Identity.generate(), Secp256k1Identity.generate()):
        pem = identity.to_pem()
        ours = load_pem(pem)
        peer = PeerIdentity.from_pem(pem.decode())
        assert ours.principal.to_text() == peer.sender().to_str()
        assert ours.public_key_der == peer.sign(b"m")[0]


def test_dfx_pem_forms():
    # Old dfx: PKCS#8 v2 Ed25519 with the public key attached.
    seed = bytes(range(1, 33))
    reference = Ed25519Identity.from_seed(seed)
    public = reference.public_key_der[-32:]
    der = (bytes.fromhex("3053020101300506032b657004220420") + seed + bytes.fromhex("a123032100") + public)
    pem = b"-----BEGIN PRIVATE KEY-----\n" + base64.encodebytes(der) + b"-----END PRIVATE KEY-----\n"
    assert load_pem(pem).principal == reference.principal
    # dfx secp256k1: an EC PARAMETERS block before the SEC1 key.
    k1 = Secp256k1Identity.generate()
    with_params = b"-----BEGIN EC PARAMETERS-----\nBgUrgQQACg==\n-----END EC PARAMETERS-----\n" + k1.to_pem()
    assert load_pem(with_params).principal == k1.principal
    with pytest.raises(IdentityError, match="BEGIN PRIVATE KEY"):
        load_pem(b"not a key")
    with pytest.raises(IdentityError, match="encrypted"):
        load_pem(b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n")


def test_secp256k1_signatures_are_low_s_and_verify():
    from icchat.ic.auth import verify_signature

    identity = Secp256k1Identity.generate()
    for i in range(64):
        signature = identity.sign(b"message %d" % i)
        assert int.from_bytes(signature[32:], "big") <= SECP256K1_N // 2
        verify_signature(identity.public_key_der, signature, b"message %d" % i)


def test_agent_follows_a_replica_whose_clock_is_ahead(tmp_path):
    from icchat.build.canister import compile_c
    from icchat.paths import BUILD, REPO
    from icchat.replica import Replica
    from icchat.replica.http import HttpServer

    module = compile_c([REPO / "canister" / "probes" / "sysapi.c"], BUILD / "test-canisters" / "sysapi.wasm")
    with Replica(tmp_path) as replica, HttpServer(replica, port=0) as server:
        cid = replica.create_canister()
        replica.install_code(cid, module.read_bytes())
        agent = Agent(server.url, Ed25519Identity.generate())
        agent.fetch_root_key()
        replica.advance_time(600)  # 10 min: beyond the 5-minute ingress window
        assert agent.update(cid, "echo", b"later") == b"later"
        assert agent.query(cid, "echo_q", b"later") == b"later"
        polling = Agent(server.url, agent.identity, root_key=agent.root_key, sync_calls=False)
        assert polling.update(cid, "echo", b"polled later") == b"polled later"


def test_management_create_install_status_over_http(http_replica):
    from icchat.build.canister import compile_c
    from icchat.ic.management import canister_status, create_canister, install_code
    from icchat.paths import BUILD, REPO

    wasm = compile_c([REPO / "canister" / "probes" / "sysapi.c"], BUILD / "test-canisters" / "sysapi.wasm").read_bytes()
    me = Ed25519Identity.generate()
    agent = http_replica.agent(me)
    cid = create_canister(agent, controllers=[me.principal])
    install_code(agent, cid, wasm, arg=b"init")
    assert agent.query(cid, "init_arg") == b"init"
    status = canister_status(agent, cid)
    assert status["settings"]["controllers"] == [me.principal] and "running" in status["status"]
    install_code(agent, cid, wasm, arg=b"again", mode="reinstall")
    assert agent.query(cid, "init_arg") == b"again"
    with pytest.raises(CanisterReject) as info:
        install_code(http_replica.agent(Ed25519Identity.generate()), cid, wasm, mode="upgrade")
    assert info.value.error_code == "IC0512"
