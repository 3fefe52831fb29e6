"""At GPT-2 124M's widths (768 / 3072 columns) the kernels take their wide paths: x blocks of 768
columns in locals, int16 row quads over 384 column pairs, eight-token batches in the prompt pass,
and an LM head whose last group of four rows is partial. Same oracle as the tiny tests."""

from __future__ import annotations

import numpy as np
import pytest

from icchat.model.canister_weights import read_weights
from icchat.model.reference import KVCache, ReferenceGPT2

PROMPT = [(17 + 389 * i) % 1021 for i in range(13)]  # 13 tokens: one batch of 8, then 5 one by one


@pytest.mark.parametrize("dtype", ["f32", "q8"])
def test_wide_logits_match_the_reference(served_wide, wide_files, dtype):
    reference_model = ReferenceGPT2(read_weights(wide_files[dtype]))
    for tokens in (PROMPT, PROMPT[:1]):
        canister = np.array(served_wide[dtype].logits(tokens))
        reference = reference_model.forward(tokens, KVCache())[-1]
        assert canister.shape == reference.shape == (1021,)
        if dtype == "f32":  # the same bound and reasons as the tiny model's test
            assert np.abs(canister - reference).max() < 1e-4
        else:  # int16 activations on top of the file's int8 weights
            assert np.corrcoef(canister, reference)[0, 1] > 0.9999
            assert np.abs(canister - reference).max() < 0.02 * np.abs(reference).max()
        assert canister.argmax() == reference.argmax()


def test_wide_greedy_generation_equals_the_reference(served_wide, wide_files):
    model, cache = ReferenceGPT2(read_weights(wide_files["f32"])), KVCache()
    expected = [int(np.argmax(model.forward(PROMPT, cache)[-1]))]
    while len(expected) < 4:
        expected.append(int(np.argmax(model.forward([expected[-1]], cache)[-1])))
    assert served_wide["f32"].generate(PROMPT, max_new_tokens=4, stop=[])["tokens"] == expected
