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

uint32_t argmax(const float *logits, int n) {
  uint32_t best = 0;
  for (int i = 1; i < n; i++)
    if (logits[i] > logits[best]) best = (uint32_t)i;
  return best;
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
  float max = logits[argmax(logits, n)], sum = 0.0f;
  for (int i = 0; i < n; i++) {
    logits[i] = logits[i] >= floor ? gpt2_expf((logits[i] - max) / temperature) : 0.0f;
    sum += logits[i];
  }
  float target = uniform(r) * sum, running = 0.0f;
  uint32_t last = 0;
  for (int i = 0; i < n; i++) {
    if (logits[i] <= 0.0f) continue;
    running += logits[i];
    last = (uint32_t)i;
    if (running > target) return last;
  }
  return last; /* rounding left target just above the total */
}
