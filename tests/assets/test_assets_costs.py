"""IC instructions of the asset canister's hot paths, measured by the replica's meter (the IC's cost
table), checked against the IC's per-message limits with a wide margin; the figures are printed
(run with -s) and recorded in docs/asset-canister.md."""

from __future__ import annotations

import hashlib

from icchat.assets_canister import AssetsCanister, Upload, _types
from icchat.ic import candid
from icchat.ic.principal import Principal
from icchat.replica import Replica

UPDATE_LIMIT, QUERY_LIMIT = 40_000_000_000, 5_000_000_000


def instructions(replica: Replica, canister: AssetsCanister, method: str, types: str, args: list, *, query: bool = False) -> tuple[int, bytes]:
    arg = candid.encode(_types(types), args)
    with replica.lock:
        target = replica.canister(canister.id)
        now = replica.time_ns()
        if query:
            certificate = replica.certification.data_certificate(target.id, target.system.certified_data, now)
            outcome = replica.execution.execute_query(target, method, arg, canister.sender, now, certificate)
        else:
            outcome = replica.execution.execute_update(target, method, arg, canister.sender, now)
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


def refused_instructions(replica: Replica, canister: AssetsCanister, method: str, types: str, args: list) -> tuple[int, str]:
    """Instructions of an update the canister refuses (run as the method itself: no inspect_message)."""
    arg = candid.encode(_types(types), args)
    assert len(arg) > 1_800_000
    with replica.lock:
        outcome = replica.execution.execute_update(replica.canister(canister.id), method, arg, canister.sender, replica.time_ns())
    kind, reason = outcome.response
    assert kind == "reject", reason
    return outcome.instructions, str(reason)


def refused_writes(replica: Replica, canister: AssetsCanister) -> dict[str, int]:
    """A stranger's create_chunk and commit_batch with ~1.9 MB arguments: instructions per call."""
    stranger = canister.as_caller(Principal.self_authenticating(b"a stranger with a big argument"))
    chunk = bytes(range(256)) * 7421
    deletes = [{"DeleteAsset": {"key": f"/{i:08}/" + "k" * 80}} for i in range(20_000)]  # many small operations
    calls = {
        "create_chunk": ("(record { batch_id: BatchId; content: blob })", [{"batch_id": 1, "content": chunk}]),
        "commit_batch": ("(CommitBatchArguments)", [{"batch_id": 1, "operations": deletes}]),
    }
    costs = {}
    for method, (types, args) in calls.items():
        costs[method], reason = refused_instructions(replica, stranger, method, types, args)
        assert "Caller does not have Commit permission" in reason
    return costs


def test_a_refused_write_costs_little_whatever_its_argument(assets_wasm):
    """The caller's permission is checked before the argument is read or decoded."""
    with Replica() as replica:
        costs = refused_writes(replica, AssetsCanister.install(replica, assets_wasm))
    print(f"\nrefused 1.9 MB writes: {', '.join(f'{m} {n:,}' for m, n in costs.items())}")
    assert all(n < 1_000_000 for n in costs.values()), costs
