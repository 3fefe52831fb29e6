"""The stdlib-only modules (principal, candid, request_id, hashtree) run unchanged in Pyodide
(the browser's Python, 3.14) and compute exactly what they compute in CPython."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from node_peer import node_available, run_node

import icchat

PACKAGE = Path(icchat.__file__).parent
STDLIB_ONLY = ["__init__.py", "ic/__init__.py", "ic/principal.py", "ic/candid.py", "ic/request_id.py",
               "ic/hashtree.py", *(f"ic/idl/{p.name}" for p in (PACKAGE / "ic" / "idl").glob("*.py"))]

WORKLOAD = r'''
from icchat.ic import candid as C, hashtree as H
from icchat.ic.principal import Principal
from icchat.ic.request_id import request_id
did = C.parse_did("type L = opt record { head : int; tail : L }; service : { f : (L, blob) -> (variant { ok : text; err : nat }) query }")
f = did.service.methods["f"]
args = C.encode(f.args, [{"head": -1, "tail": {"head": 2 ** 70, "tail": None}}, bytes(range(10))])
RESULT = {
    "args": args.hex(),
    "decoded": repr(C.decode(args, f.args)),
    "generic": repr(C.decode(args)),
    "text": repr(C.parse_args('(variant { err = 5 }, opt opt "x")', [f.rets[0], C.Opt(C.Opt(C.Text))])),
    "principals": [Principal.from_canister_index(i).to_text() for i in range(3)],
    "self_auth": str(Principal.self_authenticating(b"key")),
    "request_id": request_id({"request_type": "call", "sender": b"\x04", "ingress_expiry": 1685570400000000000,
                              "canister_id": bytes.fromhex("00000000000004D2"), "method_name": "hello",
                              "arg": b"DIDL\x00\xfd*"}).hex(),
    "tree": H.prune(H.from_dict({"a": {"x": b"1", "y": 7}, "b": "z"}), [["a", "y"], ["c"]]).digest().hex(),
}
try:
    C.decode(b"DIDL\x01\x6d\x7f\x01\x00\x80\x94\xeb\xdc\x03")
except C.CandidError as e:
    RESULT["error"] = str(e)
'''


def run_here() -> dict:
    scope: dict = {}
    exec(WORKLOAD, scope)  # the same workload, in this CPython
    return json.loads(json.dumps(scope["RESULT"]))


@pytest.mark.slow
@pytest.mark.skipif(not node_available(), reason="needs node and node_modules (pyodide)")
def test_same_results_in_pyodide():
    files = {f"icchat/{rel}": (PACKAGE / rel).read_text(encoding="utf-8") for rel in STDLIB_ONLY}
    out = run_node("pyodide_peer.mjs", {"files": files, "code": WORKLOAD})
    assert "error" not in out, out.get("error")
    assert out["version"].startswith("3.14")
    assert out["result"] == run_here()
