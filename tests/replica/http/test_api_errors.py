"""Bad requests get the spec's 4xx answers with a clear reason, and the server keeps serving."""

from __future__ import annotations

import urllib.request

import cbor2
import pytest
from api_client import ANONYMOUS, Ed25519Sender
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from icchat.ic import candid
from icchat.ic.principal import Principal

MANAGEMENT = Principal.management()


def test_status_is_alive(http_replica):
    status = cbor2.loads(urllib.request.urlopen(http_replica.url + "/api/v2/status", timeout=10).read())
    assert status["root_key"] == http_replica.root_key_der
    assert status["replica_health_status"] == "healthy"


def test_bad_cbor_is_400(api):
    code, body = api.post("/api/v3/canister/aaaaa-aa/query", b"\xff\x00not cbor")
    assert code == 400 and b"not valid CBOR" in body


def test_oversized_body_is_413(api):
    code, body = api.post("/api/v4/canister/aaaaa-aa/call", b"\0" * (5 * 1024 * 1024 + 1))
    assert code == 413 and b"exceeds the limit" in body


def test_expired_request_is_400_with_the_agents_marker(api, http_replica):
    cid = http_replica.replica.create_canister()
    code, body = api.send(f"/api/v3/canister/{cid}/call", api.content("call", canister_id=cid, method_name="inc", expiry_s=-10))
    assert code == 400 and body.startswith(b"Invalid request expiry: ")
    code, body = api.send(f"/api/v3/canister/{cid}/call", api.content("call", canister_id=cid, method_name="inc", expiry_s=3600))
    assert code == 400 and body.startswith(b"Invalid request expiry: ") and b"too far in the future" in body


def test_bad_signature_is_400(api, http_replica):
    user = Ed25519Sender()
    cid = http_replica.replica.create_canister()
    content = api.content("call", sender=user, canister_id=cid, method_name="inc")
    forged = {"sender_pubkey": user.der, "sender_sig": user.key.sign(b"\x0aic-request" + b"\0" * 32)}
    code, body = api.post(f"/api/v3/canister/{cid}/call", cbor2.dumps({"content": content, **forged}))
    assert code == 400 and b"authentication failed" in body
    # The same request, signed properly, is accepted (and rejected before execution: no module).
    answer = api.send_cbor(f"/api/v3/canister/{cid}/call", content, user)
    assert answer["status"] == "non_replicated_rejection"


def test_wrong_effective_canister_id_is_400(api, http_replica):
    a, b = http_replica.replica.create_canister(), http_replica.replica.create_canister()
    code, body = api.send(f"/api/v3/canister/{b}/call", api.content("call", canister_id=a, method_name="inc"))
    assert code == 400 and b"does not match the effective canister id" in body


def test_management_calls_are_routed_by_the_canister_they_are_about(api, http_replica):
    # The spec: a call to aaaaa-aa about canister X must name X as its effective canister id.
    replica = http_replica.replica
    a, b = replica.create_canister(), replica.create_canister()
    arg = candid.encode(candid.parse_types("(record { canister_id : principal })"), [{"canister_id": a}])
    code, body = api.send(f"/api/v3/canister/{b}/call", api.content("call", canister_id=MANAGEMENT, method_name="start_canister", arg=arg))
    assert code == 400 and f"is about ({a})".encode() in body
    answer = api.send_cbor(f"/api/v3/canister/{a}/call", api.content("call", canister_id=MANAGEMENT, method_name="start_canister", arg=arg))
    # Routed; the management canister itself then refuses the anonymous non-controller.
    assert answer["status"] in ("replied", "non_replicated_rejection")


def test_subnet_scoped_calls_only_create_canisters(api, http_replica):
    subnet = http_replica.replica.subnet_id
    cid = http_replica.replica.create_canister()
    code, body = api.send(f"/api/v4/subnet/{subnet}/call", api.content("call", canister_id=cid, method_name="inc"))
    assert code == 400 and b"subnet-scoped calls may only go to aaaaa-aa" in body
    code, body = api.send(f"/api/v3/subnet/{subnet}/query", api.content("query", canister_id=MANAGEMENT, method_name="canister_status"))
    assert code == 400 and b"list_canisters" in body


def test_unknown_endpoints_and_other_subnets_are_404(api):
    assert api.post("/api/v9/canister/aaaaa-aa/call", b"")[0] == 404
    assert api.post("/api/v2/canister/aaaaa-aa/nothing", b"")[0] == 404
    assert api.post("/api/v2/subnet/aaaaa-aa/query", b"")[0] == 404  # subnet queries are v3 only
    code, body = api.post("/api/v4/subnet/aaaaa-aa/call", b"")
    assert code == 404 and b"is not this replica's subnet" in body


_paths = st.sampled_from(["/api/v2/canister/aaaaa-aa/call", "/api/v3/canister/aaaaa-aa/query",
                          "/api/v3/canister/rwlgt-iiaaa-aaaaa-aaaaa-cai/read_state", "/api/v4/canister/aaaaa-aa/call"])
_cbor_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.binary(max_size=40) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=20,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=_paths, body=st.one_of(st.binary(max_size=300), _cbor_values.map(cbor2.dumps),
                                   _cbor_values.map(lambda v: cbor2.dumps({"content": v}))))
def test_random_bodies_get_4xx_and_the_server_keeps_serving(api, path, body):
    code, message = api.post(path, body)
    assert 400 <= code < 500, (code, message)
    assert message  # always a reason


_ENDPOINTS = [("v2", "call"), ("v3", "call"), ("v4", "call"), ("v2", "query"), ("v3", "query"),
              ("v2", "read_state"), ("v3", "read_state"), ("subnet", "read_state")]
_labels = st.sampled_from([b"time", b"subnet", b"canister", b"request_status", b"canister_ranges", b"controllers",
                           b"module_hash", b"metadata", b"status", b"reply"]) | st.binary(max_size=33)
_garbage = st.none() | st.integers() | st.binary(max_size=12) | st.text(max_size=6) | st.lists(st.integers(), max_size=2)


def _mostly(valid, garbage=_garbage):
    """`valid` seven times in eight."""
    return st.sampled_from([True] * 7 + [False]).flatmap(lambda ok: valid if ok else garbage)


@pytest.fixture(scope="module")
def fuzz_canister(http_replica, sysapi_path):
    cid = http_replica.replica.create_canister()
    http_replica.replica.install_code(cid, sysapi_path.read_bytes())
    return cid


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_near_valid_envelopes_get_an_ic_answer_or_a_4xx(api, http_replica, fuzz_canister, data):
    # Mostly well-formed envelopes with one or two fields gone wrong reach the deeper checks
    # (principals, expiry, signatures, effective ids, read_state paths) and real execution.
    version, endpoint = data.draw(st.sampled_from(_ENDPOINTS))
    request_type = data.draw(_mostly(st.just(endpoint), st.sampled_from(["call", "query", "read_state", "x"])))
    content = {
        "request_type": request_type,
        "sender": data.draw(_mostly(st.just(ANONYMOUS.raw), st.binary(max_size=30))),
        "ingress_expiry": data.draw(_mostly(st.just(api.clock() + 60 * 10**9), st.integers(min_value=-1, max_value=2**70))),
        "nonce": data.draw(_mostly(st.binary(max_size=32), st.binary(min_size=33, max_size=40))),
    }
    if request_type == "read_state":
        content["paths"] = data.draw(_mostly(st.lists(st.lists(_labels | st.just(fuzz_canister.raw), max_size=4), max_size=4)))
    else:
        content["canister_id"] = data.draw(_mostly(st.sampled_from([fuzz_canister.raw, b""]), st.binary(max_size=12)))
        content["method_name"] = data.draw(_mostly(st.sampled_from(["inc", "read", "empty", "empty_q", "deny_me", "nope"])))
        content["arg"] = data.draw(_mostly(st.binary(max_size=40)))
    content = {k: v for k, v in content.items() if v is not None or data.draw(st.booleans())}
    envelope: dict = {"content": content}
    if data.draw(st.sampled_from([False, False, False, True])):
        envelope["sender_pubkey"] = data.draw(st.binary(max_size=50))
        envelope["sender_sig"] = data.draw(st.binary(max_size=70))
    target = f"subnet/{http_replica.replica.subnet_id}" if version == "subnet" else f"canister/{fuzz_canister}"
    path = f"/api/{'v3' if version == 'subnet' else version}/{target}/{endpoint}"
    code, message = api.post(path, cbor2.dumps(envelope))
    assert code in (200, 202) or 400 <= code < 500, (code, message)
    if code == 200:
        assert cbor2.loads(message)  # an IC answer (a reply, a rejection, a certificate)
    elif code != 202:
        assert message  # a reason


def test_request_ids_are_never_executed_twice(api, http_replica, sysapi_path):
    replica = http_replica.replica
    cid = replica.create_canister()
    replica.install_code(cid, sysapi_path.read_bytes())
    content = api.content("call", canister_id=cid, method_name="inc")
    first = api.send_cbor(f"/api/v3/canister/{cid}/call", content)
    again = api.send_cbor(f"/api/v3/canister/{cid}/call", content)  # resubmitted: same certified status
    assert first["status"] == again["status"] == "replied"
    assert replica.query(cid, "read") == (1).to_bytes(8, "little")
    assert api.send(f"/api/v2/canister/{cid}/call", content)[0] == 202
    # One ingress queue runs calls in order: once a later call is done, a re-run would show.
    later = api.send_cbor(f"/api/v3/canister/{cid}/call", api.content("call", canister_id=cid, method_name="inc"))
    assert later["status"] == "replied"
    assert replica.query(cid, "read") == (2).to_bytes(8, "little")


def test_root_key_persists_across_restarts_and_clean_makes_a_new_one(tmp_path):
    from icchat.replica import Replica
    from icchat.replica.http import HttpServer

    def root_key(**kwargs) -> bytes:
        with Replica(tmp_path, **kwargs) as replica, HttpServer(replica, port=0) as server:
            return cbor2.loads(urllib.request.urlopen(server.url + "/api/v2/status", timeout=10).read())["root_key"]

    first = root_key()
    assert root_key() == first
    assert root_key(clean=True) != first
