"""A real replica serving HTTP on a free port, the sysapi test canister for the agent tests, and
(once it builds) the asset canister for the deploy tests."""

from __future__ import annotations

import pytest
from deploy_replica import HttpReplica

from icchat.build.canister import compile_c
from icchat.ic.identity import Ed25519Identity
from icchat.ic.principal import Principal
from icchat.paths import BUILD, REPO
from icchat.replica import Replica
from icchat.replica.http import HttpServer


@pytest.fixture(scope="session")
def http_replica(tmp_path_factory):
    with Replica(tmp_path_factory.mktemp("deploy-replica")) as replica, HttpServer(replica, port=0) as server:
        yield HttpReplica(replica, server)


@pytest.fixture(scope="session")
def sysapi(http_replica) -> Principal:
    wasm = compile_c([REPO / "canister" / "probes" / "sysapi.c"], BUILD / "test-canisters" / "sysapi.wasm")
    cid = http_replica.replica.create_canister()
    http_replica.replica.install_code(cid, wasm.read_bytes())
    return cid


@pytest.fixture(scope="session")
def owner() -> Ed25519Identity:
    """The controller of the asset canisters the deploy tests install."""
    return Ed25519Identity.from_seed(bytes(range(32)))
