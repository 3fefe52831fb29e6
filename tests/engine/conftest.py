"""The icchat engine (icchat-engine.wasm in wasmtime) and the gpt2 canister serving the same
seeded weight files, so the two can be compared token for token."""

from __future__ import annotations

import pytest

from icchat.build.engine import build_engine_wasm
from icchat.build.gpt2 import build_gpt2_wasm
from icchat.gpt2_canister import Gpt2Canister
from icchat.model.seeded_weights import seeded_weight_file
from icchat.replica import Replica


@pytest.fixture(scope="session", params=[False, True], ids=["simd128", "relaxed"])
def engine_wasm(request):
    """Both instruction sets of the one-thread module: every comparison with the canister runs on each."""
    return build_engine_wasm(relaxed=request.param)


@pytest.fixture(scope="session")
def weight_files():
    return {dtype: seeded_weight_file("tiny", 0, dtype) for dtype in ("f32", "q8")}


@pytest.fixture(scope="module")
def canisters(weight_files):
    """{"f32": canister, "q8": canister} serving the tiny model, in one replica."""
    wasm = build_gpt2_wasm().read_bytes()
    with Replica() as replica:
        served = {}
        for dtype, path in weight_files.items():
            served[dtype] = Gpt2Canister.install(replica, wasm)
            served[dtype].upload(path)
        yield served
