"""Gateway throughput: a large streamed canister body through the replica's HTTP gateway vs the
same bytes from Python's http.server on the same machine (used by `icchat bench replica_http`).

The body is `CHUNKS` copies of a 1 MiB chunk from the http_echo test canister: the first in
the `http_request` answer, the rest through its `http_stream_repeat` streaming callback (one
query per chunk). It is fetched on the raw domain (no verification), and certified with v1
(`http_assets`) and v2 (`http_expr`, response-only) — both verified with a running SHA-256
while streaming. Also measured: the gateway's peak Python memory (tracemalloc) while it serves
the body in-process, to show it does not grow with the body.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import http.server
import random
import struct
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

CHUNK_BYTES = 1024 * 1024
CHUNKS = 64
PLACEHOLDER = "@@IC-CERTIFICATE@@"
EXPRESSION = ("default_certification(ValidationArgs{certification:Certification{no_request_certification:Empty{},"
              "response_certification:ResponseCertification{response_header_exclusions:ResponseHeaderList{headers:[]}}}})")

_DID = """
type Chunk = record { body : blob; token : opt nat32 };
type Strategy = variant { Callback : record { callback : func (nat32) -> (Chunk) query; token : nat32 } };
type Response = record { status_code : nat16; headers : vec record { text; text }; body : blob;
                         streaming_strategy : opt Strategy; upgrade : opt bool };
service : {}
"""


def _install(replica: Any) -> Any:
    from icchat.build.canister import compile_c
    from icchat.paths import BUILD, REPO

    wasm = compile_c([REPO / "canister" / "probes" / "http_echo.c"], BUILD / "probes" / "http_echo.wasm")
    cid = replica.create_canister()
    replica.install_code(cid, wasm.read_bytes())
    return cid


def _serve(replica: Any, cid: Any, chunk: bytes, version: int) -> None:
    """Make the canister answer with the streamed body, certified with `version` (1 or 2)."""
    import cbor2

    from icchat.ic import candid
    from icchat.ic.hashtree import from_dict, to_cbor
    from icchat.ic.request_id import hash_of_map

    body_sha = hashlib.sha256()
    for _ in range(CHUNKS):
        body_sha.update(chunk)
    headers = [("Content-Type", "application/octet-stream")]
    if version == 1:
        tree = from_dict({"http_assets": {"/big.bin": body_sha.digest()}})
        tail = base64.b64encode(to_cbor(tree))
    else:
        headers.append(("IC-CertificateExpression", EXPRESSION))
        certified = {"content-type": headers[0][1], "ic-certificateexpression": EXPRESSION, ":ic-cert-status": 200}
        response_hash = hashlib.sha256(hash_of_map(certified) + body_sha.digest()).digest()
        expression_hash = hashlib.sha256(EXPRESSION.encode()).digest()
        tree = from_dict({"http_expr": {"big.bin": {"<$>": {expression_hash: {b"": {response_hash: b""}}}}}})
        # The canister writes `certificate=:…:, tree=:` + this + `:`, so v2's fields follow the tree.
        tail = (base64.b64encode(to_cbor(tree)) + b":, version=2, expr_path=:"
                + base64.b64encode(cbor2.dumps(["http_expr", "big.bin", "<$>"])))
    did = candid.parse_did(_DID)
    reply = candid.encode([candid.parse_type("Response", did)], [{
        "status_code": 200, "headers": [*headers, ("IC-Certificate", PLACEHOLDER)], "body": chunk, "upgrade": None,
        "streaming_strategy": {"Callback": {"callback": candid.FuncRef(cid, "http_stream_repeat"), "token": CHUNKS - 1}},
    }])
    prefix, suffix = reply.split(bytes([len(PLACEHOLDER)]) + PLACEHOLDER.encode())
    replica.update(cid, "set_repeat", chunk)
    replica.update(cid, "set_response", bytes([0]) + tree.digest() + struct.pack("<I", len(prefix)) + prefix
                   + struct.pack("<I", len(tail)) + tail + suffix)


def _fetch_mb_per_s(port: int, path: str, host: str, size: int, repeat: int) -> float:
    best = 0.0
    for _ in range(repeat):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        start = time.perf_counter()
        connection.request("GET", path, headers={"Host": host})
        response = connection.getresponse()
        received = 0
        while piece := response.read(1024 * 1024):
            received += len(piece)
        elapsed = time.perf_counter() - start
        connection.close()
        if response.status != 200 or received != size:
            raise RuntimeError(f"{host}{path}: HTTP {response.status}, {received} of {size} bytes")
        best = max(best, size / elapsed / 1e6)
    return round(best, 1)


def _peak_memory_mib(replica: Any, cid: Any) -> float:
    from icchat.replica.http.gateway import handle
    from icchat.replica.http.messages import HttpIn

    tracemalloc.start()
    try:
        out = handle(replica, HttpIn("GET", "/big.bin", f"{cid}.localhost", [], b""))
        sum(len(piece) for piece in out.body)
        return round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
    finally:
        tracemalloc.stop()


def _static_mb_per_s(data_chunk: bytes, size: int, repeat: int) -> float:
    with tempfile.TemporaryDirectory() as directory:
        with Path(directory, "big.bin").open("wb") as file:
            for _ in range(CHUNKS):
                file.write(data_chunk)

        class Quiet(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, directory=directory, **kwargs)

            def log_message(self, *args: Any) -> None:
                pass

        static = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
        thread = threading.Thread(target=static.serve_forever, daemon=True)
        thread.start()
        try:
            return _fetch_mb_per_s(static.server_address[1], "/big.bin", "localhost", size, repeat)
        finally:
            static.shutdown()
            static.server_close()


def measure(repeat: int = 3) -> dict[str, Any]:
    from icchat.replica import Replica
    from icchat.replica.http import HttpServer

    chunk = random.Random(0).randbytes(CHUNK_BYTES)  # incompressible, like weights
    size = CHUNK_BYTES * CHUNKS
    with Replica() as replica, HttpServer(replica, port=0) as server:
        cid = _install(replica)
        _serve(replica, cid, chunk, 1)
        raw = _fetch_mb_per_s(server.port, "/big.bin", f"{cid}.raw.localhost", size, repeat)
        v1 = _fetch_mb_per_s(server.port, "/big.bin", f"{cid}.localhost", size, repeat)
        peak = _peak_memory_mib(replica, cid)
        _serve(replica, cid, chunk, 2)
        v2 = _fetch_mb_per_s(server.port, "/big.bin", f"{cid}.localhost", size, repeat)
    plain = _static_mb_per_s(chunk, size, repeat)
    return {
        "body_bytes": size,
        "chunk_bytes": CHUNK_BYTES,
        "chunks": CHUNKS,
        "gateway_raw_streamed_mb_per_s": raw,
        "gateway_certified_v1_streamed_mb_per_s": v1,
        "gateway_certified_v2_streamed_mb_per_s": v2,
        "python_http_server_static_file_mb_per_s": plain,
        "raw_vs_static": round(raw / plain, 2),
        "certified_v1_vs_static": round(v1 / plain, 2),
        "certified_v2_vs_static": round(v2 / plain, 2),
        "gateway_peak_python_memory_mib": peak,
        "notes": f"best of {repeat}; one query per 1 MiB chunk; certified bodies are hashed while streaming "
                 "(the last chunk is held until the hash matches); peak memory via tracemalloc, in-process",
    }
