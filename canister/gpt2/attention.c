/* attention.c: see attention.h. */
#include "attention.h"

#include "buffer_plan.h"
#include "kernels.h"
#include "rt.h"

/* Layer `layer`, head h's int16 keys and values: [T4 · hs] each, scales [T4] (kv16_head's tiles). */
static kv16_head kv16_at(const gpt2_model *m, int layer, int h) {
  int hs = m->n_embd / m->n_head;
  size_t T4 = kv16_positions(m->n_ctx), index = (size_t)layer * m->n_head + h;
  return (kv16_head){m->keys16 + index * T4 * hs, m->values16 + index * T4 * hs, m->key_scales + index * T4,
                     m->value_scales + index * T4};
}

void gpt2_cache_kv(gpt2_model *m, int layer, int pos, const float *qkv) {
  int C = m->n_embd, hs = C / m->n_head;
  if (m->kv16) {
    for (int h = 0; h < m->n_head; h++) {
      kv16_head head = kv16_at(m, layer, h);
      kv16_store(&head, pos, qkv + C + h * hs, qkv + 2 * C + h * hs, hs); /* k, v [hs] -> int16 [hs] + scale */
    }
    return;
  }
  memcpy(m->key_cache + ((size_t)layer * m->n_ctx + pos) * C, qkv + C, C * sizeof(float));       /* k [C] */
  memcpy(m->value_cache + ((size_t)layer * m->n_ctx + pos) * C, qkv + 2 * C, C * sizeof(float)); /* v [C] */
}

void gpt2_attend_head(const gpt2_model *m, int layer, const float *q, int p, int h, float *out, float *scores,
                      int16_t *weights) {
  int C = m->n_embd, hs = C / m->n_head;
  if (m->kv16) {
    kv16_head head = kv16_at(m, layer, h);
    attention_head_kv16(q + h * hs, &head, p, hs, scores, weights, out + h * hs); /* q [hs] -> out [hs] */
    return;
  }
  const float *keys = m->key_cache + (size_t)layer * m->n_ctx * C;   /* [n_ctx][C] */
  const float *vals = m->value_cache + (size_t)layer * m->n_ctx * C; /* [n_ctx][C] */
  attention_head(q + h * hs, keys + h * hs, vals + h * hs, C, p, hs, scores, out + h * hs); /* q [hs] -> out [hs] */
}

void gpt2_attend(gpt2_model *m, int layer, int T, int pos) {
  int C = m->n_embd;
  for (int t = 0; t < T; t++)
    for (int h = 0; h < m->n_head; h++)
      gpt2_attend_head(m, layer, m->qkv + (size_t)t * 3 * C, pos + t, h, m->att + (size_t)t * C, m->scores, m->weights16);
}
