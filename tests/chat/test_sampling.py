from __future__ import annotations

import math
import random
from collections import Counter

import pytest

from icchat.chat import ListLogits, Settings, SplitMix64, choose_token
from icchat.chat.sampling import sample_candidates


def test_splitmix64_matches_the_reference_sequence():
    # splitmix64 seeded with 0 (Vigna's reference): the first outputs are well known
    rng = SplitMix64(0)
    assert [rng.next_u64() for _ in range(3)] == [
        0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F]
    rng = SplitMix64(1234567)
    values = [rng.uniform() for _ in range(10_000)]
    assert all(0.0 <= v < 1.0 for v in values)
    assert abs(sum(values) / len(values) - 0.5) < 0.01


def random_logits(seed: int, n: int = 1000) -> list[float]:
    r = random.Random(seed)
    return [r.gauss(0.0, 2.0) for _ in range(n)]


def test_greedy_is_the_first_argmax_and_top_k_1_equals_greedy():
    values = [0.5, 3.0, -1.0, 3.0, float("nan"), 2.0]
    logits = ListLogits(values)
    assert logits.argmax() == 1
    rng = SplitMix64(5)
    assert choose_token(logits, Settings(temperature=0), rng) == 1
    assert rng.state == 5  # greedy draws no random number
    for seed in range(50):
        values = random_logits(seed)
        best = max(range(len(values)), key=lambda i: (values[i], -i))
        assert choose_token(ListLogits(values), Settings(temperature=0), SplitMix64(seed)) == best
        assert choose_token(ListLogits(values), Settings(temperature=1.3, top_k=1, top_p=1.0),
                            SplitMix64(seed)) == best


def test_top_orders_by_value_then_id_and_nan_never_wins():
    logits = ListLogits([1.0, float("nan"), 2.0, 1.0, -math.inf, 2.0])
    assert logits.top(4) == [(2, 2.0), (5, 2.0), (0, 1.0), (3, 1.0)]
    assert logits.top(6)[-2:] == [(1, -math.inf), (4, -math.inf)]  # NaN ranks as -inf
    assert ListLogits([float("nan")] * 3).argmax() == 0


def test_seeded_sampling_is_reproducible_and_seeds_differ():
    values = random_logits(1)
    settings = Settings(temperature=1.0, top_k=50, top_p=0.9)

    def run(seed: int) -> list[int]:
        rng = SplitMix64(seed)
        return [choose_token(ListLogits(values), settings, rng) for _ in range(200)]

    assert run(42) == run(42)
    assert run(42) != run(43)


def frequencies(candidates, temperature, top_p, draws=40_000, seed=9) -> dict[int, float]:
    rng = SplitMix64(seed)
    counts = Counter(sample_candidates(candidates, temperature, top_p, rng.uniform())
                     for _ in range(draws))
    return {i: c / draws for i, c in counts.items()}


def test_distribution_matches_softmax_with_temperature():
    logits = [2.0, 1.0, 0.0, -1.0]
    candidates = sorted(enumerate(logits), key=lambda c: -c[1])
    for temperature in (1.0, 0.5, 2.0):
        weights = [math.exp(v / temperature) for v in logits]
        expected = [w / sum(weights) for w in weights]
        got = frequencies(candidates, temperature, 1.0)
        for i, p in enumerate(expected):
            assert got.get(i, 0.0) == pytest.approx(p, abs=0.01), (temperature, i)


def test_top_p_keeps_the_smallest_prefix_reaching_p():
    # softmax of these = 0.5, 0.25, 0.125, 0.125 (exactly, as powers of two)
    logits = [math.log(4), math.log(2), 0.0, 0.0]
    candidates = sorted(enumerate(logits), key=lambda c: (-c[1], c[0]))
    got = frequencies(candidates, 1.0, 0.75)  # 0.5 + 0.25 reaches 0.75: two tokens, renormalized
    assert set(got) == {0, 1}
    assert got[0] == pytest.approx(2 / 3, abs=0.01)
    got = frequencies(candidates, 1.0, 0.76)  # needs the third
    assert set(got) == {0, 1, 2}
    assert frequencies(candidates, 1.0, 0.4) == {0: 1.0}


def test_top_k_restricts_to_the_k_largest():
    values = random_logits(3, 500)
    top5 = {i for i, _ in ListLogits(values).top(5)}
    rng = SplitMix64(1)
    seen = {choose_token(ListLogits(values), Settings(temperature=5.0, top_k=5, top_p=1.0), rng)
            for _ in range(500)}
    assert seen == top5
