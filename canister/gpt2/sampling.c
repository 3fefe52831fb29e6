/* sampling.c: greedy and temperature/top-k sampling with splitmix64. */
#include "sampling.h"

#include "mathf.h"

static uint64_t next_u64(rng *r) {
  uint64_t z = (r->state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static float uniform(rng *r) { return (float)(next_u64(r) >> 40) / 16777216.0f; } /* [0, 1) */

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

/* The k-th largest logit: top[0..k) holds the k largest seen so far, in ascending order. */
static float kth_largest(const float *logits, int n, uint32_t k, float *top) {
  uint32_t have = 0;
  for (int i = 0; i < n; i++) {
    float v = logits[i];
    uint32_t j;
    if (have < k) { /* insert */
      for (j = have++; j > 0 && top[j - 1] > v; j--) top[j] = top[j - 1];
    } else if (v > top[0]) { /* replace the smallest */
      for (j = 0; j + 1 < k && top[j + 1] < v; j++) top[j] = top[j + 1];
    } else {
      continue;
    }
    top[j] = v;
  }
  return top[0];
}

uint32_t sample(float *logits, int n, float temperature, uint32_t top_k, rng *r) {
  float floor = -__builtin_inff();
  if (top_k && top_k < (uint32_t)n) {
    float top[256];
    if (top_k > 256) top_k = 256;
    floor = kth_largest(logits, n, top_k, top);
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
  float target = uniform(r) * sum, running = 0.0f;
  for (i = 0; i < n; i++) {
    running += logits[i];
    if (running > target) return (uint32_t)i;
  }
  /* the scan's sum rounded just below target (the total was summed in another order): the most
   * likely token, not the last one (far-below-max logits keep weights of ~1e-38, not 0) */
  return best;
}
