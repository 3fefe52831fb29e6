/* engine.c: the gpt2 canister's own model (model.c with its weight file, buffer plan and
 * attention, kernels.c, sampling.c, mathf.c, and the C runtime's rt.c), with the browser's ops
 * (ops_browser.c), as an on-device engine for the browser: web/engine.mjs instantiates it, hands
 * it a canister weight file (docs/canister-weights.md) and drives it a step at a time.
 *
 * The platform layer is small: rt.c's heap grows with memory.grow as in the canister, and the
 * only ic0 functions the model can reach are `trap` (rt_alloc out of memory, a bug) and
 * `debug_print`, which engine.mjs provides (a trap becomes a JS exception). Everything a caller
 * can get wrong is checked here and answered with an error text (engine_error), never a trap.
 *
 * The KV cache, the logits and the sampler's scratch live in this module's memory: JS writes
 * token ids into engine_tokens() and reads back one token id (or the logits) per step. Sampling
 * is the canister's: argmax for temperature 0, else sample() with the draw draw_at(seed, position),
 * position = the absolute position of the token being chosen, so the same seed gives the same
 * tokens as the gpt2 canister's generate / generate_query (sampling.c choose_token, for both). */
#include "model.h"
#include "ops_browser.h"
#include "rt.h"
#include "sampling.h"

#define EXPORT(name) __attribute__((export_name(#name)))

static gpt2_model model;
static int loaded, have_logits;
static float *logits, *scratch; /* padded_vocab logits of the last position fed; vocab floats */
static uint32_t *tokens;         /* n_ctx token ids, written by the caller before engine_forward */
static char error[256];

static int fail(const char *why) {
  rt_format(error, sizeof error, "%s", why);
  return -1;
}

/* The last error's text (NUL-terminated). */
EXPORT(engine_error) const char *engine_error(void) { return error; }

/* Bytes of zeroed memory, 64-aligned, for the weight file (never freed: one file per instance). */
EXPORT(engine_alloc) void *engine_alloc(uint32_t size) { return rt_alloc(size, 64); }

/* Check the weight file at file[0..size) and serve it; 0, or -1 and engine_error(). The file must
 * stay where it is: q8 scales and every f32 tensor are read in place. */
EXPORT(engine_load) int engine_load(const uint8_t *file, uint32_t size) {
  if (loaded) return fail("this engine already holds a model: start a new instance for another one");
  const char *why = gpt2_check(file, size, error, sizeof error);
  if (why) return fail(why);
  gpt2_load(&model, file, 0, 1, 1); /* one KV slot: one conversation at a time on a device */
  logits = rt_alloc((size_t)model.padded_vocab * 4, 64);
  scratch = rt_alloc((size_t)model.vocab_size * 4, 64);
  tokens = rt_alloc((size_t)model.n_ctx * 4, 64);
  loaded = 1;
  return 0;
}

/* The model's dimensions: 0 n_layer, 1 n_head, 2 n_embd, 3 n_ctx, 4 vocab_size, 5 q8 (1) or f32 (0),
 * 6 eos_token_id (the token that ends a reply). */
EXPORT(engine_info) int engine_info(int what) {
  if (!loaded) return -1;
  const int values[] = {model.n_layer, model.n_head, model.n_embd, model.n_ctx, model.vocab_size, model.q8,
                        (int)model.eos_token_id};
  return what >= 0 && what < 7 ? values[what] : -1;
}

/* Share the matrix products among n threads (see ops_browser.c); after engine_load, before the
 * n - 1 helpers call engine_thread_main. 0, or -1 and engine_error(). */
EXPORT(engine_set_threads) int engine_set_threads(int n) {
  if (!loaded) return fail("no model loaded");
  if (browser_set_threads(n, &model)) {
    rt_format(error, sizeof error, "this engine build runs 1 to %d threads, not %d", browser_max_threads(), n);
    return -1;
  }
  return 0;
}

/* The q8 product (0: int8 widened to int16, the SIMD128 one; 1: relaxed_dot, relaxed builds only):
 * 0, or -1 and engine_error(). engine_q8_probe(reps) runs layer 0's MLP product reps times on
 * the calling thread, for web/engine.mjs to time (it changes no state the chat relies on). */
EXPORT(engine_q8_kernel) int engine_q8_kernel(int kernel) {
  if (!loaded || !model.q8) return fail("no q8 model loaded");
  if (browser_select_q8_kernel(kernel)) return fail("this engine build has no such q8 kernel");
  return 0;
}

EXPORT(engine_q8_probe) int engine_q8_probe(int reps) {
  if (!loaded || !model.q8) return fail("no q8 model loaded");
  browser_q8_probe(&model, reps);
  return 0;
}

EXPORT(engine_tokens) uint32_t *engine_tokens(void) { return tokens; }
EXPORT(engine_logits) float *engine_logits(void) { return have_logits ? logits : 0; }

/* Feed engine_tokens()[0..T) at positions pos..pos+T-1 (the KV cache holds 0..pos-1 from earlier
 * calls; feeding at pos forgets everything from pos on). The last position's logits are kept for
 * engine_next. 0, or -1 and engine_error(). */
EXPORT(engine_forward) int engine_forward(int T, int pos) {
  have_logits = 0;
  if (!loaded) return fail("no model loaded");
  if (T < 1 || pos < 0 || pos > model.n_ctx - T) {
    rt_format(error, sizeof error, "%d tokens at position %d do not fit the context of %d", T, pos, model.n_ctx);
    return -1;
  }
  for (int i = 0; i < T; i++)
    if (tokens[i] >= (uint32_t)model.vocab_size) {
      rt_format(error, sizeof error, "token id %u is outside the vocabulary (%d tokens)", tokens[i], model.vocab_size);
      return -1;
    }
  gpt2_forward(&model, tokens, T, pos, logits);
  have_logits = 1;
  return 0;
}

/* The next token from the kept logits, as the canister chooses it (sampling.c choose_token):
 * temperature 0 is argmax; else sample() with draw_at(seed, position). Consumes the logits (sample
 * scribbles on them). A token id, or -1 and engine_error(). */
EXPORT(engine_next) int engine_next(float temperature, uint32_t top_k, float top_p, uint32_t seed_lo, uint32_t seed_hi,
                                    uint32_t position) {
  if (!have_logits) return fail("no logits: feed a token first");
  const char *refused = sampling_refusal(temperature, top_p);
  if (refused) return fail(refused);
  have_logits = 0;
  return (int)choose_token(logits, model.vocab_size, temperature, top_k, top_p, (uint64_t)seed_hi << 32 | seed_lo,
                           position, scratch);
}
