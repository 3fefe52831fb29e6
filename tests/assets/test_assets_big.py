"""A 300 MB file (seeded PRNG bytes, generated on the fly, never stored) uploaded in order in 1.9 MB
chunks (hashed as they arrive, so the commit hashes nothing), then streamed through the verifying
gateway chunk by chunk: byte-identical, with the canister's heap and the replica's memory bounded."""

from __future__ import annotations

import hashlib
import http.client
import os
import random
import time

import pytest

from icchat.assets_canister import CHUNK_BYTES, Upload

SIZE = 300 * 1000 * 1000
SEED = 20261201


def pieces():
    rng = random.Random(SEED)
    left = SIZE
    while left:
        n = min(CHUNK_BYTES, left)
        yield rng.randbytes(n)
        left -= n


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.slow
def test_300_mb_file_streams_through_the_gateway(gateway, assets):
    expected = hashlib.sha256()
    for piece in pieces():
        expected.update(piece)
    start = time.perf_counter()
    assets.upload({"/model/big.bin": Upload(pieces, "application/octet-stream", max_age=31536000)})
    upload_s = time.perf_counter() - start
    entry = assets.list()[0]["encodings"][0]
    assert entry["length"] == SIZE and entry["sha256"] == expected.digest()

    before = rss_bytes()
    peak = before
    connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=300)
    connection.request("GET", "/model/big.bin", headers={"Host": f"{assets.id}.localhost:{gateway.port}"})
    response = connection.getresponse()
    assert response.status == 200
    got, received, start = hashlib.sha256(), 0, time.perf_counter()
    while block := response.read(8 << 20):
        got.update(block)
        received += len(block)
        peak = max(peak, rss_bytes())
    stream_s = time.perf_counter() - start
    connection.close()
    assert received == SIZE and got.digest() == expected.digest()
    heap = gateway.replica.canister_status(assets.id)["memory_metrics"]["wasm_memory_size"]
    assert heap < 64 << 20, heap  # content lives in stable memory, never in the heap
    assert peak - before < 200 << 20, (before, peak)  # streaming does not hold the body
    print(f"\n300 MB: upload {SIZE / upload_s / 1e6:.0f} MB/s, gateway stream {SIZE / stream_s / 1e6:.0f} MB/s, "
          f"canister heap {heap >> 20} MiB, replica RSS +{(peak - before) >> 20} MiB while streaming")
