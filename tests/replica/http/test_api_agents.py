"""The official agents call canisters on the replica unchanged, verification on."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from icchat.ic.principal import Principal
from icchat.paths import REPO

JS = REPO / "tests" / "js"
PYAGENT = Path(__file__).resolve().parent / "pyagent"


@pytest.fixture(scope="module")
def js(http_replica, sysapi_path):
    process = subprocess.run(
        ["node", str(JS / "agent_calls.mjs"), http_replica.url, str(sysapi_path)],
        capture_output=True, text=True, timeout=300, cwd=REPO,
    )
    assert process.returncode == 0, process.stderr[-4000:]
    return json.loads(process.stdout)


def test_root_key_comes_from_the_status_endpoint(js, http_replica):
    assert bytes.fromhex(js["root_key"]) == http_replica.root_key_der


def test_management_canister_through_an_actor(js, http_replica, sysapi_path):
    import hashlib

    cid = Principal.from_text(js["canister_id"])
    info = http_replica.replica.canister_info(cid)
    assert [str(c) for c in info.controllers] == [js["owner"]] == js["controllers"]
    assert js["module_hash"] == hashlib.sha256(sysapi_path.read_bytes()).hexdigest()


def test_update_and_query_with_verified_certificates_and_signatures(js):
    assert (js["inc_reply"], js["inc_reply_2"]) == (1, 2)
    assert (js["query_status"], js["query_reply"]) == ("replied", 2)


def test_asynchronous_call_and_request_status(js):
    assert js["async_http_status"] == 202
    assert js["polled_reply"] == 3
    assert js["request_status"] == "replied"


def test_subnet_read_state_and_subnet_scoped_creation(js, http_replica):
    replica, subnet = http_replica.replica, js["subnet"]
    assert subnet["id"] == str(Principal.self_authenticating(http_replica.root_key_der))
    assert bytes.fromhex(subnet["public_key"]) == http_replica.root_key_der
    assert subnet["node_keys"] == [str(http_replica.replica.certification.keys.node_id)]
    assert subnet["ranges"] == [[str(lo), str(hi)] for lo, hi in replica.canister_ranges]
    assert subnet["sharded_ranges_hold_canister"] is True
    assert Principal.from_text(subnet["created"]) in replica.canister_ids()


def test_certified_data_verifies_in_the_agent(js):
    assert js["certified_data"] == "07" * 32


@pytest.mark.parametrize("kind", ["ed25519", "secp256k1", "delegation"])
def test_signed_calls_are_seen_as_their_sender(js, kind):
    seen = js[kind]
    assert seen["update"] == seen["expected"] == seen["query"]


def test_delegation_to_another_target_is_refused(js):
    error = js["delegation_wrong_target"]
    assert "400" in error["message"] and "does not allow canister" in error["message"]


def test_rejections_carry_the_ic_codes(js):
    assert "Reject code: 5" in js["trap"]["message"] and "IC0503" in js["trap"]["message"] and "boom" in js["trap"]["message"]
    assert "has no query method 'no_such_method'" in js["missing_query"]["message"]
    assert "Reject code: 4" in js["inspect_refused"]["message"] and "IC0406" in js["inspect_refused"]["message"]


def test_previous_agent_generation(js):
    # @dfinity/agent 3.4 calls /api/v3 (synchronous) and queries /api/v2.
    assert js["legacy_call_http_status"] == 200
    assert js["legacy_query_reply"] == 4


def test_python_agent_with_certificate_verification(http_replica, sysapi_path):
    replica = http_replica.replica
    cid = replica.create_canister()
    replica.install_code(cid, sysapi_path.read_bytes())
    code = f"""
import sys, json
sys.path.insert(0, {str(PYAGENT)!r})
import cbor2, httpx
from icp_agent.agent import Agent
from icp_agent.client import Client
from icp_identity.identity import Identity
from icp_candid.candid import Types, encode
import icp_certificate.certificate
status = cbor2.loads(httpx.get({http_replica.url!r} + "/api/v2/status").content)
# icp-py-core checks certificates against this constant (mainnet's key), not Agent(root_key=):
# trusting a local replica means setting it, as `fetchRootKey` does in the JS agent.
icp_certificate.certificate.IC_ROOT_KEY = status["root_key"]
identity = Identity()
agent = Agent(identity, Client({http_replica.url!r}), root_key=status["root_key"], verify_query_signatures=True)
arg = encode([{{"type": Types.Text, "value": "hello from icp-py-core"}}, {{"type": Types.Nat, "value": 42}}])
update = agent.update_raw({str(cid)!r}, "echo", arg, verify_certificate=True)
query = agent.query_raw({str(cid)!r}, "echo_q", arg, verify_query_signatures=True)
print(json.dumps({{"update": [v["value"] for v in update], "query": [v["value"] for v in query]}}))
"""
    process = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert process.returncode == 0, process.stderr[-4000:]
    result = json.loads(process.stdout)
    assert result["update"] == result["query"] == ["hello from icp-py-core", 42]
