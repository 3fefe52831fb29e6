/* model.h: GPT-2 from a canister weight file (docs/canister-weights.md), llm.c style. */
#ifndef GPT2_MODEL_H
#define GPT2_MODEL_H

#include <stddef.h>
#include <stdint.h>
#include <wasm_simd128.h>

/* A matmul weight stacked over layers, [L][rows][cols] (or [rows][cols]): f32, or int8 values
 * widened to int16 in the kernels' row-quad layout with one f32 scale per row (q8 files). */
typedef struct {
  const float *f;
  const int16_t *q;
  const float *scale;
  int rows, cols;
#ifdef GPT2_BROWSER
  const int8_t *q8; /* the icchat engine (browser/): the file's int8 rows, [L][rows][cols], not widened */
  const int32_t *row_sums; /* [L][rows]: each row's sum (browser_row_sums) */
#endif
} matrix;

typedef struct {
  int n_layer, n_head, n_embd, n_ctx, vocab_size, padded_vocab, q8;
  uint32_t eos_token_id; /* ends a reply unless the request names its own stop tokens */
  matrix wte, qkvw, attprojw, fcw, fcprojw;
  const float *wpe, *ln1w, *ln1b, *qkvb, *attprojb, *ln2w, *ln2b, *fcb, *fcprojb, *lnfw, *lnfb;
  /* The KV cache in use: one of kv_slots slots of kv_slot_bytes each (gpt2_select_kv). */
  float *key_cache, *value_cache; /* [L][n_ctx][C] (f32 models) */
  int kv16;                       /* q8 models with head size 32 or 64: int16 keys and values */
  int16_t *keys16, *values16;     /* [L][n_head][n_ctx rounded up to 4][head_size], see kv16_head */
  float *key_scales, *value_scales; /* [L][n_head][n_ctx rounded up to 4] */
  uint8_t *kv_base;
  size_t kv_slot_bytes;
  int kv_slots;
  int16_t *weights16;             /* attention weights of one head, n_ctx + 8 */
  float *x, *xn, *qkv, *att, *proj, *fc, *scores; /* activations for up to n_ctx tokens */
  const float *zeros; /* a zero bias for the LM head */
  v128_t *partial;
  int16_t *xq;
} gpt2_model;

/* Check a weight file's header and tensor table; NULL if usable, else why not (static text
 * or `error`, which gets the message). Touches no model state. */
const char *gpt2_check(const uint8_t *file, size_t size, char *error, size_t error_size);
/* Point `m` at a checked file's tensors, widen q8 weights, allocate activations and as many KV
 * slots as fit in kv_budget bytes (between min_slots and max_slots); slot 0 is selected. Buffers
 * are reused between loads of models of the same shape. */
void gpt2_load(gpt2_model *m, const uint8_t *file, size_t kv_budget, int min_slots, int max_slots);
/* Make slot `slot` the KV cache gpt2_forward reads and writes. */
void gpt2_select_kv(gpt2_model *m, int slot);
/* A generous a-priori estimate of the IC instructions of feeding one token at position pos (with
 * the LM head and sampling if with_head), for budgeting before anything was measured. */
uint64_t gpt2_token_cost_estimate(const gpt2_model *m, int pos, int with_head);
/* Feed tokens[0..T) at positions pos..pos+T-1 (KV cache holds 0..pos-1); if logits is not
 * NULL, write the last position's vocab_size logits. */
void gpt2_forward(gpt2_model *m, const uint32_t *tokens, int T, int pos, float *logits);

#endif
