"""Seeded weight files: the right model, deterministic for a seed, built once then reused."""

from __future__ import annotations

import hashlib

from icchat.model.canister_weights import read_weights
from icchat.model.seeded_weights import seeded_weight_file
from icchat.model.source import PRESETS


def test_a_seeded_weight_file_is_deterministic_and_reused(tmp_path):
    first = seeded_weight_file("tiny", 3, "q8", out_dir=tmp_path / "a")
    again = seeded_weight_file("tiny", 3, "q8", out_dir=tmp_path / "a")
    assert again == first and again.stat().st_mtime_ns == first.stat().st_mtime_ns
    other_dir = seeded_weight_file("tiny", 3, "q8", out_dir=tmp_path / "b")
    assert hashlib.sha256(other_dir.read_bytes()).digest() == hashlib.sha256(first.read_bytes()).digest()
    weights = read_weights(first)
    tiny = PRESETS["tiny"]
    assert (weights.dtype, weights.dims.n_layer, weights.dims.n_embd) == ("q8", tiny["n_layer"], tiny["n_embd"])
    assert not list((tmp_path / "a").glob(".*partial"))
