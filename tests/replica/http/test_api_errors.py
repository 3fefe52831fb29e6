"""Bad requests get the spec's 4xx answers with a clear reason, and the server keeps serving."""

from __future__ import annotations

import time
import urllib.error
import urllib.request

import cbor2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from icchat.ic.principal import Principal
from icchat.ic.request_id import request_id

ANONYMOUS = Principal.anonymous()


def post(url: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method="POST", headers={"content-type": "application/cbor", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def envelope(content: dict, **extra) -> bytes:
    return cbor2.dumps({"content": content, **extra})


def call_content(canister: Principal, method: str = "inc", expiry: int | None = None, sender: Principal = ANONYMOUS) -> dict:
    return {
        "request_type": "call", "canister_id": canister.raw, "method_name": method, "arg": b"",
        "sender": sender.raw, "ingress_expiry": expiry if expiry is not None else time.time_ns() + 60 * 10**9,
        "nonce": time.time_ns().to_bytes(8, "big"),
    }


def test_status_is_alive(http_replica):
    status = cbor2.loads(urllib.request.urlopen(http_replica.url + "/api/v2/status", timeout=10).read())
    assert status["root_key"] == http_replica.root_key_der
    assert status["replica_health_status"] == "healthy"


def test_bad_cbor_is_400(http_replica):
    code, body = post(http_replica.url + "/api/v3/canister/aaaaa-aa/query", b"\xff\x00not cbor")
    assert code == 400 and b"not valid CBOR" in body


def test_oversized_body_is_413(http_replica):
    code, body = post(http_replica.url + "/api/v4/canister/aaaaa-aa/call", b"\0" * (5 * 1024 * 1024 + 1))
    assert code == 413 and b"exceeds the limit" in body


def test_expired_request_is_400_with_the_agents_marker(http_replica, sysapi_path):
    cid = http_replica.replica.create_canister()
    content = call_content(cid, expiry=time.time_ns() - 10 * 10**9)
    code, body = post(f"{http_replica.url}/api/v3/canister/{cid}/call", envelope(content))
    assert code == 400 and body.startswith(b"Invalid request expiry: ")


def test_bad_signature_is_400(http_replica):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    sender = Principal.self_authenticating(der)
    cid = http_replica.replica.create_canister()
    content = call_content(cid, sender=sender)
    wrong = key.sign(b"\x0aic-request" + b"\0" * 32)
    code, body = post(f"{http_replica.url}/api/v3/canister/{cid}/call", envelope(content, sender_pubkey=der, sender_sig=wrong))
    assert code == 400 and b"authentication failed" in body
    right = key.sign(b"\x0aic-request" + request_id(content))
    code, body = post(f"{http_replica.url}/api/v3/canister/{cid}/call", envelope(content, sender_pubkey=der, sender_sig=right))
    assert code == 200, body  # the same request, signed properly, is accepted (and rejected: no module)
    assert cbor2.loads(body)["status"] == "non_replicated_rejection"


def test_wrong_effective_canister_id_is_400(http_replica):
    a, b = http_replica.replica.create_canister(), http_replica.replica.create_canister()
    code, body = post(f"{http_replica.url}/api/v3/canister/{b}/call", envelope(call_content(a)))
    assert code == 400 and b"does not match the effective canister id" in body


def test_request_status_is_only_for_its_sender(http_replica, sysapi_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    replica = http_replica.replica
    cid = replica.create_canister()
    replica.install_code(cid, sysapi_path.read_bytes())
    content = call_content(cid)
    assert post(f"{http_replica.url}/api/v2/canister/{cid}/call", envelope(content))[0] == 202
    paths = [[b"request_status", request_id(content)]]
    read = {"request_type": "read_state", "sender": ANONYMOUS.raw, "ingress_expiry": time.time_ns() + 60 * 10**9, "paths": paths}
    code, body = post(f"{http_replica.url}/api/v3/canister/{cid}/read_state", envelope(read))
    assert code == 200 and "certificate" in cbor2.loads(body)
    key = Ed25519PrivateKey.generate()
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    other = {**read, "sender": Principal.self_authenticating(der).raw}
    signature = key.sign(b"\x0aic-request" + request_id(other))
    code, body = post(f"{http_replica.url}/api/v3/canister/{cid}/read_state", envelope(other, sender_pubkey=der, sender_sig=signature))
    assert code == 403 and b"only its sender may read its status" in body


def test_unknown_endpoints_are_404(http_replica):
    assert post(http_replica.url + "/api/v9/canister/aaaaa-aa/call", b"")[0] == 404
    assert post(http_replica.url + "/api/v4/subnet/aaaaa-aa/call", b"")[0] == 404  # agents fall back to v2


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
def test_random_bodies_get_4xx_and_the_server_keeps_serving(http_replica, path, body):
    code, message = post(http_replica.url + path, body)
    assert 400 <= code < 500, (code, message)
    assert message  # always a reason


def test_root_key_persists_across_restarts_and_clean_makes_a_new_one(tmp_path):
    from icchat.replica import Replica
    from icchat.replica.http import HttpServer

    def root_key(**kwargs) -> bytes:
        with Replica(tmp_path, **kwargs) as replica, HttpServer(replica, port=0) as server:
            return cbor2.loads(urllib.request.urlopen(server.url + "/api/v2/status", timeout=10).read())["root_key"]

    first = root_key()
    assert root_key() == first
    assert root_key(clean=True) != first
