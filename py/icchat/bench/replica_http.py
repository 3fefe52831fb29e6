"""`icchat bench replica_http`: round trips per second through the replica's HTTP interface.

An empty query and an empty update (v3 synchronous call, answered with a certificate) on the
sysapi test canister: sent by the official JS agent (`@icp-sdk/core` in Node, one call at a
time, query signatures and certificates verified), sent as bare anonymous CBOR envelopes over
one keep-alive connection (the server's own cost), and through the Python API (no HTTP). Plus
gateway throughput for a streamed body against Python's http.server serving the same bytes.
"""

from __future__ import annotations

import argparse
import http.client
import json
import shutil
import subprocess
import time
from typing import Any

import cbor2

# One call at a time, as an app awaiting each answer would; rates in calls per second.
_AGENT_SCRIPT = """
import { Certificate, HttpAgent } from "@icp-sdk/core/agent";
const [url, canisterId, n] = process.argv.slice(1);
const agent = await HttpAgent.create({ host: url, shouldFetchRootKey: true });
const arg = new Uint8Array();
await agent.query(canisterId, { methodName: "empty_q", arg });  // fetches the subnet's node keys once
const { rawCertificate } = await agent.update(canisterId, { methodName: "empty", arg });
const rate = async (call) => {
  const start = performance.now();
  for (let i = 0; i < Number(n); i++) await call();
  return Number(n) / ((performance.now() - start) / 1000);
};
const query = await rate(async () => {
  const r = await agent.query(canisterId, { methodName: "empty_q", arg });
  if (r.status !== "replied") throw new Error(r.reject_message);
});
const update = await rate(() => agent.update(canisterId, { methodName: "empty", arg }));
// The agent's own share of an update: checking one certificate's BLS signature.
const verify = await rate(() => Certificate.create({ certificate: rawCertificate, rootKey: agent.rootKey, principal: { canisterId } }));
console.log(JSON.stringify({ query, update, verify }));
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--calls", type=int, default=500, help="calls per measurement")


def _envelope(kind: str, canister: Any, method: str, nonce: int) -> bytes:
    from icchat.ic.principal import Principal

    return cbor2.dumps({"content": {
        "request_type": kind, "canister_id": canister.raw, "method_name": method, "arg": b"",
        "sender": Principal.anonymous().raw, "ingress_expiry": time.time_ns() + 120 * 10**9,
        "nonce": nonce.to_bytes(8, "big"),
    }})


def _rate(connection: http.client.HTTPConnection, path: str, bodies: list[bytes], expect: int) -> float:
    start = time.perf_counter()
    for body in bodies:
        connection.request("POST", path, body, {"content-type": "application/cbor"})
        response = connection.getresponse()
        response.read()
        if response.status != expect:
            raise RuntimeError(f"{path}: HTTP {response.status}")
    return len(bodies) / (time.perf_counter() - start)


def _js_agent_rates(url: str, canister: Any, calls: int) -> dict[str, Any]:
    from icchat.paths import REPO

    node = shutil.which("node")
    if node is None or not (REPO / "node_modules" / "@icp-sdk" / "core").is_dir():
        return {"skipped": "node or node_modules/@icp-sdk/core is missing (npm ci)"}
    process = subprocess.run([node, "--input-type=module", "-e", _AGENT_SCRIPT, url, str(canister), str(calls)],
                             capture_output=True, text=True, timeout=600, cwd=REPO)
    if process.returncode != 0:
        raise RuntimeError(f"the JS agent benchmark failed: {process.stderr.strip()[-2000:]}")
    rates = json.loads(process.stdout)
    return {
        "query_per_s": round(rates["query"]),
        "update_v4_sync_per_s": round(rates["update"]),
        "certificate_verification_ms": round(1000 / rates["verify"], 1),
    }


def _gateway_throughput() -> dict[str, Any]:
    try:
        from icchat.bench._gateway import measure
    except ModuleNotFoundError as exc:
        if exc.name != "icchat.bench._gateway":
            raise
        return {"skipped": "the gateway benchmark (icchat.bench._gateway) is not installed"}
    return measure()


def run(args: argparse.Namespace) -> dict[str, Any]:
    from icchat.bench.replica import _sysapi
    from icchat.replica import Replica
    from icchat.replica.http import HttpServer

    with Replica() as replica, HttpServer(replica, port=0) as server:
        cid = replica.create_canister()
        replica.install_code(cid, _sysapi())
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        n = args.calls
        queries = [_envelope("query", cid, "empty_q", i) for i in range(n)]
        updates = [_envelope("call", cid, "empty", n + i) for i in range(n)]
        _rate(connection, f"/api/v3/canister/{cid}/query", queries[:20], 200)  # warm up
        query_rate = _rate(connection, f"/api/v3/canister/{cid}/query", queries, 200)
        update_rate = _rate(connection, f"/api/v3/canister/{cid}/call", updates, 200)
        start = time.perf_counter()
        for _ in range(n):
            replica.query(cid, "empty_q")
        direct_query = n / (time.perf_counter() - start)
        start = time.perf_counter()
        for _ in range(n):
            replica.update(cid, "empty")
        direct_update = n / (time.perf_counter() - start)
        connection.close()
        js_agent = _js_agent_rates(server.url, cid, min(n, 300))
    result = {
        "js_agent": js_agent,
        "http_empty_query_per_s": round(query_rate),
        "http_empty_update_v3_sync_per_s": round(update_rate),
        "python_api_empty_query_per_s": round(direct_query),
        "python_api_empty_update_per_s": round(direct_update),
        "calls": n,
        "gateway": _gateway_throughput(),
        "notes": "js_agent: @icp-sdk/core in Node, anonymous, verifying query signatures (Ed25519) and call "
                 "certificates (BLS); http_*: bare anonymous envelopes, one keep-alive connection; one call at a time; 2-core machine",
    }
    for key, value in result.items():
        print(f"  {key}: {value}")
    return result
