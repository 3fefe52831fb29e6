"""The store's guarantees on the real canister in the replica: upgrades keep every asset (and its
certification), a batch commits atomically (invisible until then, an abandoned one expires and
frees its chunks), hashes are checked (a wrong one changes nothing), chunks that arrived out of
order are hashed at commit, and only controllers and authorized principals write."""

from __future__ import annotations

import gzip
import hashlib

import pytest

from icchat.assets_canister import AssetsCanister, Upload
from icchat.ic.candid import Some
from icchat.ic.principal import Principal
from icchat.replica import Reject, Replica

STRANGER = Principal.self_authenticating(b"a stranger")
HELPER = Principal.self_authenticating(b"an authorized uploader")


@pytest.fixture
def replica():
    with Replica() as replica:  # its own clock: these tests move time
        yield replica


@pytest.fixture
def canister(replica, assets_wasm) -> AssetsCanister:
    return AssetsCanister.install(replica, assets_wasm)


def body(canister: AssetsCanister, path: str, **kwargs) -> tuple[int, bytes]:
    response = canister.http_request(path, **kwargs)
    return response["status_code"], b"".join(canister.http_body(response))


def rejected(call) -> Reject:
    with pytest.raises(Reject) as info:
        call()
    assert info.value.code == 4, info.value  # a canister reject with its reason, never a trap
    return info.value


def test_upgrade_keeps_every_asset(replica, canister, assets_wasm):
    big = bytes(range(251)) * 20_000  # 5 MB, three chunks
    canister.upload({"/index.html": Upload(b"<p>page</p>", "text/html", max_age=0, headers=[("X-Test", "1")],
                                           extra={"gzip": gzip.compress(b"<p>page</p>")}),
                     "/big.bin": Upload(big, "application/octet-stream")})
    canister.store("/small.txt", b"small", "text/plain")
    canister.authorize(HELPER)
    before = canister.list()
    certified = replica.canister_info(canister.id).certified_data
    replica.install_code(canister.id, assets_wasm, mode="upgrade", sender=canister.sender)
    assert canister.list() == before
    assert replica.canister_info(canister.id).certified_data == certified
    assert canister.list_authorized() == [HELPER]
    assert body(canister, "/big.bin") == (200, big)
    assert body(canister, "/small.txt") == (200, b"small")
    assert canister.get_asset_properties("/index.html")["headers"] == [("X-Test", "1")]
    # and it keeps working: a new upload after the upgrade reuses freed space
    canister.upload({"/big.bin": Upload(big[::-1], "application/octet-stream")}, existing=True)
    replica.install_code(canister.id, assets_wasm, mode="upgrade", sender=canister.sender)
    assert body(canister, "/big.bin") == (200, big[::-1])


def test_freed_stable_memory_is_reused(replica, canister):
    data = bytes(range(256)) * 12_000  # 3 MB, two chunks
    for i in range(8):
        canister.upload({"/x.bin": Upload(data[i:], "application/octet-stream")}, existing=True)
    assert body(canister, "/x.bin") == (200, data[7:])
    # old content is freed once the new one is in: at most two copies (+ chunks of one batch) ever exist
    assert replica.canister(canister.id).execution_state.stable.size_bytes < 3 * len(data)


def test_uncommitted_batch_is_invisible_and_expires(replica, canister):
    canister.store("/a.txt", b"old", "text/plain")
    batch = canister.create_batch()
    ids, digest = canister.upload_content(batch, b"new")
    assert body(canister, "/a.txt") == (200, b"old")
    assert [e["key"] for e in canister.list()] == ["/a.txt"]
    replica.advance_time(299)
    canister.create_chunk(batch, b"more")  # activity keeps it alive
    replica.advance_time(299)
    assert canister.create_chunk(batch, b"")
    replica.advance_time(301)
    error = rejected(lambda: canister.commit_batch(batch, [{"SetAssetContent": {
        "key": "/a.txt", "content_encoding": "identity", "chunk_ids": ids, "last_chunk": None, "sha256": digest}}]))
    assert "batch not found" in error.message and "expired" in error.message
    assert body(canister, "/a.txt") == (200, b"old")


def test_commit_is_atomic_and_checks_hashes(canister):
    canister.store("/keep.txt", b"keep", "text/plain")
    batch = canister.create_batch()
    ids, digest = canister.upload_content(batch, b"fresh")
    operations = [{"DeleteAsset": {"key": "/keep.txt"}},
                  {"CreateAsset": {"key": "/new.txt", "content_type": "text/plain"}},
                  {"SetAssetContent": {"key": "/new.txt", "content_encoding": "identity", "chunk_ids": ids,
                                       "last_chunk": None, "sha256": hashlib.sha256(b"other").digest()}}]
    error = rejected(lambda: canister.commit_batch(batch, operations))
    assert "sha256 mismatch" in error.message
    assert [e["key"] for e in canister.list()] == ["/keep.txt"]  # the delete before it did not happen
    operations[2]["SetAssetContent"]["sha256"] = digest
    canister.commit_batch(batch, operations)
    assert [e["key"] for e in canister.list()] == ["/new.txt"]
    assert body(canister, "/new.txt") == (200, b"fresh")
    assert "batch not found" in rejected(lambda: canister.commit_batch(batch, [])).message  # consumed


@pytest.mark.parametrize("operations, reason", [
    ([{"SetAssetContent": {"key": "/none", "content_encoding": "identity", "chunk_ids": [], "last_chunk": b"x", "sha256": None}}], "asset not found"),
    ([{"CreateAsset": {"key": "/dup", "content_type": "t"}}, {"CreateAsset": {"key": "/dup", "content_type": "t"}}], "asset already exists"),
    ([{"CreateAsset": {"key": "/e", "content_type": "t"}},
      {"SetAssetContent": {"key": "/e", "content_encoding": "identity", "chunk_ids": [], "last_chunk": None, "sha256": None}}], "at least one chunk"),
    ([{"CreateAsset": {"key": "/e", "content_type": "t"}},
      {"SetAssetContent": {"key": "/e", "content_encoding": "identity", "chunk_ids": [999], "last_chunk": None, "sha256": None}}], "not in this batch"),
    ([{"CreateAsset": {"key": "no-slash", "content_type": "t"}}], "key must start with '/'"),
    ([{"CreateAsset": {"key": "/h", "content_type": "t", "headers": [("Bad Name", "v")]}}], "HTTP token"),
    ([{"CreateAsset": {"key": "/h", "content_type": "t", "headers": [("X-Split", "a\r\nb")]}}], "control character"),
    ([{"UnsetAssetContent": {"key": "/none", "content_encoding": "gzip"}}], "asset not found"),
])
def test_bad_operations_are_rejected_with_a_reason(canister, operations, reason):
    canister.store("/keep.txt", b"keep", "text/plain")
    before = canister.list()
    batch = canister.create_batch()
    error = rejected(lambda: canister.commit_batch(batch, operations))
    assert reason in error.message, error.message
    assert canister.list() == before


def test_chunk_used_twice_is_rejected(canister):
    batch = canister.create_batch()
    ids, _ = canister.upload_content(batch, b"abc")
    ops = [{"CreateAsset": {"key": f"/{k}", "content_type": "t"}} for k in "ab"] + [
        {"SetAssetContent": {"key": f"/{k}", "content_encoding": "identity", "chunk_ids": ids, "last_chunk": None, "sha256": None}}
        for k in "ab"]
    assert "used twice" in rejected(lambda: canister.commit_batch(batch, ops)).message


def test_out_of_order_chunks_are_hashed_at_commit(canister):
    data = [bytes([i]) * 100_000 for i in range(4)]
    batch = canister.create_batch()
    ids = {i: canister.create_chunk(batch, data[i]) for i in (2, 0, 3, 1)}
    digest = hashlib.sha256(b"".join(data) + b"end").digest()
    canister.commit_batch(batch, [{"CreateAsset": {"key": "/o.bin", "content_type": "x"}},
                                  {"SetAssetContent": {"key": "/o.bin", "content_encoding": "identity",
                                                       "chunk_ids": [ids[i] for i in range(4)], "last_chunk": b"end",
                                                       "sha256": digest}}])
    assert body(canister, "/o.bin") == (200, b"".join(data) + b"end")
    assert canister.list()[0]["encodings"][0]["sha256"] == digest


def test_only_controllers_and_authorized_principals_write(canister):
    # the methods' own checks (canister_inspect_message skipped; tests/assets/test_assets_inspect.py covers it)
    anonymous, stranger, helper = (canister.as_caller(p, inspect=False) for p in (Principal.anonymous(), STRANGER, HELPER))
    for caller in (anonymous, stranger):
        assert "Caller does not have Commit permission" in rejected(lambda c=caller: c.create_batch()).message
        assert "Caller does not have Commit permission" in rejected(lambda c=caller: c.store("/x", b"x", "t")).message
        assert "Caller does not have Commit permission" in rejected(lambda c=caller: c.clear()).message
        assert "controller" in rejected(lambda c=caller: c.authorize(c.sender)).message
    assert "anonymous" in rejected(lambda: canister.authorize(Principal.anonymous())).message
    canister.authorize(HELPER)
    assert canister.list_authorized() == [HELPER]
    # the method answers anyone (the official interface); by ingress only those who manage the store
    assert stranger.list_authorized() == [HELPER]  # public (by ingress only for writers: test_assets_inspect.py)
    helper.upload({"/by-helper.txt": Upload(b"hi", "text/plain")})
    assert "controller" in rejected(lambda: helper.authorize(STRANGER)).message
    helper.deauthorize(HELPER)  # a principal may remove itself
    assert canister.list_authorized() == []
    assert "Caller does not have Commit permission" in rejected(lambda: helper.store("/y", b"y", "t")).message
    assert [e["key"] for e in canister.list()] == ["/by-helper.txt"]


def test_set_asset_properties_changes_served_headers(canister):
    canister.upload({"/p.html": Upload(b"p", "text/html", max_age=60, headers=[("X-A", "1")])})
    assert dict(canister.http_request("/p.html")["headers"])["cache-control"] == "max-age=60"
    canister.set_asset_properties("/p.html", max_age=Some(None), headers=[("X-B", "2")])
    headers = dict(canister.http_request("/p.html")["headers"])
    assert "cache-control" not in headers and headers["x-b"] == "2" and "x-a" not in headers
    assert canister.get_asset_properties("/p.html") == {"max_age": None, "headers": [("X-B", "2")],
                                                        "allow_raw_access": None, "is_aliased": None}


def test_delete_and_clear(canister):
    canister.upload({"/a": Upload(b"a", "t"), "/index.html": Upload(b"i", "text/html")})
    canister.delete_asset("/a")
    assert body(canister, "/a") == (200, b"i")  # no extension: an app route now
    canister.clear()
    assert canister.list() == [] and body(canister, "/a")[0] == 404
