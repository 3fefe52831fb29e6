/* sampler.c: the gpt2 canister's token choice alone (sampling.c's choose_token, with mathf.c and
 * the C runtime's rt.c), built by icchat.build.engine as icchat-sampler.wasm for engines whose
 * logits are computed outside canister code: web/sampler.mjs loads it for onnxruntime-web's engine
 * (web/ort-engine.mjs). The same C as the canister's and the icchat engine's, so the same logits,
 * settings, seed and position give the same token everywhere.
 *
 * JS copies a position's logits to sampler_logits(n) and calls sampler_next; the module imports
 * only `ic0.trap` (rt_alloc out of memory), which sampler.mjs provides. */
#include "rt.h"
#include "sampling.h"

#define EXPORT(name) __attribute__((export_name(#name)))
#define MAX_LOGITS (1 << 26) /* 2 * 4 bytes each must fit wasm32's memory */

static float *buffer; /* capacity logits, then capacity floats of the sampler's scratch */
static int capacity;
static char error[128];

static int fail(const char *why) {
  rt_format(error, sizeof error, "%s", why);
  return -1;
}

/* The last error's text (NUL-terminated). */
EXPORT(sampler_error) const char *sampler_error(void) { return error; }

/* Where the caller writes n logits (room for n, and the sampler's n floats of scratch after them);
 * 0 if n is not in [1, 2^26]. Valid until a call with a larger n. */
EXPORT(sampler_logits) float *sampler_logits(int n) {
  if (n < 1 || n > MAX_LOGITS) return 0;
  if (n > capacity) { /* the old buffer is not freed: a worker samples one vocabulary */
    buffer = rt_alloc((size_t)n * 2 * sizeof(float), 64);
    capacity = n;
  }
  return buffer;
}

/* The next token from the n logits at sampler_logits(n), as the gpt2 canister chooses it
 * (sampling.c choose_token); scribbles on them. A token id, or -1 and sampler_error(). */
EXPORT(sampler_next) int sampler_next(int n, float temperature, uint32_t top_k, float top_p, uint32_t seed_lo,
                                      uint32_t seed_hi, uint32_t position) {
  if (n < 1 || n > capacity) return fail("no logits: sampler_logits(n) first");
  const char *refused = sampling_refusal(temperature, top_p);
  if (refused) return fail(refused);
  return (int)choose_token(buffer, n, temperature, top_k, top_p, (uint64_t)seed_hi << 32 | seed_lo, position,
                           buffer + capacity);
}
