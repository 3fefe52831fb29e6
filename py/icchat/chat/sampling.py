"""Choosing the next token: greedy, temperature, top-k, top-p, with a seeded splitmix64.

The algorithm is defined here once, over *candidates*: the top-k logits sorted by value
(descending; equal values: the lower token id first). Finding candidates among 50,257 logits
is the heavy part, so it sits behind `Logits` (JS on the device: web/kernels.mjs; numpy or
pure Python on the host), and the same seed gives the same tokens in CPython and Pyodide.

For one token, given the top-k candidates (id_j, v_j) in candidate order, v_0 the largest:
1. temperature 0: the first id of the largest logit (argmax), no random number drawn.
2. w = exp((v - v_0) / temperature) for each candidate, in float64.
3. total = the sum of all w in id order (ascending token id).
   top_p = 1: every candidate is kept, scanned in id order, kept_total = total.
   top_p < 1: walk the candidates in candidate order adding w until the running sum reaches
   top_p * total: those candidates are kept, in that order, and kept_total is that running sum.
4. u = the next random double in [0, 1); the token is the first kept id whose running sum (in
   the kept order) exceeds u * kept_total, or the last kept one if rounding leaves none.
Sums run left to right in float64 everywhere. Summing in id order means that temperature-only
sampling over the whole vocabulary (top_k 0, top_p 1) needs no sort. For k <= SMALL_K (the
usual top-k) Python does steps 2-4 over the k candidates; for larger k `Logits.sample` does the
same steps where the logits live (web/kernels.mjs, numpy), handed u, so Python never loops over
50,257 logits.
The random source is splitmix64 (state += 0x9e3779b97f4a7c15, then the usual mix; the gpt2
canister's sampler uses the same generator), u = (next >> 11) / 2**53, state = seed at start,
one draw per sampled token (none when greedy): the reply's j-th new token (from 0) uses
splitmix64(seed)'s output j + 1.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from typing import Protocol

from icchat.chat.settings import Settings

MASK64 = (1 << 64) - 1
SMALL_K = 256  # up to this many candidates the arithmetic runs in Python


class SplitMix64:
    """A tiny 64-bit PRNG that gives the same numbers on every platform."""

    def __init__(self, seed: int) -> None:
        self.state = seed & MASK64

    def next_u64(self) -> int:
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)

    def uniform(self) -> float:
        """A double in [0, 1) with 53 random bits."""
        return (self.next_u64() >> 11) / 9007199254740992.0


class Logits(Protocol):
    """One position's logits, wherever they live."""

    n_vocab: int

    def argmax(self) -> int:
        """The first index of the largest value (NaN never wins)."""
        ...

    def top(self, k: int) -> list[tuple[int, float]]:
        """The k largest (id, value) pairs in candidate order (NaN counts as -inf)."""
        ...

    def sample(self, k: int, temperature: float, top_p: float, u: float) -> int:
        """Steps 2-4 over the top k, done where the logits live (for k > SMALL_K)."""
        ...


class ListLogits:
    """Logits held as a Python sequence: the reference implementation (tests, small hosts)."""

    def __init__(self, values: Sequence[float]) -> None:
        self.values = values
        self.n_vocab = len(values)

    def argmax(self) -> int:
        return self.top(1)[0][0]

    def top(self, k: int) -> list[tuple[int, float]]:
        # NaN counts as -inf so it never wins; the key makes ties go to the lower id
        vals = [-math.inf if v != v else float(v) for v in self.values]
        best = heapq.nlargest(k, range(len(vals)), key=lambda i: (vals[i], -i))
        return [(i, vals[i]) for i in best]

    def sample(self, k: int, temperature: float, top_p: float, u: float) -> int:
        return sample_candidates(self.top(k), temperature, top_p, u)


def choose_token(logits: Logits, settings: Settings, rng: SplitMix64) -> int:
    """The next token under `settings` (see the module docstring for the exact steps)."""
    if settings.greedy:
        return logits.argmax()
    k = settings.top_k if 0 < settings.top_k < logits.n_vocab else logits.n_vocab
    u = rng.uniform()
    if k <= SMALL_K:
        return sample_candidates(logits.top(k), settings.temperature, settings.top_p, u)
    return logits.sample(k, settings.temperature, settings.top_p, u)


def sample_candidates(candidates: list[tuple[int, float]], temperature: float, top_p: float,
                      u: float) -> int:
    """Steps 2-4 over candidates in candidate order (see the module docstring)."""
    top = candidates[0][1]
    if not math.isfinite(top):  # every logit -inf/NaN (or +inf): the first candidate
        return candidates[0][0]
    inverse = 1.0 / temperature
    exp = math.exp
    weight = {i: exp((v - top) * inverse) for i, v in candidates}
    by_id = sorted(weight)
    total = sum_left_to_right([weight[i] for i in by_id])
    if top_p >= 1.0:
        return inverse_cdf(by_id, weight, total, u)
    goal, running, kept = top_p * total, 0.0, len(candidates)
    for j, (i, _) in enumerate(candidates):
        running += weight[i]
        if running >= goal:
            kept = j + 1
            break
    return inverse_cdf([i for i, _ in candidates[:kept]], weight, running, u)


def inverse_cdf(ids: list[int], weight: dict[int, float], total: float, u: float) -> int:
    target, running = u * total, 0.0
    for i in ids:
        running += weight[i]
        if running > target:
            return i
    return ids[-1]


def sum_left_to_right(values: list[float]) -> float:
    total = 0.0
    for v in values:
        total += v
    return total
