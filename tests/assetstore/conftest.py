"""One replica with its HTTP interface and gateway for the certification tests; a fresh probe
canister per test module (`probe`), so modules never see each other's trees."""

from __future__ import annotations

import pytest
from certtree_helpers import install_probe

from icchat.replica import Replica
from icchat.replica.http import HttpServer


@pytest.fixture(scope="session")
def http_replica(tmp_path_factory):
    with Replica(tmp_path_factory.mktemp("certtree-replica")) as replica, HttpServer(replica, port=0) as server:
        yield replica, server


@pytest.fixture(scope="module")
def probe(http_replica):
    return install_probe(http_replica[0])
