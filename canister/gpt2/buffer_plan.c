/* buffer_plan.c: see buffer_plan.h. Shapes: L layers, C = n_embd, NH heads of hs = C / NH,
 * T = n_ctx positions (T4: rounded up to 4), Vp = padded_vocab. */
#include "buffer_plan.h"

#include "rt.h"

typedef struct {
  void *data;
  size_t capacity;
} reusable;

static void *reuse(reusable *b, size_t size) {
  if (b->capacity < size) {
    b->data = rt_alloc(size, 64);
    b->capacity = size;
  }
  return b->data;
}

/* kept between loads: q8 matrices packed, KV slots, one head's int16 attention weights, the
 * activations, the products' scratch, the LM head's zero bias */
static reusable packed_matrices[5], kv_cache, head_weights, activation_rows, product_scratch, zero_bias;

void *plan_packed_weights(int i, size_t bytes) { return reuse(&packed_matrices[i], bytes); }

size_t plan_partial_bytes(const gpt2_model *m) {
  size_t rows = (size_t)(m->padded_vocab > 4 * m->n_embd ? m->padded_vocab : 4 * m->n_embd);
  return (2 * rows + 8) * 16;
}
size_t plan_scores_bytes(const gpt2_model *m) { return ((size_t)m->n_ctx + 8) * 4; }
size_t plan_weights16_bytes(const gpt2_model *m) { return (kv16_positions(m->n_ctx) + 8) * 2; }

void plan_buffers(gpt2_model *m, size_t kv_budget, int min_slots, int max_slots) {
  int C = m->n_embd, T = m->n_ctx, hs = C / m->n_head;
  m->kv16 = m->q8 && (hs == 32 || hs == 64);
  size_t T4 = kv16_positions(T);
  /* one slot: int16 keys and values [L][NH][T4][hs] plus their scales [L][NH][T4], or f32 keys
   * and values [L][T][C] */
  m->kv_slot_bytes = m->kv16 ? (size_t)m->n_layer * T4 * C * 4 + (size_t)m->n_layer * m->n_head * T4 * 8
                             : (size_t)m->n_layer * T * C * 8;
  m->kv_slot_bytes = (m->kv_slot_bytes + 63) / 64 * 64;
  size_t fit = kv_budget / m->kv_slot_bytes;
  m->kv_slots = fit < (size_t)min_slots ? min_slots : fit > (size_t)max_slots ? max_slots : (int)fit;
  m->kv_base = reuse(&kv_cache, m->kv_slot_bytes * m->kv_slots); /* [kv_slots][kv_slot_bytes] */
  if (m->kv16) m->weights16 = reuse(&head_weights, plan_weights16_bytes(m));
  gpt2_select_kv(m, 0);
  size_t per_token = C + C + 3 * C + C + C + 4 * C;
  float *a = reuse(&activation_rows, (size_t)T * per_token * 4 + plan_scores_bytes(m));
  m->x = a, a += (size_t)T * C;      /* [T][C] */
  m->xn = a, a += (size_t)T * C;     /* [T][C] */
  m->qkv = a, a += (size_t)T * 3 * C; /* [T][3C] */
  m->att = a, a += (size_t)T * C;    /* [T][C] */
  m->proj = a, a += (size_t)T * C;   /* [T][C] */
  m->fc = a, a += (size_t)T * 4 * C; /* [T][4C] */
  m->scores = a;                     /* [T + 8] */
  uint8_t *s = reuse(&product_scratch, plan_partial_bytes(m) + 8 * 4 * C * 2);
  m->zeros = reuse(&zero_bias, (size_t)m->padded_vocab * 4); /* [Vp]: rt_alloc memory is zeroed and never written */
  m->partial = (v128_t *)s;                          /* [2 · max(Vp, 4C) + 8] v128 */
  m->xq = (int16_t *)(s + plan_partial_bytes(m));    /* [8][4C]: eight tokens' int16 x */
}

void gpt2_select_kv(gpt2_model *m, int slot) {
  int C = m->n_embd, T = m->n_ctx;
  size_t T4 = kv16_positions(T), cache = (size_t)m->n_layer * T4 * C;
  uint8_t *base = m->kv_base + (size_t)slot * m->kv_slot_bytes;
  if (m->kv16) {
    m->keys16 = (int16_t *)base;                                  /* [L][NH][T4][hs] */
    m->values16 = m->keys16 + cache;                              /* [L][NH][T4][hs] */
    m->key_scales = (float *)(m->values16 + cache);               /* [L][NH][T4] */
    m->value_scales = m->key_scales + (size_t)m->n_layer * m->n_head * T4; /* [L][NH][T4] */
  } else {
    m->key_cache = (float *)base;                                 /* [L][T][C] */
    m->value_cache = m->key_cache + (size_t)m->n_layer * T * C;   /* [L][T][C] */
  }
}
