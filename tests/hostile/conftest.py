"""One replica serving the IC HTTP interface and the gateway, with an asset canister holding a
small page, a multi-chunk file and assets with hostile-looking names, and a gpt2 canister with
the tiny seeded model: the targets of the hostile-input tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from hostile_site import ASSETS

from icchat.assets_canister import AssetsCanister
from icchat.build.assets import build_assets_wasm
from icchat.build.gpt2 import build_gpt2_wasm
from icchat.gpt2_canister import Gpt2Canister
from icchat.model.seeded_weights import seeded_weight_file
from icchat.replica import Replica
from icchat.replica.http import HttpServer

UNBOUNDED = {"window_instructions": 10**15, "caller_instructions": 10**15}


@dataclass
class Target:
    replica: Replica
    server: HttpServer
    assets: AssetsCanister
    gpt2: Gpt2Canister

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def host(self) -> str:
        return f"{self.assets.id}.localhost:{self.port}"


@pytest.fixture(scope="session")
def target(tmp_path_factory) -> Iterator[Target]:
    with Replica(tmp_path_factory.mktemp("hostile-replica")) as replica, HttpServer(replica, port=0) as server:
        assets = AssetsCanister.install(replica, build_assets_wasm().read_bytes())
        assets.upload(ASSETS)
        # a budget the fuzzing cannot spend: these tests are about input, test_onchain_abuse about cost
        gpt2 = Gpt2Canister.install(replica, build_gpt2_wasm().read_bytes(), policy=UNBOUNDED)
        gpt2.upload(seeded_weight_file("tiny", 0, "q8"))
        yield Target(replica, server, assets, gpt2)
