"""Replies over the IC HTTP interface are published only once a checkpoint holds them (as on the
IC, where a certified reply is part of the finalized state); a checkpoint that cannot be written
makes the replica refuse further update calls with a clear transient reject until it can."""

from __future__ import annotations

import shutil

import pytest
from disk_faults import disk_full_after
from live_replica import assets_wasm

from icchat.assets_canister import AssetsCanister
from icchat.deploy import sync_folder
from icchat.ic import candid
from icchat.ic.agent import Agent, CanisterReject
from icchat.ic.identity import Ed25519Identity
from icchat.replica import Replica, persistence
from icchat.replica.http import HttpServer

OWNER = Ed25519Identity.from_seed(bytes(range(32)))


@pytest.fixture
def served(tmp_path):
    with Replica(tmp_path / "state") as replica, HttpServer(replica, port=0) as server:
        canister_id = replica.create_canister(controllers=[OWNER.principal])
        replica.install_code(canister_id, assets_wasm(), sender=OWNER.principal)
        agent = Agent(server.url, OWNER)
        agent.fetch_root_key()
        yield agent, canister_id  # the replica runs no scheduler: only the ingress checkpoints


def disk_as_a_crash_leaves_it(tmp_path):
    """The state directory as a SIGKILL now would leave it (the replica never closes it)."""
    copy = tmp_path / "after-crash"
    shutil.copytree(tmp_path / "state", copy, ignore=shutil.ignore_patterns("LOCK"))
    return copy


def test_a_reply_is_on_disk_before_the_client_sees_it(served, tmp_path):
    agent, canister_id = served
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "a.txt").write_bytes(b"committed before the crash\n")
    sync_folder(agent, canister_id, tmp_path / "site")  # its commit_batch has replied
    with Replica(disk_as_a_crash_leaves_it(tmp_path)) as restarted:
        assert AssetsCanister(restarted, canister_id).content("/a.txt") == b"committed before the crash\n"


def test_a_full_disk_refuses_new_calls_with_the_reason_until_there_is_space(served):
    agent, canister_id = served

    def create_batch() -> None:
        agent.update(canister_id, "create_batch", candid.encode(candid.parse_types("(record {})"), [{}]))

    with disk_full_after(persistence, "_write_new", 0):
        create_batch()  # it ran (in memory); its checkpoint failed
        with pytest.raises(CanisterReject) as refused:
            create_batch()
        assert refused.value.code == 2
        assert "cannot save its state" in refused.value.message and "No space left on device" in refused.value.message
        with pytest.raises(CanisterReject):
            create_batch()  # still full: still refused
    create_batch()  # space is back: taken again
