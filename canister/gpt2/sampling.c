/* sampling.c: greedy and temperature / top-k / top-p sampling, draws keyed by (seed, position). */
#include "sampling.h"

#include "mathf.h"
#include "rt.h"

float draw_at(uint64_t seed, uint32_t pos) {
  uint64_t z = seed + ((uint64_t)pos + 1) * 0x9e3779b97f4a7c15ull; /* splitmix64's state after pos + 1 steps */
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  return (float)(z >> 40) / 16777216.0f;
}

/* The first index of the largest logit (NaNs never win): the maximum with f32x4.pmax (cost 1),
 * then a scan for the first lane equal to it, 16 logits per test. */
uint32_t argmax(const float *logits, int n) {
  v128_t m = wasm_f32x4_splat(-__builtin_inff());
  int i = 0;
  for (; i + 16 <= n; i += 16) {
    v128_t a = wasm_f32x4_pmax(wasm_v128_load(logits + i), wasm_v128_load(logits + i + 4));
    v128_t b = wasm_f32x4_pmax(wasm_v128_load(logits + i + 8), wasm_v128_load(logits + i + 12));
    m = wasm_f32x4_pmax(m, wasm_f32x4_pmax(a, b));
  }
  m = wasm_f32x4_pmax(m, wasm_i32x4_shuffle(m, m, 2, 3, 0, 1));
  m = wasm_f32x4_pmax(m, wasm_i32x4_shuffle(m, m, 1, 0, 3, 2));
  float best = wasm_f32x4_extract_lane(m, 0);
  for (; i < n; i++)
    if (logits[i] > best) best = logits[i];
  v128_t b = wasm_f32x4_splat(best);
  for (i = 0; i + 16 <= n; i += 16) {
    v128_t hit = wasm_v128_or(wasm_v128_or(wasm_f32x4_eq(wasm_v128_load(logits + i), b), wasm_f32x4_eq(wasm_v128_load(logits + i + 4), b)),
                              wasm_v128_or(wasm_f32x4_eq(wasm_v128_load(logits + i + 8), b), wasm_f32x4_eq(wasm_v128_load(logits + i + 12), b)));
    if (wasm_v128_any_true(hit)) break;
  }
  for (; i < n; i++)
    if (logits[i] == best) return (uint32_t)i;
  return 0; /* every logit is NaN */
}

/* ---- selection (quickselect, deterministic pivots: expected O(n) for any k) ---- */

static float median3(float a, float b, float c) {
  if (a > b) { float t = a; a = b; b = t; }
  if (b > c) b = c;
  return a > b ? a : b;
}

/* Partition a[lo, hi) around p: [lo, *gt) above p, [*gt, *lt) equal (or NaN), [*lt, hi) below. */
static void partition3(float *a, int lo, int hi, float p, int *gt, int *lt) {
  int g = lo, i = lo, l = hi;
  while (i < l) {
    float v = a[i];
    if (v > p) {
      a[i++] = a[g];
      a[g++] = v;
    } else if (v < p) {
      a[i] = a[--l];
      a[l] = v;
    } else {
      i++;
    }
  }
  *gt = g;
  *lt = l;
}

static float pivot(const float *a, int lo, int hi) { return median3(a[lo], a[lo + (hi - lo) / 2], a[hi - 1]); }

/* The k-th largest of a[0, n) (1 ≤ k ≤ n); reorders a. */
static float kth_largest(float *a, int n, uint32_t k) {
  int lo = 0, hi = n;
  for (;;) {
    float p = pivot(a, lo, hi);
    int gt, lt;
    partition3(a, lo, hi, p, &gt, &lt);
    uint32_t above = (uint32_t)(gt - lo), equal = (uint32_t)(lt - gt);
    if (k <= above) {
      hi = gt;
    } else if (k <= above + equal) {
      return p;
    } else {
      k -= above + equal;
      lo = lt;
    }
  }
}

/* The largest w such that the weights ≥ w in a[0, n) sum to at least target; reorders a. */
static float nucleus_floor(float *a, int n, float target) {
  int lo = 0, hi = n;
  float above = 0.0f; /* sum of the weights known to be larger than a[lo, hi) */
  while (lo < hi) {
    float p = pivot(a, lo, hi), larger = 0.0f;
    int gt, lt;
    partition3(a, lo, hi, p, &gt, &lt);
    for (int i = lo; i < gt; i++) larger += a[i];
    if (gt > lo && above + larger >= target) {
      hi = gt;
    } else if (above + larger + p * (float)(lt - gt) >= target) {
      return p;
    } else {
      above += larger + p * (float)(lt - gt);
      lo = lt;
    }
  }
  return 0.0f; /* rounding left target above the total: keep everything */
}

uint32_t sample(float *logits, int n, float temperature, uint32_t top_k, float top_p, float u, float *scratch) {
  float floor = -__builtin_inff();
  if (top_k && top_k < (uint32_t)n) {
    memcpy(scratch, logits, (size_t)n * sizeof(float));
    floor = kth_largest(scratch, n, top_k);
  }
  uint32_t best = argmax(logits, n);
  float max = logits[best], sum = 0.0f;
  if (1.0f / temperature > 3e38f) return best; /* a temperature this close to 0 is greedy */
  /* weights exp((logit - max) / temperature), zero below the top-k floor; four at a time */
  v128_t shift = wasm_f32x4_splat(max), inverse = wasm_f32x4_splat(1.0f / temperature), cut = wasm_f32x4_splat(floor);
  v128_t sums = wasm_f32x4_splat(0.0f);
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    v128_t v = wasm_v128_load(logits + i);
    v128_t e = wasm_v128_and(gpt2_expf4(wasm_f32x4_mul(wasm_f32x4_sub(v, shift), inverse)), wasm_f32x4_ge(v, cut));
    wasm_v128_store(logits + i, e);
    sums = wasm_f32x4_add(sums, e);
  }
  for (; i < n; i++) {
    logits[i] = logits[i] >= floor ? gpt2_expf((logits[i] - max) * (1.0f / temperature)) : 0.0f;
    sum += logits[i];
  }
  sum += wasm_f32x4_extract_lane(sums, 0) + wasm_f32x4_extract_lane(sums, 1) + wasm_f32x4_extract_lane(sums, 2) +
         wasm_f32x4_extract_lane(sums, 3);
  if (top_p < 1.0f) { /* nucleus: zero the weights below the floor, then sum again */
    memcpy(scratch, logits, (size_t)n * sizeof(float));
    float keep = nucleus_floor(scratch, n, top_p * sum);
    sum = 0.0f;
    for (i = 0; i < n; i++) {
      if (logits[i] < keep) logits[i] = 0.0f;
      sum += logits[i];
    }
  }
  float target = u * sum, running = 0.0f;
  for (i = 0; i < n; i++) {
    running += logits[i];
    if (running > target) return (uint32_t)i;
  }
  /* the scan's sum rounded just below target (the total was summed in another order): the most
   * likely token, not the last one (far-below-max logits keep weights of ~1e-38, not 0) */
  return best;
}

const char *sampling_refusal(float temperature, float top_p) {
  if (!(temperature >= 0.0f) || temperature > 100.0f) return "temperature must be between 0 and 100";
  if (!(top_p > 0.0f && top_p <= 1.0f)) return "top_p must be greater than 0 and at most 1";
  return 0;
}

uint32_t choose_token(float *logits, int n, float temperature, uint32_t top_k, float top_p, uint64_t seed, uint32_t pos,
                      float *scratch) {
  if (temperature == 0.0f) return argmax(logits, n);
  return sample(logits, n, temperature, top_k, top_p, draw_at(seed, pos), scratch);
}
