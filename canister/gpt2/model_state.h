/* model_state.h: the state of a GPT-2 model as plain data, llm.c style: its shape, its weights
 * (read in place from the weight file, weight_file.h), its KV cache and activations (laid out by
 * buffer_plan.h). What reads and writes it: model.h's forward pass, attention.h, ops.h.
 * Shapes: L = n_layer, NH = n_head, C = n_embd, hs = C / NH, T = n_ctx, V = vocab_size,
 * Vp = padded_vocab (wte's rows, a multiple of 4; the rows past V are zero). */
#ifndef GPT2_MODEL_STATE_H
#define GPT2_MODEL_STATE_H

#include <stddef.h>
#include <stdint.h>
#include <wasm_simd128.h>

/* A matmul weight stacked over layers, [L][rows][cols] (or [rows][cols]): f32, or the file's
 * int8 rows with one f32 scale per row (q8 files), packed at load in the form this build's
 * products read (ops.h ops_pack_q8). */
typedef struct {
  const float *f;     /* [L][rows][cols] f32 */
  const int8_t *q8;   /* [L][rows][cols] int8, in the file */
  const float *scale; /* [L][rows] */
  const void *packed; /* ops.h: int16 row quads (the canister) or each row's sum (the browser) */
  int rows, cols;
} matrix;

typedef struct {
  int n_layer, n_head, n_embd, n_ctx, vocab_size, padded_vocab, q8;
  uint32_t eos_token_id; /* ends a reply unless the request names its own stop tokens */
  matrix wte;      /* [Vp][C] */
  matrix qkvw;     /* [L][3C][C] */
  matrix attprojw; /* [L][C][C] */
  matrix fcw;      /* [L][4C][C] */
  matrix fcprojw;  /* [L][C][4C] */
  const float *wpe;                 /* [T][C] */
  const float *ln1w, *ln1b;         /* [L][C] */
  const float *qkvb;                /* [L][3C] */
  const float *attprojb;            /* [L][C] */
  const float *ln2w, *ln2b;         /* [L][C] */
  const float *fcb;                 /* [L][4C] */
  const float *fcprojb;             /* [L][C] */
  const float *lnfw, *lnfb;         /* [C] */
  /* The KV cache in use: one of kv_slots slots of kv_slot_bytes each (gpt2_select_kv). */
  float *key_cache, *value_cache;   /* [L][T][C] (f32 models) */
  int kv16;                         /* q8 models with head size 32 or 64: int16 keys and values */
  int16_t *keys16, *values16;       /* [L][NH][kv16_positions(T) · hs], see kv16_head */
  float *key_scales, *value_scales; /* [L][NH][kv16_positions(T)] */
  uint8_t *kv_base;                 /* [kv_slots][kv_slot_bytes] */
  size_t kv_slot_bytes;
  int kv_slots;
  /* Activations for up to T tokens, and the scratch of the thread that runs gpt2_forward. */
  float *x;           /* [T][C] the residual stream */
  float *xn;          /* [T][C] layernorm's output */
  float *qkv;         /* [T][3C] */
  float *att;         /* [T][C] attention's output, every head */
  float *proj;        /* [T][C] a projection back to the residual stream */
  float *fc;          /* [T][4C] the MLP's hidden layer */
  float *scores;      /* [T + 8] attention scores of one head */
  int16_t *weights16; /* [kv16_positions(T) + 8] attention weights of one head (kv16) */
  const float *zeros; /* [Vp] a zero bias for the LM head */
  v128_t *partial;    /* [2 · max(Vp, 4C) + 8] a product's partial sums */
  int16_t *xq;        /* [8][4C] eight tokens' int16 activations (the canister's q8 products) */
} gpt2_model;

#endif
