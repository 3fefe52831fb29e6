"""Choosing the next token: ONE sampler for every engine, the gpt2 canister's.

The algorithm is canister/gpt2/sampling.c's, and it is the only one: the icchat engine runs that C
code (web/engine.mjs), onnxruntime-web's engine runs the same C over its logits (compiled alone as
icchat-sampler.wasm, loaded by web/sampler.mjs; host engines run that module in wasmtime,
icchat.model.c_sampler), and this module is the same algorithm in Python, bit for bit, for Python
code without a WASM runtime. For the same logits, settings, seed and position they choose the same
token (tests/engine's test_sampler_parity.py), so a seed means the same thing on every engine and
on chain.

For one token, from the float32 logits of the position before it:
1. temperature 0: argmax, the first index of the largest logit (NaN never wins). Nothing drawn.
2. top_k in (0, n): the k-th largest logit is the floor; logits below it get weight 0.
3. w = exp((logit - max) / temperature) in float32 (mathf.c's polynomial exp), summed in float32.
4. top_p < 1: the nucleus floor, the largest w whose weights >= it sum to at least top_p * total
   (ties with it are kept); smaller weights become 0 and the total is summed again.
5. u = draw_at(seed, position): output position + 1 of splitmix64 seeded with `seed`, top 24
   bits over 2^24 (a function of (seed, position) alone: no generator state between calls). The
   token is the first id whose running sum (ascending ids) exceeds u * total; the argmax if
   rounding leaves none.
Bit for bit: every float32 operation of the C code is one rounding here (`_f32`), in the C code's
order, down to its SIMD lanes where they decide a sum (the weights of the first n - n % 4 ids
are summed in four lanes, id mod 4) or a maximum (argmax's pmax, where a NaN hides the logits after
it in its lane). Pure Python (stdlib only): the float32 rounding of whole vectors goes through
array("f").
"""

from __future__ import annotations

import math
import operator
from array import array
from collections.abc import Sequence

MASK64 = (1 << 64) - 1

_ONE = array("f", [0.0])


def _f32(x: float) -> float:
    """x rounded to float32 (as C's float arithmetic rounds each result)."""
    _ONE[0] = x
    return _ONE[0]


def _f32s(values: Sequence[float]) -> list[float]:
    """Each value rounded to float32, at C speed (give a list: a generator is read slowly)."""
    return array("f", values).tolist()


# mathf.h's constants, as float32
LOG2E = _f32(1.44269504)
LN2_HI = _f32(0.693145752)
LN2_LO = _f32(1.42860677e-6)
POLY = _f32s([1 / 720, 1 / 120, 1 / 24, 1 / 6, 0.5, 1.0, 1.0])  # Horner, highest degree first
FLT_MIN = _f32(1.17549435e-38)
EXP_MIN, EXP_MAX = _f32(-87.3), _f32(88.7)
GREEDY_INVERSE = _f32(3e38)


def draw_at(seed: int, position: int) -> float:
    """sampling.c's draw_at: the uniform draw in [0, 1) for the token at absolute `position`."""
    z = (seed + ((position & 0xFFFFFFFF) + 1) * 0x9E3779B97F4A7C15) & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    z ^= z >> 31
    return (z >> 40) / 16777216.0


def _pmax(a: float, b: float) -> float:  # wasm's f32x4.pmax: b only when a < b (NaN: a)
    return b if a < b else a


def _pmin(a: float, b: float) -> float:
    return b if b < a else a


def _nearest(x: float) -> float:
    """wasm's f32.nearest (round half to even; Python's round does the same)."""
    return float(round(x)) if math.isfinite(x) else x


def argmax(logits: Sequence[float]) -> int:
    """sampling.c's argmax: the first index of the largest logit as its SIMD code finds it; 0 if
    every logit is NaN."""
    n = len(logits)
    if not any(v != v for v in logits):  # no NaN: the pmax chain is the plain maximum
        best = max(logits, default=0.0)
        return logits.index(best) if n else 0
    lanes = [-math.inf] * 4
    i = 0
    while i + 16 <= n:
        for lane in range(4):
            a = _pmax(logits[i + lane], logits[i + 4 + lane])
            b = _pmax(logits[i + 8 + lane], logits[i + 12 + lane])
            lanes[lane] = _pmax(lanes[lane], _pmax(a, b))
        i += 16
    top = _pmax(_pmax(lanes[0], lanes[2]), _pmax(lanes[1], lanes[3]))
    for v in logits[i:]:
        if v > top:
            top = v
    return next((j for j, v in enumerate(logits) if v == top), 0)


def _expf4(xs: list[float]) -> list[float]:
    """mathf.h's gpt2_expf4 over a vector: inputs clamped to [-87, 88] (pmin, then pmax: NaN stays)."""
    xs = [88.0 if x > 88.0 else (-87.0 if x < -87.0 else x) for x in xs]
    ks = [float(round(y)) if y == y else y for y in _f32s([x * LOG2E for x in xs])]
    highs = _f32s(list(map(operator.sub, xs, _f32s([k * LN2_HI for k in ks]))))
    rs = _f32s(list(map(operator.sub, highs, _f32s([k * LN2_LO for k in ks]))))
    return _f32s([p * 2.0 ** k for p, k in zip(_poly(rs), ks, strict=True)])


def _poly(rs: list[float]) -> list[float]:
    ps = [POLY[0]] * len(rs)
    for c in POLY[1:]:
        ps = _f32s([m + c for m in _f32s(list(map(operator.mul, ps, rs)))])
    return ps


def _expf(x: float) -> float:
    """mathf.c's gpt2_expf (scalar; for the ids past the last multiple of four)."""
    if x < EXP_MIN:
        return 0.0
    if x > EXP_MAX:
        return math.inf
    if x != x:  # NaN (inf - inf): C's saturating int conversion makes the scale 1, the result NaN
        return x
    k = _nearest(_f32(x * LOG2E))
    p = _poly([_f32(_f32(x - _f32(k * LN2_HI)) - _f32(k * LN2_LO))])[0]
    e = int(k)
    if e < -126:  # a subnormal result: scaled in two steps
        p, e = _f32(p * FLT_MIN), e + 126
    return _f32(p * (math.inf if e > 127 else 2.0 ** e))  # k = 128 (x just below 88.7): C's scale bits are +inf's


# ---- selection (sampling.c's quickselect: the same pivots, partitions and sums) ----

def _median3(a: float, b: float, c: float) -> float:
    if a > b:
        a, b = b, a
    if b > c:
        b = c
    return a if a > b else b


def _pivot(a: list[float], lo: int, hi: int) -> float:
    return _median3(a[lo], a[lo + (hi - lo) // 2], a[hi - 1])


def _partition3(a: list[float], lo: int, hi: int, p: float) -> tuple[int, int]:
    """a[lo, hi) around p: [lo, gt) above p, [gt, lt) equal (or NaN), [lt, hi) below."""
    g = i = lo
    ll = hi
    while i < ll:
        v = a[i]
        if v > p:
            a[i] = a[g]
            a[g] = v
            i += 1
            g += 1
        elif v < p:
            ll -= 1
            a[i] = a[ll]
            a[ll] = v
        else:
            i += 1
    return g, ll


def _kth_largest(a: list[float], k: int) -> float:
    lo, hi = 0, len(a)
    while True:
        p = _pivot(a, lo, hi)
        gt, lt = _partition3(a, lo, hi, p)
        above, equal = gt - lo, lt - gt
        if k <= above:
            hi = gt
        elif k <= above + equal:
            return p
        else:
            k -= above + equal
            lo = lt


def _nucleus_floor(a: list[float], target: float) -> float:
    lo, hi = 0, len(a)
    above = 0.0  # the sum of the weights known to be larger than a[lo, hi)
    while lo < hi:
        p = _pivot(a, lo, hi)
        gt, lt = _partition3(a, lo, hi, p)
        larger = _running_sum(a[lo:gt])
        equal = _f32(p * (lt - gt))
        if gt > lo and _f32(above + larger) >= target:
            hi = gt
        elif _f32(_f32(above + larger) + equal) >= target:
            return p
        else:
            above = _f32(above + _f32(larger + equal))
            lo = lt
    return 0.0  # rounding left target above the total: keep everything


def _running_sum(values: Sequence[float], total: float = 0.0) -> float:
    for v in values:
        total = _f32(total + v)
    return total


def sample(logits: Sequence[float], temperature: float, top_k: int, top_p: float, u: float) -> int:
    """sampling.c's sample: temperature > 0, top_k 0 or >= n (no cut), top_p in (0, 1], u from
    draw_at. `logits`: float32 values (a list, array("f"), ...); not modified."""
    values = _f32s(logits)
    n = len(values)
    temperature, top_p = _f32(temperature), _f32(top_p)
    floor = -math.inf
    if top_k and top_k < n:
        floor = _kth_largest(list(values), top_k)
    best = argmax(values)
    top, inverse = values[best], _f32(1.0 / temperature) if temperature else math.inf
    if inverse > GREEDY_INVERSE:  # a temperature this close to 0 is greedy
        return best
    whole = n - n % 4  # C's SIMD loop: four lanes, id mod 4; then the rest one by one
    shifted = _f32s([v - top for v in values[:whole]])
    exps = _expf4(_f32s([d * inverse for d in shifted]))
    weights = [e if v >= floor else 0.0 for e, v in zip(exps, values, strict=False)]
    weights += [_expf(_f32(_f32(v - top) * inverse)) if v >= floor else 0.0 for v in values[whole:]]
    lanes = [_running_sum(weights[lane:whole:4]) for lane in range(4)]
    total = _running_sum(weights[whole:])
    total = _f32(total + _f32(_f32(_f32(lanes[0] + lanes[1]) + lanes[2]) + lanes[3]))
    if top_p < 1.0:  # nucleus: zero the weights below the floor, then sum again
        keep = _nucleus_floor(list(weights), _f32(top_p * total))
        weights = [w if w >= keep else 0.0 for w in weights]
        total = _running_sum(weights)
    target, running = _f32(u * total), 0.0
    for i, w in enumerate(weights):
        running = _f32(running + w)
        if running > target:
            return i
    # the scan's sum rounded just below target (the total was summed in another order): the most
    # likely token, not the last one
    return best


def next_token(logits: Sequence[float], temperature: float, top_k: int, top_p: float, seed: int,
               position: int) -> int:
    """The token at absolute `position` as the gpt2 canister chooses it (chat.c next_token):
    argmax at temperature 0, else sample() with draw_at(seed, position). Raises ValueError on
    settings the canister refuses."""
    t, p = _f32(temperature), _f32(top_p)
    if not t >= 0.0 or t > 100.0:
        raise ValueError("temperature must be between 0 and 100")
    if not (0.0 < p <= 1.0):
        raise ValueError("top_p must be greater than 0 and at most 1")
    if t == 0.0:
        return argmax(_f32s(logits))
    return sample(logits, t, top_k & 0xFFFFFFFF, p, draw_at(seed & MASK64, position))
