"""IC instructions of the asset canister's hot paths, measured by the replica's meter (the IC's cost
table), checked against the IC's per-message limits with a wide margin; the figures are printed
(run with -s) and recorded in docs/asset-canister.md."""

from __future__ import annotations

import hashlib

from icchat.assets_canister import AssetsCanister, Upload, _types
from icchat.ic import candid
from icchat.replica import Replica

UPDATE_LIMIT, QUERY_LIMIT = 40_000_000_000, 5_000_000_000


def instructions(replica: Replica, canister: AssetsCanister, method: str, types: str, args: list, *, query: bool = False) -> tuple[int, bytes]:
    arg = candid.encode(_types(types), args)
    with replica.lock:
        target = replica.canister(canister.id)
        now = replica.time_ns()
        if query:
            certificate = replica._certification().data_certificate(target.id, target.certified_data, now)
            outcome = target.execute_query(method, arg, canister.sender, now, certificate)
        else:
            outcome = target.execute_update(method, arg, canister.sender, now)
    kind, reply = outcome.response
    assert kind == "reply", reply
    return outcome.instructions, reply


def test_costs_fit_the_ic_limits(assets_wasm):
    with Replica() as replica:
        canister = AssetsCanister.install(replica, assets_wasm)
        batch = canister.create_batch()
        chunk = bytes(range(256)) * 7421  # 1.9 MB
        create_chunk, _ = instructions(replica, canister, "create_chunk", "(record { batch_id: BatchId; content: blob })",
                                       [{"batch_id": batch, "content": chunk}])
        operations = []
        for i in range(30):
            ids, digest = canister.upload_content(batch, f"small file {i}\n".encode() * 40)
            operations += [{"CreateAsset": {"key": f"/f{i}.txt", "content_type": "text/plain", "max_age": 0,
                                            "headers": [("Cross-Origin-Resource-Policy", "same-origin")]}},
                           {"SetAssetContent": {"key": f"/f{i}.txt", "content_encoding": "identity", "chunk_ids": ids,
                                                "last_chunk": None, "sha256": digest}}]
        commit, _ = instructions(replica, canister, "commit_batch", "(CommitBatchArguments)",
                                 [{"batch_id": batch, "operations": operations}])
        canister.upload({"/big.bin": Upload(chunk * 3, "application/octet-stream")})
        request = {"method": "GET", "url": "/f7.txt", "headers": [], "body": b"", "certificate_version": 2}
        small, _ = instructions(replica, canister, "http_request", "(HttpRequest)", [request], query=True)
        token = {"key": "/big.bin", "content_encoding": "identity", "index": 1,
                 "sha256": hashlib.sha256(chunk * 3).digest()}
        callback, reply = instructions(replica, canister, "http_request_streaming_callback", "(StreamingCallbackToken)",
                                       [token], query=True)
        assert len(candid.decode(reply, _types("(StreamingCallbackHttpResponse)"))[0]["body"]) > 2_000_000
    print(f"\ncreate_chunk 1.9 MB: {create_chunk:,}  commit 30 files: {commit:,}  "
          f"http_request small v2: {small:,}  streaming callback (2 MB): {callback:,}")
    assert create_chunk < UPDATE_LIMIT // 50 and commit < UPDATE_LIMIT // 50
    assert small < QUERY_LIMIT // 50 and callback < QUERY_LIMIT // 20
