"""The gpt2 canister's forward pass and generation against the numpy reference (same weight file)."""

from __future__ import annotations

import numpy as np
import pytest

from icchat.chat.tokenizer import GPT2Tokenizer
from icchat.model.canister_weights import read_weights
from icchat.model.reference import KVCache, ReferenceGPT2
from icchat.model.vocab import ensure_tokenizer_dir

TEXTS = ["Hello, my name is", "The Internet Computer runs canisters", "1 2 3 4 5 6 7 8 9 10 11 12"]


@pytest.fixture(scope="module")
def prompts() -> list[list[int]]:
    tokenizer = GPT2Tokenizer.from_dir(ensure_tokenizer_dir())
    return [tokenizer.encode(text) for text in TEXTS]


def reference_last_logits(path, tokens) -> np.ndarray:
    return ReferenceGPT2(read_weights(path)).forward(tokens, KVCache())[-1]


def reference_greedy(path, prompt, steps) -> list[int]:
    model, cache = ReferenceGPT2(read_weights(path)), KVCache()
    out = [int(np.argmax(model.forward(prompt, cache)[-1]))]
    while len(out) < steps:
        out.append(int(np.argmax(model.forward([out[-1]], cache)[-1])))
    return out


def test_f32_logits_match_the_reference(served, tiny_f32, prompts):
    for tokens in prompts:
        canister = np.array(served["f32"].logits(tokens))
        reference = reference_last_logits(tiny_f32, tokens)
        assert canister.shape == reference.shape == (50257,)
        # same f32 weights; differences come from summation order and the canister's own
        # exp/tanh (a few ulp), far below 1e-4 on logits of magnitude ~1
        assert np.abs(canister - reference).max() < 1e-4
        assert canister.argmax() == reference.argmax()


def test_q8_logits_follow_the_q8_reference(served, tiny_q8, prompts):
    # the canister also quantizes activations to int16 (|q| <= 8191), the reference only weights
    for tokens in prompts:
        canister = np.array(served["q8"].logits(tokens))
        reference = reference_last_logits(tiny_q8, tokens)
        assert np.corrcoef(canister, reference)[0, 1] > 0.9999
        assert np.abs(canister - reference).max() < 0.02 * np.abs(reference).max()
        assert canister.argmax() == reference.argmax()


@pytest.mark.parametrize("dtype", ["f32", "q8"])
def test_logits_deep_in_the_context(served, tiny_f32, tiny_q8, dtype):
    # 301 tokens: attention over many key tiles / value pairs (q8 keeps keys and values in int16),
    # prompt batches of eight and a partial last tile
    tokens = [(1000 + 7919 * i) % 50000 for i in range(301)]
    canister = np.array(served[dtype].logits(tokens))
    reference = reference_last_logits(tiny_f32 if dtype == "f32" else tiny_q8, tokens)
    if dtype == "f32":
        assert np.abs(canister - reference).max() < 1e-4
    else:
        assert np.corrcoef(canister, reference)[0, 1] > 0.9999
        assert np.abs(canister - reference).max() < 0.02 * np.abs(reference).max()
    assert canister.argmax() == reference.argmax()


@pytest.mark.parametrize("dtype", ["f32", "q8"])
def test_results_do_not_depend_on_what_earlier_calls_left_in_the_cache(served, dtype):
    # a long generate leaves keys and values far past a short prompt; the short prompt's logits
    # must come out bit for bit the same (positions past the query are masked, never read)
    canister, short = served[dtype], [(17 + 389 * i) % 50000 for i in range(13)]
    before = canister.logits(short)
    canister.generate([(1000 + 7919 * i) % 50000 for i in range(301)], max_new_tokens=2, stop=[])
    assert canister.logits(short) == before


def test_greedy_generation_equals_the_reference(served, tiny_f32, prompts):
    for prompt in prompts:
        reply = served["f32"].generate(prompt, max_new_tokens=8, stop=[])
        assert reply["tokens"] == reference_greedy(tiny_f32, prompt, 8)


def test_sampling_is_deterministic_per_seed(served, prompts):
    canister = served["f32"]
    runs = [canister.generate(prompts[0], max_new_tokens=12, temperature=1.0, top_k=40, seed=seed, stop=[])["tokens"]
            for seed in (1, 1, 2)]
    assert runs[0] == runs[1] and runs[0] != runs[2]
    top1 = canister.generate(prompts[0], max_new_tokens=6, temperature=0.8, top_k=1, seed=5, stop=[])["tokens"]
    assert top1 == canister.generate(prompts[0], max_new_tokens=6, stop=[])["tokens"]


def test_generation_stops_at_a_stop_token(served, prompts):
    first = served["f32"].generate(prompts[1], max_new_tokens=1, stop=[])["tokens"][0]
    assert served["f32"].generate(prompts[1], max_new_tokens=8, stop=[first])["tokens"] == [first]


@pytest.mark.parametrize("dtype", ["f32", "q8"])
def test_instruction_counts_are_reported_and_the_prompt_pass_shares_work(served, dtype):
    canister = served[dtype]
    single = canister.generate([464], max_new_tokens=5, stop=[])
    assert len(single["token_instructions"]) == 4 and all(n > 0 for n in single["token_instructions"])
    assert single["instructions"] >= single["prompt_instructions"] + sum(single["token_instructions"])
    long = canister.generate([464] * 16, max_new_tokens=1, stop=[])
    # one pass over 16 tokens computes the LM head once, not 16 times
    assert long["prompt_instructions"] < 16 * min(single["token_instructions"])
