"""Over the IC HTTP interface a call's induction is priced by the signed request's size, and a
canister that cannot pay for it is refused before inspect_message, as on the IC."""

from __future__ import annotations

import struct

import cbor2

from icchat.ic import candid, prices
from icchat.ic.principal import Principal
from icchat.replica.management import METHODS


def _sysapi(http_replica, sysapi_path) -> Principal:
    replica = http_replica.replica
    cid = replica.create_canister()
    replica.install_code(cid, sysapi_path.read_bytes(), b"hello")
    return cid


def test_a_call_pays_for_every_byte_of_the_signed_request(api, http_replica, sysapi_path):
    replica = http_replica.replica
    cid = _sysapi(http_replica, sysapi_path)
    before = replica.canister_info(cid).cycles
    body = cbor2.dumps({"content": api.content("call", canister_id=cid, method_name="spin", arg=struct.pack("<Q", 1000))})
    code, answer = api.post(f"/api/v3/canister/{cid}/call", body)
    assert code == 200 and cbor2.loads(answer)["status"] == "replied"
    used = replica.canister(cid).execution_state.instance.meter.used()
    assert replica.canister_info(cid).cycles == before - prices.ingress_induction_cycles(len(body)) - prices.update_execution_cycles(used)
    assert len(body) > len("spin") + 8  # the envelope (sender, expiry, nonce, ...) is paid for too


def test_a_frozen_canister_is_refused_before_inspect_message(api, http_replica, sysapi_path):
    replica = http_replica.replica
    cid = _sysapi(http_replica, sysapi_path)
    arg = candid.encode(METHODS["update_settings"].args, [{"canister_id": cid, "settings": {"freezing_threshold": 10**12}}])
    replica.update(Principal.management(), "update_settings", arg)
    held = replica.canister_info(cid).cycles
    reserve = prices.freezing_threshold_cycles(10**12, replica.canister_status(cid)["memory_size"])
    body = cbor2.dumps({"content": api.content("call", canister_id=cid, method_name="inc")})
    code, answer = api.post(f"/api/v3/canister/{cid}/call", body)
    answer = cbor2.loads(answer)
    assert (code, answer["status"], answer["reject_code"], answer["error_code"]) == (200, "non_replicated_rejection", 2, "IC0207")
    missing = reserve + prices.ingress_induction_cycles(len(body)) - held  # shown: the anonymous creator is its controller
    assert answer["reject_message"] == f"Canister {cid} is out of cycles: please top up the canister with at least {missing:_} additional cycles"
    assert replica.canister_info(cid).cycles == held
    answer = api.send_cbor(f"/api/v3/canister/{cid}/query", api.content("query", canister_id=cid, method_name="read"))
    assert (answer["status"], answer["error_code"]) == ("rejected", "IC0207")
    assert "is unable to process query calls because it's frozen" in answer["reject_message"]
