"""icchat.chat.sampling, the gpt2 canister's sampler in Python: what it chooses (its equality with
sampling.c and web/sampler.mjs is tests/engine/test_sampler_parity.py)."""

from __future__ import annotations

import math
import random
from collections import Counter

import pytest

from icchat.chat.sampling import argmax, draw_at, next_token, sample


def test_the_draw_is_splitmix64_output_position_plus_one():
    # splitmix64 seeded with 0 (Vigna's reference): the first outputs are well known
    reference = [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F]
    assert [draw_at(0, pos) for pos in range(3)] == [(x >> 40) / 2**24 for x in reference]
    draws = [draw_at(1234567, pos) for pos in range(10_000)]
    assert all(0.0 <= u < 1.0 for u in draws)
    assert abs(sum(draws) / len(draws) - 0.5) < 0.01
    assert draw_at((1 << 64) - 1, 5) != draw_at(0, 5) != draw_at(0, 6)


def random_logits(seed: int, n: int = 1000) -> list[float]:
    r = random.Random(seed)
    return [r.gauss(0.0, 2.0) for _ in range(n)]


def test_greedy_is_the_first_argmax_and_top_k_1_equals_greedy():
    assert argmax([0.5, 3.0, -1.0, 3.0, math.nan, 2.0]) == 1
    for seed in range(20):
        values = random_logits(seed)
        best = max(range(len(values)), key=lambda i: (values[i], -i))
        assert next_token(values, 0.0, 0, 1.0, seed, 5) == best
        assert next_token(values, 1.3, 1, 1.0, seed, 5) == best


def test_nan_never_wins_but_hides_what_follows_it_in_its_simd_lane():
    assert argmax([math.nan] * 3) == 0
    assert argmax([1.0, math.nan, 2.0, 1.0, -math.inf, 2.0]) == 2
    values = [0.0] * 40
    values[1], values[5], values[20] = math.nan, 9.0, 8.0  # 5 is in 1's lane of the first 16: unseen
    assert argmax(values) == 20


def test_seeded_sampling_is_reproducible_and_seeds_and_positions_differ():
    values = random_logits(1)

    def run(seed: int, start: int = 0) -> list[int]:
        return [next_token(values, 1.0, 50, 0.9, seed, pos) for pos in range(start, start + 100)]

    assert run(42) == run(42)
    assert run(42) != run(43)
    assert run(42)[10:] == run(42, 10)[:90]  # a function of (seed, position): no state between calls


def frequencies(logits, temperature, top_p, top_k=0, draws=20_000, seed=9) -> dict[int, float]:
    counts = Counter(sample(logits, temperature, top_k, top_p, draw_at(seed, pos)) for pos in range(draws))
    return {i: c / draws for i, c in counts.items()}


def test_distribution_matches_softmax_with_temperature():
    logits = [2.0, 1.0, 0.0, -1.0]
    for temperature in (1.0, 0.5, 2.0):
        weights = [math.exp(v / temperature) for v in logits]
        expected = [w / sum(weights) for w in weights]
        got = frequencies(logits, temperature, 1.0)
        for i, p in enumerate(expected):
            assert got.get(i, 0.0) == pytest.approx(p, abs=0.015), (temperature, i)


def test_top_p_keeps_the_smallest_set_reaching_p_and_what_ties_with_its_last():
    logits = [math.log(4), math.log(2), 0.0, 0.0]  # probabilities 0.5, 0.25, 0.125, 0.125
    got = frequencies(logits, 1.0, 0.7)  # 0.5 + 0.25 reaches 0.7: two tokens, renormalized
    assert set(got) == {0, 1}
    assert got[0] == pytest.approx(2 / 3, abs=0.015)
    assert set(frequencies(logits, 1.0, 0.8)) == {0, 1, 2, 3}  # needs the third; the fourth ties with it
    assert frequencies(logits, 1.0, 0.4) == {0: 1.0}


def test_top_k_restricts_to_the_k_largest():
    values = random_logits(3, 500)
    top5 = set(sorted(range(500), key=lambda i: -values[i])[:5])
    assert set(frequencies(values, 5.0, 1.0, top_k=5, draws=500)) == top5


def test_settings_the_canister_refuses_are_refused():
    for temperature in (-0.1, 100.5, math.nan):
        with pytest.raises(ValueError, match="temperature must be between 0 and 100"):
            next_token([1.0, 2.0], temperature, 0, 1.0, 0, 0)
    for top_p in (0.0, 1.5):
        with pytest.raises(ValueError, match="top_p must be greater than 0 and at most 1"):
            next_token([1.0, 2.0], 1.0, 0, top_p, 0, 0)
