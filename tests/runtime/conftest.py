"""The runtime probe canister (canister/probes/runtime_probe.c on canister/runtime), built with zig
and installed once per session in one local replica."""

from __future__ import annotations

import pytest
from runtime_helpers import CONTROLLER, Probe

from icchat.build.canister import compile_c
from icchat.build.gpt2 import runtime_sources
from icchat.paths import BUILD, REPO
from icchat.replica import Replica


@pytest.fixture(scope="session")
def probe():
    sources = [REPO / "canister" / "probes" / "runtime_probe.c", *runtime_sources()]
    wasm = compile_c(sources, BUILD / "test-canisters" / "runtime_probe.wasm", extra_flags=["-Wall", "-Wextra", "-Werror"])
    with Replica() as replica:
        canister_id = replica.create_canister(controllers=[CONTROLLER], sender=CONTROLLER)
        replica.install_code(canister_id, wasm.read_bytes(), sender=CONTROLLER)
        yield Probe(replica, canister_id)
