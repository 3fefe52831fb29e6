"""The gpt2 canister built from C, seeded weight files (tiny; a one-layer model at GPT-2 124M widths), replicas serving them."""

from __future__ import annotations

from pathlib import Path

import pytest

from icchat.build.gpt2 import build_gpt2_wasm
from icchat.gpt2_canister import Gpt2Canister
from icchat.model.seeded_weights import seeded_weight_file
from icchat.replica import Replica


@pytest.fixture(scope="session")
def gpt2_wasm() -> bytes:
    return build_gpt2_wasm().read_bytes()


@pytest.fixture(scope="session")
def tiny_f32():
    return seeded_weight_file("tiny", 0, "f32")


@pytest.fixture(scope="session")
def tiny_q8():
    return seeded_weight_file("tiny", 0, "q8")


@pytest.fixture(scope="module")
def served(gpt2_wasm, tiny_f32, tiny_q8):
    """{"f32": canister, "q8": canister}, each with its tiny model uploaded, in one replica."""
    with Replica() as replica:
        canisters = {}
        for dtype, path in (("f32", tiny_f32), ("q8", tiny_q8)):
            canisters[dtype] = Gpt2Canister.install(replica, gpt2_wasm)
            canisters[dtype].upload(path)
        yield canisters


@pytest.fixture
def fresh(gpt2_wasm):
    """A gpt2 canister with no model, in its own replica."""
    with Replica() as replica:
        yield Gpt2Canister.install(replica, gpt2_wasm)


# GPT-2 124M's widths (768 in, 3072 in the MLP) so the kernels' wide blocks run, but one layer and
# a small vocabulary (1021: the LM head ends in a partial group of four rows) to stay quick.
WIDE = {"n_layer": 1, "n_head": 12, "n_embd": 768, "n_positions": 64, "vocab_size": 1021}


@pytest.fixture(scope="session")
def wide_files() -> dict[str, Path]:
    return {dtype: seeded_weight_file("wide", 0, dtype, shape=WIDE) for dtype in ("f32", "q8")}


@pytest.fixture(scope="module")
def served_wide(gpt2_wasm, wide_files):
    """{"f32": canister, "q8": canister} serving the wide one-layer model, in one replica."""
    with Replica() as replica:
        canisters = {}
        for dtype, path in wide_files.items():
            canisters[dtype] = Gpt2Canister.install(replica, gpt2_wasm)
            canisters[dtype].upload(path)
        yield canisters
