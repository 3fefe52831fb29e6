"""read_state: who may read what (the IC endpoint's answers), and request statuses kept and
pruned as the IC keeps them, checked in certificates verified against the root key."""

from __future__ import annotations

import time

import cbor2
import pytest
from api_client import ANONYMOUS, ApiClient, Ed25519Sender

from icchat.ic.certificate import verify_certificate
from icchat.ic.hashtree import LookupStatus
from icchat.ic.request_id import request_id
from icchat.replica import Replica
from icchat.replica.http import HttpServer
from icchat.replica.http.request_status import FORGET_DONE_AFTER_NS


def read_status(api: ApiClient, root_key: bytes, cid, rid: bytes, sender: Ed25519Sender | None = None) -> dict:
    """The certified `request_status/<rid>` fields (absent ones left out)."""
    content = api.content("read_state", sender=sender or ANONYMOUS, paths=[[b"request_status", rid]])
    answer = api.send_cbor(f"/api/v3/canister/{cid}/read_state", content, sender)
    cert = verify_certificate(answer["certificate"], root_key)
    fields = {}
    for name in ("status", "reply", "reject_code", "reject_message", "error_code"):
        found = cert.lookup([b"request_status", rid, name.encode()])
        assert found.status in (LookupStatus.FOUND, LookupStatus.ABSENT), (name, found)
        if found.found:
            fields[name] = found.value
    return fields


@pytest.fixture(scope="module")
def counter(http_replica, sysapi_path):
    cid = http_replica.replica.create_canister()
    http_replica.replica.install_code(cid, sysapi_path.read_bytes())
    return cid


def test_a_request_status_is_for_its_sender_where_it_was_sent(api, http_replica, counter):
    content = api.content("call", canister_id=counter, method_name="inc")
    assert api.send(f"/api/v2/canister/{counter}/call", content)[0] == 202
    rid = request_id(content)
    paths = [[b"request_status", rid]]
    assert api.send_cbor(f"/api/v3/canister/{counter}/read_state", api.content("read_state", paths=paths))["certificate"]
    stranger = Ed25519Sender()
    code, body = api.send(f"/api/v3/canister/{counter}/read_state", api.content("read_state", sender=stranger, paths=paths), stranger)
    assert code == 403 and b"Request IDs must be for requests signed by the caller" in body
    elsewhere = http_replica.replica.create_canister()
    code, body = api.send(f"/api/v3/canister/{elsewhere}/read_state", api.content("read_state", paths=paths))
    assert code == 403 and f"was sent to {counter}".encode() in body
    code, body = api.send(f"/api/v3/canister/{counter}/read_state", api.content("read_state", paths=[[b"request_status", rid[:31]]]))
    assert code == 400 and b"32 bytes" in body
    two = [[b"request_status", rid], [b"request_status", bytes(32)]]
    code, body = api.send(f"/api/v3/canister/{counter}/read_state", api.content("read_state", paths=two))
    assert code == 400 and b"single request ID" in body


@pytest.mark.parametrize(("where", "path", "code", "reason"), [
    ("canister", [b"canister", "OTHER", b"module_hash"], 400, b"only its paths can be read here"),
    ("canister", [b"canister", "SELF", b"certified_data"], 404, b"Invalid path requested"),
    ("canister", [b"canister_ranges", "SUBNET"], 404, b"cannot be read at a canister read_state"),
    ("canister", [b"request_status", bytes(32), b"nonsense"], 404, b"Invalid path requested"),
    ("canister", [b"canister", "SELF", b"metadata", b"\xff"], 400, b"UTF-8"),
    ("subnet", [b"canister", "SELF", b"module_hash"], 404, b"cannot be read at a subnet read_state"),
    ("subnet", [b"canister_ranges", "SUBNET"], 200, b""),
    ("canister", [b"api_boundary_nodes"], 200, b""),
    ("canister", [b"canister", "SELF", b"metadata", b"candid:service"], 200, b""),
])
def test_read_state_paths_are_answered_as_the_ic_does(api, http_replica, counter, where, path, code, reason):
    other = http_replica.replica.create_canister() if "OTHER" in path else None
    subnet = http_replica.replica.subnet_id
    names = {"SELF": counter.raw, "OTHER": other.raw if other else b"", "SUBNET": subnet.raw}
    labels = [names.get(p, p) if isinstance(p, str) else p for p in path]
    url = f"/api/v3/canister/{counter}/read_state" if where == "canister" else f"/api/v3/subnet/{subnet}/read_state"
    status, body = api.send(url, api.content("read_state", paths=[labels]))
    assert status == code and reason in body, (status, body)
    if status == 200:
        cert = verify_certificate(cbor2.loads(body)["certificate"], http_replica.root_key_der)
        # Revealed (a value, a subtree, or proven absent), never left pruned.
        assert cert.lookup(labels).status is not LookupStatus.UNKNOWN


@pytest.fixture
def time_travel(tmp_path, sysapi_path):
    """A replica of its own, whose clock the test moves, serving HTTP."""
    with Replica(tmp_path) as replica, HttpServer(replica, port=0) as server:
        cid = replica.create_canister()
        replica.install_code(cid, sysapi_path.read_bytes())
        yield replica, ApiClient(server.url, clock=replica.time_ns), cid


def test_statuses_go_replied_then_done_then_away_with_time(time_travel):
    replica, api, cid = time_travel
    root_key = replica.root_key_der()
    content = api.content("call", canister_id=cid, method_name="inc", expiry_s=60)
    rid = request_id(content)
    assert api.send_cbor(f"/api/v4/canister/{cid}/call", content)["status"] == "replied"
    assert read_status(api, root_key, cid, rid) == {"status": b"replied", "reply": (1).to_bytes(8, "little")}
    replica.advance_time(61)  # past the call's ingress expiry: the reply is dropped
    assert read_status(api, root_key, cid, rid) == {"status": b"done"}
    replica.advance_time(FORGET_DONE_AFTER_NS / 1e9)  # and later the request is forgotten
    assert read_status(api, root_key, cid, rid) == {}
    assert replica.query(cid, "read") == (1).to_bytes(8, "little")


def test_a_rejected_call_is_certified_with_its_codes(time_travel):
    replica, api, cid = time_travel
    content = api.content("call", canister_id=cid, method_name="trap", arg=b"no way")
    assert api.send(f"/api/v2/canister/{cid}/call", content)[0] == 202
    rid = request_id(content)
    for _ in range(200):
        fields = read_status(api, replica.root_key_der(), cid, rid)
        if fields.get("status") not in (None, b"received", b"processing"):
            break
        time.sleep(0.01)
    assert fields["status"] == b"rejected" and fields["reject_code"] == b"\x05"
    assert fields["error_code"] == b"IC0503" and b"no way" in fields["reject_message"]
