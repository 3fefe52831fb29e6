"""A real replica serving HTTP on a free port (`http_replica`, shared by the API and gateway
tests), the sysapi test canister built once, a raw API client (`api`), and `site`: the
http_echo test canister installed once per test module (its answers are per-module state)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from api_client import ApiClient
from echo_site import http_echo_wasm
from replica_helpers import build_sysapi

from icchat.replica import Replica
from icchat.replica.http import HttpServer


@dataclass
class HttpReplica:
    replica: Replica
    server: HttpServer

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def root_key_der(self) -> bytes:
        return self.replica.root_key_der()


@pytest.fixture(scope="session")
def sysapi_path() -> Path:
    return build_sysapi()


@pytest.fixture(scope="session")
def http_replica(tmp_path_factory):
    with Replica(tmp_path_factory.mktemp("http-replica")) as replica, HttpServer(replica, port=0) as server:
        yield HttpReplica(replica, server)


@pytest.fixture(scope="session")
def api(http_replica) -> ApiClient:
    return ApiClient(http_replica.url)


@pytest.fixture(scope="module")
def site(http_replica):
    cid = http_replica.replica.create_canister()
    http_replica.replica.install_code(cid, http_echo_wasm())
    return cid
