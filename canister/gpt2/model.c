/* model.c: GPT-2's forward pass over a canister weight file, following llm.c's gpt2_forward:
 * layer by layer over the tokens fed (each matmul takes them all, eight at a time), with a KV
 * cache (f32, or int16 for q8 models) holding every earlier position. The matrix products and
 * attention are ops (ops.h: the canister's or the browser engine's); the weight file is read by
 * weight_file.c and the buffers laid out by buffer_plan.c. Shapes as in model.h. */
#include "model.h"

#include "attention.h"
#include "kernels.h"
#include "ops.h"

void gpt2_load(gpt2_model *m, const uint8_t *file, size_t kv_budget, int min_slots, int max_slots) {
  *m = (gpt2_model){0};
  weight_file_read(m, file);
  if (m->q8) {
    matrix *mats[] = {&m->wte, &m->qkvw, &m->attprojw, &m->fcw, &m->fcprojw};
    for (int i = 0; i < 5; i++) {
      int layers = i ? m->n_layer : 1;
      ops_pack_q8(mats[i], layers, plan_packed_weights(i, ops_packed_bytes(mats[i], layers)));
    }
  }
  plan_buffers(m, kv_budget, min_slots, max_slots);
}

/* Measured (docs/gpt2-canister.md): ~1.8 instructions per multiply-add for f32 and ~0.66 for q8
 * (GPT-2 124M: 222M / 82M per token), attention ~10 per cached position and channel; the
 * estimate takes 2.2 and 0.9, and 16 per position and channel. */
uint64_t gpt2_token_cost_estimate(const gpt2_model *m, int pos, int with_head) {
  uint64_t C = (uint64_t)m->n_embd, macs = (uint64_t)m->n_layer * 12 * C * C;
  if (with_head) macs += (uint64_t)m->vocab_size * C;
  uint64_t matmuls = m->q8 ? macs * 9 / 10 : macs * 22 / 10;
  return matmuls + (uint64_t)m->n_layer * (uint64_t)(pos + 1) * C * 16 + (with_head ? (uint64_t)m->vocab_size * 64 : 0) + 200000;
}

/* out [T][w->rows] = x [T][w->cols] · W[layer]ᵀ + bias [w->rows] */
static void linear(gpt2_model *m, const matrix *w, int layer, const float *bias, const float *x, float *out, int T) {
  if (m->q8) ops_matmul_q8(m, w, layer, bias, x, out, T);
  else ops_matmul_f32(m, w, layer, bias, x, out, T);
}

/* x [C] = wte[token] + wpe[pos] */
static void embed(gpt2_model *m, uint32_t token, int pos, float *x) {
  int C = m->n_embd;
  const float *wpe = m->wpe + (size_t)pos * C; /* [C] */
  if (m->q8) {
    ops_embed_q8(x, &m->wte, (int)token);
    for (int i = 0; i < C; i++) x[i] += wpe[i];
  } else {
    const float *row = m->wte.f + (size_t)token * C; /* [C] */
    for (int i = 0; i < C; i++) x[i] = row[i] + wpe[i];
  }
}

void gpt2_forward(gpt2_model *m, const uint32_t *tokens, int T, int pos, float *logits) {
  int C = m->n_embd;
  for (int t = 0; t < T; t++) embed(m, tokens[t], pos + t, m->x + (size_t)t * C); /* x [T][C] */
  for (int l = 0; l < m->n_layer; l++) {
    for (int t = 0; t < T; t++) /* xn [T][C] = layernorm(x [T][C]) */
      layernorm(m->xn + (size_t)t * C, m->x + (size_t)t * C, m->ln1w + l * C, m->ln1b + l * C, C);
    linear(m, &m->qkvw, l, m->qkvb + (size_t)l * 3 * C, m->xn, m->qkv, T); /* qkv [T][3C] = xn [T][C] · qkvw[l]ᵀ */
    for (int t = 0; t < T; t++) gpt2_cache_kv(m, l, pos + t, m->qkv + (size_t)t * 3 * C); /* k, v [T][C] -> cache */
    ops_attention(m, l, T, pos);                                             /* att [T][C] from q [T][C] and the cache */
    linear(m, &m->attprojw, l, m->attprojb + l * C, m->att, m->proj, T);     /* proj [T][C] = att · attprojw[l]ᵀ */
    for (int t = 0; t < T; t++) {
      float *x = m->x + (size_t)t * C;
      add_inplace(x, m->proj + (size_t)t * C, C);                                   /* x [C] += proj [C] */
      layernorm(m->xn + (size_t)t * C, x, m->ln2w + l * C, m->ln2b + l * C, C); /* xn [C] = layernorm(x) */
    }
    linear(m, &m->fcw, l, m->fcb + (size_t)l * 4 * C, m->xn, m->fc, T);      /* fc [T][4C] = xn · fcw[l]ᵀ */
    gelu(m->fc, T * 4 * C);                                                  /* fc [T][4C] = gelu(fc) */
    linear(m, &m->fcprojw, l, m->fcprojb + l * C, m->fc, m->proj, T);        /* proj [T][C] = fc · fcprojw[l]ᵀ */
    for (int t = 0; t < T; t++) add_inplace(m->x + (size_t)t * C, m->proj + (size_t)t * C, C); /* x [T][C] += proj */
  }
  if (!logits) return;
  float *last = m->xn;
  layernorm(last, m->x + (size_t)(T - 1) * C, m->lnfw, m->lnfb, C); /* last [C] = layernorm(x[T - 1]) */
  matrix head = m->wte;
  head.rows = m->vocab_size; /* padded rows are zero: skip them */
  linear(m, &head, 0, m->zeros, last, logits, 1); /* logits [V] = last [C] · wte[0..V)ᵀ */
}
