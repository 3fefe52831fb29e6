"""Every gpt2 kernel equals its naive reference (canister/gpt2/kernels_ref.c) bit for bit, in every
build it ships in: the gpt2 canister's (kernels.c, SIMD128), and the icchat engine's SIMD128 and
relaxed-SIMD modules (adding kernels_browser.c's int8-row products: widened, and relaxed_dot over
u7 planes). Shapes are seeded random ones plus the edges: one row, rows not a multiple of 4 or 8,
one token, tokens not a multiple of 8, inner size of one block, the largest |x|, all-zero rows and
tokens, weights at the int8 extremes (-128, 127) against activations at their bound.
The threaded products are checked in test_kernels_threads.py."""

from __future__ import annotations

import numpy as np
import pytest
from kernel_check_wasm import KernelModule, assert_same_bits

f32, i8, i16, i32, u8 = np.float32, np.int8, np.int16, np.int32, np.uint8
Q8_WIDEN, Q8_RELAXED = 0, 1
SEED = 27


def rng(*key: int) -> np.random.Generator:
    return np.random.default_rng([SEED, *key])


def activations(r: np.random.Generator, shape: tuple[int, ...], kind: str) -> np.ndarray:
    """normal; zero (all 0); large (|x| ~ 1e15, products ~ 1e30); spike (one |x| 1e4 times the rest)."""
    x = r.standard_normal(shape).astype(f32)
    if kind == "zero":
        return np.zeros(shape, f32)
    if kind == "large":
        return (x * f32(1e15)).astype(f32)
    if kind == "spike":
        x.flat[r.integers(x.size)] = f32(3e4)
    return x


def padded(values: np.ndarray) -> np.ndarray:
    """Per-row values (scale, bias) padded to a multiple of 4 rows: the q16 kernels read them in fours."""
    return np.concatenate([values, np.zeros(-len(values) % 4, values.dtype)])


# ---- f32 products: (rows, n, T) ----
# one row; rows in fours and not (the last rows % 4 add across blocks differently); one 128-column
# block, one 768-column block, 768 + 128, several of each; 1 token, a batch of 8, 8 + 1, 16 + 1
F32_EDGES = [(1, 128, 1), (3, 128, 2), (5, 256, 1), (7, 896, 3), (4, 768, 8), (13, 1664, 9), (6, 256, 17),
             (8, 128, 16), (2, 1536, 8), (9, 640, 11)]
F32_RANDOM = [(int(r), 128 * int(b), int(t)) for r, b, t in zip(rng(0).integers(1, 40, 8), rng(1).integers(1, 14, 8),
                                                               rng(2).integers(1, 20, 8), strict=True)]


def f32_case(rows: int, n: int, T: int, kind: str, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r = rng(3, seed)
    w = (r.standard_normal((rows, n)) * 0.05).astype(f32)
    x = activations(r, (T, n), kind)
    bias = r.standard_normal(rows).astype(f32)
    if kind == "large":
        w *= f32(1e15)
    if rows > 2:
        w[rows // 2] = 0  # an all-zero row: its sums are +0 or -0 as the kernel adds them
    return w, x, bias


def run_f32(m: KernelModule, export: str, w: np.ndarray, x: np.ndarray, bias: np.ndarray, *extra: int) -> np.ndarray:
    rows, n = w.shape
    T = len(x)
    out = m.zeros(f32, T * rows)
    m.call(export, out, m.put(w), m.put(x), m.put(bias), rows, n, *extra)
    return m.get(out, f32, T * rows)


@pytest.mark.parametrize("kind", ["normal", "large", "spike"])
@pytest.mark.parametrize(("rows", "n", "T"), F32_EDGES + F32_RANDOM)
def test_f32_products(kernels, rows, n, T, kind):
    m = kernels
    m.reset()
    w, x, bias = f32_case(rows, n, T, kind, rows * 100000 + n * 100 + T)
    ref = run_f32(m, "ref_matmul_f32", w, x, bias, T)
    assert_same_bits(run_f32(m, "fast_matmul_f32", w, x, bias, T), ref, "matmul_f32")
    for t in sorted({0, T - 1}):  # one token alone: matvec_f32 (and the engine's matvec_f32_rows)
        alone = run_f32(m, "ref_matmul_f32", w, x[t:t + 1], bias, 1)
        assert_same_bits(run_f32(m, "fast_matvec_f32", w, x[t:t + 1], bias), alone, f"matvec_f32, token {t}")
        if m.has("fast_matvec_f32_rows"):
            assert_same_bits(run_f32(m, "fast_matvec_f32_rows", w, x[t:t + 1], bias), alone, f"matvec_f32_rows, token {t}")
        if t < T // 8 * 8 and rows % 4 == 0:  # a batched token equals itself alone when its rows come in fours
            assert_same_bits(ref[t * rows:(t + 1) * rows], alone, f"token {t} batched vs alone")


def test_a_batched_token_is_not_always_itself_alone(kernels):
    """matmul_f32 reduces each 128/768-column block of a batched token's row before adding blocks,
    matvec_f32 adds the last rows % 4 rows lane by lane across blocks: the reference reproduces
    both, and they do differ (so rows not in fours are not batch-independent; GPT-2's are in fours)."""
    m = kernels
    m.reset()
    w, x, bias = f32_case(7, 1664, 8, "normal", 1)
    batched = run_f32(m, "ref_matmul_f32", w, x, bias, 8)[:7]
    alone = run_f32(m, "ref_matmul_f32", w, x[:1], bias, 1)
    assert np.array_equal(batched[:4], alone[:4])
    assert not np.array_equal(batched[4:], alone[4:])


# ---- q8 products: (rows, n, T); n a multiple of 128 (the q16 kernels' block) ----
Q8_EDGES = [(1, 128, 1), (3, 128, 8), (5, 256, 9), (8, 768, 8), (13, 3072, 2), (12, 2048, 17), (4, 128, 3),
            (6, 896, 1), (16, 1024, 16)]
Q8_RANDOM = [(int(r), 128 * int(b), int(t)) for r, b, t in zip(rng(4).integers(1, 40, 8), rng(5).integers(1, 16, 8),
                                                               rng(6).integers(1, 20, 8), strict=True)]


def q8_case(rows: int, n: int, T: int, kind: str, seed: int):
    """int8 weights over their whole range, one scale per row; 'extremes': rows of -128 and of 127
    against tokens at the activation bound (every q = ±limit: the largest exact sums); 'tiny':
    tokens outside the exact range (docs/kernels.md)."""
    r = rng(7, seed)
    w = r.integers(-128, 128, (rows, n), dtype=i8)
    scale = (r.random(rows) * 0.02 + 1e-3).astype(f32)
    bias = r.standard_normal(rows).astype(f32)
    if kind == "extremes":
        w[0::2] = -128
        w[1::2] = 127
        x = np.where(r.random((T, n)) < 0.5, f32(-7.5), f32(7.5)).astype(f32)
        x[0] = 7.5
    elif kind == "tiny":  # max |x| below limit / FLT_MAX: q saturates at ±32767, past the exact range
        x = (activations(r, (T, n), "normal") * f32(1e-37)).astype(f32)
    else:
        x = activations(r, (T, n), "large" if kind == "large" else "spike" if kind == "spike" else "normal")
    if rows > 2:
        w[rows // 2] = 0
    if T > 2:
        x[T // 2] = 0  # an all-zero token: scale 0
    return w, padded(scale), x, padded(bias)


def run_q8(m: KernelModule, export: str, w, scale, x, bias, *extra: int, fill: float = 0.0) -> np.ndarray:
    rows, n = w.shape
    T = len(x)
    out = m.put(np.full(T * rows, fill, f32))
    m.call(export, out, m.put(w), m.put(scale), m.put(x), m.put(bias), rows, n, *extra)
    return m.get(out, f32, T * rows)


@pytest.mark.parametrize("kind", ["normal", "large", "spike", "extremes", "tiny"])
@pytest.mark.parametrize(("rows", "n", "T"), Q8_EDGES + Q8_RANDOM)
def test_q16_products(kernels, rows, n, T, kind):
    m = kernels
    m.reset()
    w, scale, x, bias = q8_case(rows, n, T, kind, rows * 100000 + n * 100 + T)
    ref = run_q8(m, "ref_matmul_q8", w, scale, x, bias, T)
    assert_same_bits(run_q8(m, "fast_matmul_q16", w, scale, x, bias, T), ref, "matmul_q16")
    for t in sorted({0, T - 1}):
        assert_same_bits(run_q8(m, "fast_matvec_q16", w, scale, x[t:t + 1], bias), ref[t * rows:(t + 1) * rows],
                         f"matvec_q16, token {t}")


Q8_ROWS_EDGES = [(1, 16, 1), (3, 48, 5), (5, 144, 4), (9, 768, 9), (4, 16, 8)]  # n a multiple of 16 only


@pytest.mark.parametrize("kind", ["normal", "large", "extremes", "tiny"])
@pytest.mark.parametrize(("rows", "n", "T"), Q8_EDGES + Q8_RANDOM + Q8_ROWS_EDGES)
def test_q8_rows_products(browser_kernels, rows, n, T, kind):
    """matmul_q8_rows over the int8 rows, with each kernel the build has, over all rows and over a
    range [r0, r1) as a thread takes it (rows outside the range stay untouched). Past the exact
    range ('tiny') only the widened kernel keeps the reference's sums: the relaxed one's planes
    saturate."""
    m = browser_kernels
    m.reset()
    w, scale, x, bias = q8_case(rows, n, T, kind, rows * 100000 + n * 100 + T)
    ref = run_q8(m, "ref_matmul_q8", w, scale, x, bias, T)
    untouched = f32(-1234.5)
    r0, r1 = int(rng(8, rows).integers(0, rows)), rows
    r1 = int(rng(9, rows).integers(r0 + 1, rows + 1))
    for kernel in [Q8_WIDEN, Q8_RELAXED] if m.call("check_relaxed") and kind != "tiny" else [Q8_WIDEN]:
        name = ["widened", "relaxed"][kernel]
        assert_same_bits(run_q8(m, "fast_matmul_q8_rows", w, scale, x, bias, T, 0, rows, kernel), ref,
                         f"matmul_q8_rows ({name})")
        part = run_q8(m, "fast_matmul_q8_rows", w, scale, x, bias, T, r0, r1, kernel, fill=untouched).reshape(T, rows)
        assert_same_bits(part[:, r0:r1], ref.reshape(T, rows)[:, r0:r1], f"matmul_q8_rows ({name}) rows {r0}..{r1}")
        outside = np.concatenate([part[:, :r0], part[:, r1:]], axis=1)
        assert (outside == untouched).all(), f"matmul_q8_rows ({name}) wrote outside rows {r0}..{r1}"


@pytest.mark.parametrize("kind", ["normal", "zero", "large", "spike", "tiny"])
@pytest.mark.parametrize(("n", "T"), [(16, 1), (768, 3), (3072, 2), (32, 5)])
def test_q8_quantize(browser_kernels, n, T, kind):
    """The activations every q8 product sees: int16 q, one scale per token, the u7 planes (relaxed).
    'tiny': |x| so small that limit / max overflows to inf (q saturates at ±32767)."""
    m = browser_kernels
    m.reset()
    x = activations(rng(10, n, T), (T, n), "normal" if kind == "tiny" else kind)
    if kind == "tiny":
        x = (x * f32(1e-39)).astype(f32)
    outputs = {}
    for side in ("fast", "ref"):
        q, scales, lo, hi = m.zeros(i16, T * n), m.zeros(f32, T), m.zeros(u8, T * n), m.zeros(u8, T * n)
        m.call(f"{side}_q8_quantize", q, scales, lo, hi, m.put(x), n, T)
        outputs[side] = (m.get(q, i16, T * n), m.get(scales, f32, T), m.get(lo, u8, T * n), m.get(hi, u8, T * n))
    (q, scales, lo, hi), (rq, rscales, rlo, rhi) = outputs["fast"], outputs["ref"]
    assert np.array_equal(q, rq)
    assert_same_bits(scales, rscales, "q8_quantize scales")
    assert np.array_equal(lo, rlo) and np.array_equal(hi, rhi)
    if kind != "tiny":
        assert np.abs(q.astype(np.int32)).max() <= 8191


def test_row_sums_and_quads(kernels):
    m = kernels
    rows, n = 13, 3072
    w = rng(11).integers(-128, 128, (rows, n), dtype=i8)
    w[0], w[1] = -128, 127
    for r in (0, 3, 4, 12):  # the quads layout read back: rows of a full group and of the padded last one
        m.reset()
        fast, ref = m.zeros(f32, n), m.zeros(f32, n)
        m.call("fast_quads_row", fast, m.put(w), rows, n, r, 0.25)
        m.call("ref_quads_row", ref, m.put(w), n, r, 0.25)
        assert_same_bits(m.get(fast, f32, n), m.get(ref, f32, n), f"quads_row {r}")
    if m.has("fast_q8_row_sums"):
        m.reset()
        fast, ref = m.zeros(i32, rows), m.zeros(i32, rows)
        m.call("fast_q8_row_sums", fast, m.put(w), rows, n)
        m.call("ref_q8_row_sums", ref, m.put(w), rows, n)
        sums = m.get(fast, i32, rows)
        assert np.array_equal(sums, m.get(ref, i32, rows))
        assert sums[0] == -128 * n and np.array_equal(sums, w.sum(axis=1, dtype=np.int64))


# ---- per-token steps ----

def run_both(m: KernelModule, name: str, n: int, inputs: list[np.ndarray], in_place: bool = False) -> None:
    outputs = []
    for side in ("fast", "ref"):
        ptrs = [m.put(a) for a in inputs]
        if in_place:
            m.call(f"{side}_{name}", *ptrs, n)
            outputs.append(m.get(ptrs[0], f32, n))
        else:
            out = m.zeros(f32, n)
            m.call(f"{side}_{name}", out, *ptrs, n)
            outputs.append(m.get(out, f32, n))
    assert_same_bits(outputs[0], outputs[1], name)


@pytest.mark.parametrize("n", [4, 8, 12, 64, 768, 3072])
def test_layernorm_gelu_add(kernels, n):
    m = kernels
    m.reset()
    r = rng(12, n)
    x = (r.standard_normal(n) * 3 + 5).astype(f32)
    run_both(m, "layernorm", n, [x, r.standard_normal(n).astype(f32), r.standard_normal(n).astype(f32)])
    run_both(m, "layernorm", n, [np.zeros(n, f32), np.ones(n, f32), np.zeros(n, f32)])  # variance 0
    wide = (r.standard_normal(n) * 4).astype(f32)
    extremes = np.array([-100, -20, -9.5, -0.0, 0, 1e-20, 9.5, 20, 100, 3e4, -3e4, 1e-3], f32)
    wide[:min(n, 12)] = extremes[:min(n, 12)]  # exp's clamp at both ends
    run_both(m, "gelu", n, [wide], in_place=True)
    run_both(m, "add_inplace", n, [x, wide], in_place=True)


# ---- attention of one head ----

@pytest.mark.parametrize("head_size", [64, 32, 16, 12, 8])  # 64 and 32: head_block; others the general path
@pytest.mark.parametrize("p", [0, 1, 2, 3, 4, 5, 7, 8, 31, 64])
def test_attention_head(kernels, head_size, p):
    m = kernels
    m.reset()
    r = rng(13, head_size, p)
    stride = 3 * 2 * head_size  # the model's qkv rows: q, k, v of two heads
    keys = r.standard_normal((p + 1, stride)).astype(f32)
    vals = r.standard_normal((p + 1, stride)).astype(f32)
    q = (r.standard_normal(head_size) * 4).astype(f32)  # sharp enough that e^(s - max) spans decades
    outs = []
    for side in ("fast", "ref"):
        out = m.zeros(f32, head_size)
        m.call(f"{side}_attention_head", m.put(q), m.put(keys), m.put(vals), stride, p, head_size, out)
        outs.append(m.get(out, f32, head_size))
    assert_same_bits(outs[0], outs[1], f"attention_head {head_size}, p {p}")


@pytest.mark.parametrize("head_size", [64, 32])
@pytest.mark.parametrize("p", [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 63, 100])
def test_attention_kv16(kernels, head_size, p):
    """Keys and values stored by kv16_store (tiles of four positions, pairs) at every position up
    to a multiple of 8 past p, as a KV slot holds earlier tokens, then one head attends at p."""
    m = kernels
    m.reset()
    r = rng(14, head_size, p)
    positions = (p + 2 + 7) // 8 * 8
    k = r.standard_normal((positions, head_size)).astype(f32)
    v = (r.standard_normal((positions, head_size)) * r.random((positions, 1)) * 3).astype(f32)
    q = (r.standard_normal(head_size) * 3).astype(f32)
    outs = []
    for side in ("fast", "ref"):
        out = m.zeros(f32, head_size)
        m.call(f"{side}_attention_kv16", out, m.put(q), m.put(k), m.put(v), positions, p, head_size)
        outs.append(m.get(out, f32, head_size))
    assert_same_bits(outs[0], outs[1], f"attention_head_kv16 {head_size}, p {p}")
