"""`icchat bench replica_http`: round trips per second through the replica's HTTP interface.

An empty query and an empty update (v3 synchronous call, answered with a certificate) on the
sysapi test canister, sent as anonymous CBOR envelopes over one keep-alive connection, compared
with the same calls through the Python API (no HTTP); and gateway throughput for a streamed
body against Python's http.server serving the same bytes from disk.
"""

from __future__ import annotations

import argparse
import http.client
import time
from typing import Any

import cbor2


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


def run(args: argparse.Namespace) -> dict[str, Any]:
    from icchat.bench._gateway import measure as measure_gateway
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
    result = {
        "http_empty_query_per_s": round(query_rate),
        "http_empty_update_v3_sync_per_s": round(update_rate),
        "python_api_empty_query_per_s": round(direct_query),
        "python_api_empty_update_per_s": round(direct_update),
        "calls": n,
        "gateway": measure_gateway(),
        "notes": "anonymous envelopes, one keep-alive connection, node-signed queries and BLS-signed call certificates; 2-core machine",
    }
    for key, value in result.items():
        print(f"  {key}: {value}")
    return result
