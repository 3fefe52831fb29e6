"""Gateway throughput: a streamed canister body through the replica's gateway vs the same bytes
from Python's http.server on the same machine (used by `icchat bench replica_http`)."""

from __future__ import annotations

import base64
import hashlib
import http.client
import http.server
import struct
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

CHUNK_BYTES = 250_000
CHUNKS = 8

_DID = """
type Chunk = record { body : blob; token : opt nat32 };
type Strategy = variant { Callback : record { callback : func (nat32) -> (Chunk) query; token : nat32 } };
type Response = record { status_code : nat16; headers : vec record { text; text }; body : blob;
                         streaming_strategy : opt Strategy; upgrade : opt bool };
service : {}
"""


def _install(replica: Any, parts: list[bytes]) -> Any:
    from icchat.build.canister import compile_c
    from icchat.ic import candid
    from icchat.ic.hashtree import from_dict, to_cbor
    from icchat.paths import BUILD, REPO

    did = candid.parse_did(_DID)
    response_t, chunk_t = candid.parse_type("Response", did), candid.parse_type("Chunk", did)
    wasm = compile_c([REPO / "tests" / "canisters" / "http_echo.c"], BUILD / "test-canisters" / "http_echo.wasm")
    cid = replica.create_canister()
    replica.install_code(cid, wasm.read_bytes())
    tree = from_dict({"http_assets": {"/big.bin": hashlib.sha256(b"".join(parts)).digest()}})
    placeholder = "@@IC-CERTIFICATE@@"
    reply = candid.encode([response_t], [{
        "status_code": 200, "headers": [("Content-Type", "application/octet-stream"), ("IC-Certificate", placeholder)],
        "body": parts[0], "streaming_strategy": {"Callback": {"callback": candid.FuncRef(cid, "http_stream"), "token": 1}},
        "upgrade": None,
    }])
    prefix, suffix = reply.split(bytes([len(placeholder)]) + placeholder.encode())
    tree_b64 = base64.b64encode(to_cbor(tree))
    replica.update(cid, "set_response", bytes([0]) + tree.digest() + struct.pack("<I", len(prefix)) + prefix
                   + struct.pack("<I", len(tree_b64)) + tree_b64 + suffix)
    for index in range(1, len(parts)):
        token = index + 1 if index + 1 < len(parts) else None
        replica.update(cid, "set_chunk", struct.pack("<I", index) + candid.encode([chunk_t], [{"body": parts[index], "token": token}]))
    return cid


def _fetch_mb_per_s(port: int, path: str, host: str, size: int, repeat: int) -> float:
    best = 0.0
    for _ in range(repeat):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        start = time.perf_counter()
        connection.request("GET", path, headers={"Host": host})
        response = connection.getresponse()
        data = response.read()
        elapsed = time.perf_counter() - start
        connection.close()
        if response.status != 200 or len(data) != size:
            raise RuntimeError(f"{host}{path}: HTTP {response.status}, {len(data)} bytes")
        best = max(best, size / elapsed / 1e6)
    return round(best, 1)


def measure(repeat: int = 5) -> dict[str, Any]:
    from icchat.replica import Replica
    from icchat.replica.http import HttpServer

    parts = [bytes([i]) * CHUNK_BYTES for i in range(CHUNKS)]
    size = CHUNK_BYTES * CHUNKS
    with Replica() as replica, HttpServer(replica, port=0) as server:
        cid = _install(replica, parts)
        raw = _fetch_mb_per_s(server.port, "/big.bin", f"{cid}.raw.localhost", size, repeat)
        certified = _fetch_mb_per_s(server.port, "/big.bin", f"{cid}.localhost", size, repeat)
    with tempfile.TemporaryDirectory() as directory:
        Path(directory, "big.bin").write_bytes(b"".join(parts))

        class Quiet(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, directory=directory, **kwargs)

            def log_message(self, *args: Any) -> None:
                pass

        static = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
        thread = threading.Thread(target=static.serve_forever, daemon=True)
        thread.start()
        try:
            plain = _fetch_mb_per_s(static.server_address[1], "/big.bin", "localhost", size, repeat)
        finally:
            static.shutdown()
            static.server_close()
    return {
        "body_bytes": size,
        "chunks": CHUNKS,
        "gateway_raw_streamed_mb_per_s": raw,
        "gateway_certified_v1_mb_per_s": certified,
        "python_http_server_static_file_mb_per_s": plain,
        "raw_vs_static": round(raw / plain, 2),
        "certified_vs_static": round(certified / plain, 2),
    }
