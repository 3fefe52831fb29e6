/* model.c: GPT-2's forward pass over a canister weight file, following llm.c's gpt2_forward:
 * layer by layer over the tokens fed (each matmul takes them all, eight at a time), with a KV
 * cache (f32, or int16 for q8 models) holding every earlier position. */
#include "model.h"

#include "kernels.h"
#include "mathf.h"
#include "rt.h"
#ifdef GPT2_BROWSER
#include "engine_linear.h" /* browser/: int8 rows and threads for the icchat engine */
#endif

/* ---- the weight file ---- */

#define HEADER_SIZE 256
#define ENTRY_SIZE 64
#define ALIGN 64
#define GPT2_EOS_TOKEN 50256 /* a header whose eos_token_id is 0 (written before the field existed): GPT-2's */

static uint32_t u32_at(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t u64_at(const uint8_t *p) { return u32_at(p) | (uint64_t)u32_at(p + 4) << 32; }

typedef struct {
  uint32_t version, dtype, n_layer, n_head, n_embd, n_ctx, vocab, padded, n_tensors, align;
  uint64_t table_offset, data_offset, file_size;
  uint32_t eos; /* the token that ends a reply */
} header;

static header read_header(const uint8_t *file) {
  header h;
  uint32_t *fields = &h.version;
  for (int i = 0; i < 10; i++) fields[i] = u32_at(file + 8 + 4 * i);
  h.table_offset = u64_at(file + 48);
  h.data_offset = u64_at(file + 56);
  h.file_size = u64_at(file + 64);
  h.eos = u32_at(file + 72);
  if (!h.eos) h.eos = GPT2_EOS_TOKEN;
  return h;
}

/* The tensor called `name` with `count` elements of `dtype` (0 f32, 1 int8), or NULL. */
static const void *find(const uint8_t *file, const header *h, const char *name, uint32_t dtype, uint64_t count) {
  size_t len = strlen(name);
  for (uint32_t i = 0; i < h->n_tensors; i++) {
    const uint8_t *e = file + h->table_offset + (uint64_t)i * ENTRY_SIZE;
    if (memcmp(e, name, len) || (len < 32 && e[len])) continue;
    uint32_t ndim = u32_at(e + 36);
    uint64_t elements = 1, offset = u64_at(e + 56);
    for (uint32_t d = 0; d < 4; d++) elements *= d < ndim ? u32_at(e + 40 + 4 * d) : 1;
    uint64_t bytes = elements * (dtype ? 1 : 4);
    if (u32_at(e + 32) != dtype || ndim > 4 || elements != count || offset % ALIGN || offset > h->file_size ||
        bytes > h->file_size - offset)
      return 0;
    return file + offset;
  }
  return 0;
}

static const char *const F32_TENSORS[] = {"wpe", "ln1w", "ln1b", "qkvb", "attprojb", "ln2w", "ln2b", "fcb", "fcprojb", "lnfw", "lnfb"};
static const char *const MATRICES[] = {"wte", "qkvw", "attprojw", "fcw", "fcprojw"};

static uint64_t f32_count(const header *h, int i) {
  uint64_t L = h->n_layer, C = h->n_embd;
  const uint64_t counts[] = {h->n_ctx * C, L * C, L * C, L * 3 * C, L * C, L * C, L * C, L * 4 * C, L * C, C, C};
  return counts[i];
}
static void matrix_shape(const header *h, int i, uint64_t *layers, uint64_t *rows, uint64_t *cols) {
  uint64_t C = h->n_embd;
  const uint64_t r[] = {h->padded, 3 * C, C, 4 * C, C}, c[] = {C, C, C, C, 4 * C};
  *layers = i ? h->n_layer : 1;
  *rows = r[i];
  *cols = c[i];
}

const char *gpt2_check(const uint8_t *file, size_t size, char *error, size_t error_size) {
  if (size < HEADER_SIZE || memcmp(file, "ICGPT2W", 8)) return "not a gpt2 canister weight file (bad magic)";
  header h = read_header(file);
  if (h.version != 1) return "unsupported weight file version (this canister reads version 1)";
  if (h.file_size != size) {
    rt_format(error, error_size, "weight file header says %llu bytes, got %llu", (unsigned long long)h.file_size,
              (unsigned long long)size);
    return error;
  }
  if (h.dtype > 1) return "unknown weight dtype (expected f32 or q8)";
  if (!h.n_layer || !h.n_head || h.n_embd % h.n_head || (h.n_embd / h.n_head) % 4 || h.n_layer > 96)
    return "bad model dimensions in the weight file header";
  if (h.n_embd % BLOCK_COLUMNS || h.n_embd > 8192) {
    rt_format(error, error_size, "n_embd must be a multiple of %d (at most 8192), got %u", BLOCK_COLUMNS, h.n_embd);
    return error;
  }
  if (!h.n_ctx || h.n_ctx > 4096 || !h.vocab || h.padded < h.vocab || h.padded > 1u << 20)
    return "bad context or vocabulary size in the weight file header";
  if (h.eos >= h.vocab && h.eos != GPT2_EOS_TOKEN) { /* GPT-2's may lie past a test model's small vocabulary */
    rt_format(error, error_size, "eos_token_id %u is outside the vocabulary (%u tokens)", h.eos, h.vocab);
    return error;
  }
  if (h.table_offset < HEADER_SIZE || h.n_tensors > 64 || h.table_offset + (uint64_t)h.n_tensors * ENTRY_SIZE > size)
    return "tensor table out of bounds";
  for (int i = 0; i < 11; i++)
    if (!find(file, &h, F32_TENSORS[i], 0, f32_count(&h, i))) {
      rt_format(error, error_size, "weight file lacks tensor `%s` (f32, right shape, in bounds)", F32_TENSORS[i]);
      return error;
    }
  for (int i = 0; i < 5; i++) {
    uint64_t layers, rows, cols;
    matrix_shape(&h, i, &layers, &rows, &cols);
    char scale[40];
    rt_format(scale, sizeof scale, "%s.scale", MATRICES[i]);
    if (!find(file, &h, MATRICES[i], h.dtype, layers * rows * cols) || (h.dtype && !find(file, &h, scale, 0, layers * rows))) {
      rt_format(error, error_size, "weight file lacks tensor `%s` (%s, right shape, in bounds)", MATRICES[i], h.dtype ? "int8 + scale" : "f32");
      return error;
    }
  }
  return 0;
}

/* ---- buffers that survive between loads ---- */

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

static reusable widened[5], keys, values, activations, scratch, zeros;

/* q8 matrices, layer by layer, widened to int16 in the kernels' row-quad layout. */
static const int16_t *widen(reusable *into, const int8_t *q, int layers, int rows, int cols) {
  size_t per_layer = quads_size(rows, cols);
  int16_t *out = reuse(into, per_layer * layers * 2);
  for (int l = 0; l < layers; l++) quads_from_int8(out + l * per_layer, q + (size_t)l * rows * cols, rows, cols);
  return out;
}

void gpt2_load(gpt2_model *m, const uint8_t *file, size_t kv_budget, int min_slots, int max_slots) {
  header h = read_header(file);
  int C = (int)h.n_embd, T = (int)h.n_ctx;
  *m = (gpt2_model){.n_layer = (int)h.n_layer, .n_head = (int)h.n_head, .n_embd = C, .n_ctx = T,
                    .vocab_size = (int)h.vocab, .padded_vocab = (int)h.padded, .q8 = (int)h.dtype,
                    .eos_token_id = h.eos};
  const float **f32[] = {&m->wpe, &m->ln1w, &m->ln1b, &m->qkvb, &m->attprojb, &m->ln2w, &m->ln2b, &m->fcb, &m->fcprojb, &m->lnfw, &m->lnfb};
  for (int i = 0; i < 11; i++) *f32[i] = find(file, &h, F32_TENSORS[i], 0, f32_count(&h, i));
  matrix *mats[] = {&m->wte, &m->qkvw, &m->attprojw, &m->fcw, &m->fcprojw};
  for (int i = 0; i < 5; i++) {
    uint64_t layers, rows, cols;
    matrix_shape(&h, i, &layers, &rows, &cols);
    matrix *x = mats[i];
    x->rows = (int)rows;
    x->cols = (int)cols;
    const void *data = find(file, &h, MATRICES[i], h.dtype, layers * rows * cols);
    if (h.dtype) {
      char scale[40];
      rt_format(scale, sizeof scale, "%s.scale", MATRICES[i]);
      x->scale = find(file, &h, scale, 0, layers * rows);
#ifdef GPT2_BROWSER
      x->q8 = data;
      x->row_sums = browser_row_sums(data, layers * rows, (int)cols);
#else
      x->q = widen(&widened[i], data, (int)layers, (int)rows, (int)cols);
#endif
    } else {
      x->f = data;
    }
  }
  int hs = C / m->n_head;
  m->kv16 = m->q8 && (hs == 32 || hs == 64);
  size_t T4 = (size_t)(T + 3) / 4 * 4;
  /* one slot: int16 keys and values plus their per-position scales, or f32 keys and values */
  m->kv_slot_bytes = m->kv16 ? (size_t)m->n_layer * T4 * C * 4 + (size_t)m->n_layer * m->n_head * T4 * 8
                             : (size_t)m->n_layer * T * C * 8;
  m->kv_slot_bytes = (m->kv_slot_bytes + 63) / 64 * 64;
  size_t fit = kv_budget / m->kv_slot_bytes;
  m->kv_slots = fit < (size_t)min_slots ? min_slots : fit > (size_t)max_slots ? max_slots : (int)fit;
  m->kv_base = reuse(&keys, m->kv_slot_bytes * m->kv_slots);
  if (m->kv16) m->weights16 = reuse(&values, (T4 + 8) * 2);
  gpt2_select_kv(m, 0);
  size_t per_token = C + C + 3 * C + C + C + 4 * C;
  float *a = reuse(&activations, ((size_t)T * per_token + T + 8) * 4); /* scores: T + 8 */
  m->x = a, a += (size_t)T * C;
  m->xn = a, a += (size_t)T * C;
  m->qkv = a, a += (size_t)T * 3 * C;
  m->att = a, a += (size_t)T * C;
  m->proj = a, a += (size_t)T * C;
  m->fc = a, a += (size_t)T * 4 * C;
  m->scores = a;
  size_t rows = (size_t)(m->padded_vocab > 4 * C ? m->padded_vocab : 4 * C);
  uint8_t *s = reuse(&scratch, (2 * rows + 8) * 16 + 8 * 4 * C * 2); /* partial sums; 8 tokens' int16 x */
  m->zeros = reuse(&zeros, (size_t)m->padded_vocab * 4); /* rt_alloc memory is zeroed and never written */
  m->partial = (v128_t *)s;
  m->xq = (int16_t *)(s + (2 * rows + 8) * 16);
}

void gpt2_select_kv(gpt2_model *m, int slot) {
  int C = m->n_embd, T = m->n_ctx;
  size_t T4 = (size_t)(T + 3) / 4 * 4, cache = (size_t)m->n_layer * T4 * C;
  uint8_t *base = m->kv_base + (size_t)slot * m->kv_slot_bytes;
  if (m->kv16) {
    m->keys16 = (int16_t *)base;
    m->values16 = m->keys16 + cache;
    m->key_scales = (float *)(m->values16 + cache);
    m->value_scales = m->key_scales + (size_t)m->n_layer * m->n_head * T4;
  } else {
    m->key_cache = (float *)base;
    m->value_cache = m->key_cache + (size_t)m->n_layer * T * C;
  }
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

/* ---- the forward pass ---- */

/* out[t] = W_layer · x[t] + bias for T tokens (x rows of w->cols floats, out rows of w->rows). */
static void linear(gpt2_model *m, const matrix *w, int layer, const float *bias, const float *x, float *out, int T) {
  size_t offset = (size_t)layer * w->rows * w->cols; /* rows of stacked matrices are multiples of 4 */
#ifdef GPT2_BROWSER
  if (m->q8)
    browser_linear_q8(out, w->q8 + offset, w->scale + (size_t)layer * w->rows, w->row_sums + (size_t)layer * w->rows, x,
                      bias, w->rows, w->cols, T);
  else
    browser_linear_f32(out, w->f + offset, x, bias, w->rows, w->cols, T, m->partial);
  return;
#endif
  if (m->q8)
    matmul_q16(out, w->q + offset, w->scale + (size_t)layer * w->rows, x, bias, w->rows, w->cols, T, m->partial, m->xq);
  else
    matmul_f32(out, w->f + offset, x, bias, w->rows, w->cols, T, m->partial);
}

static void embed(gpt2_model *m, uint32_t token, int pos, float *x) {
  int C = m->n_embd;
  const float *wpe = m->wpe + (size_t)pos * C;
  if (m->q8) {
#ifdef GPT2_BROWSER
    const int8_t *row = m->wte.q8 + (size_t)token * C;
    for (int i = 0; i < C; i++) x[i] = row[i] * m->wte.scale[token]; /* quads_row's product */
#else
    quads_row(x, m->wte.q, C, (int)token, m->wte.scale[token]);
#endif
    for (int i = 0; i < C; i++) x[i] += wpe[i];
  } else {
    const float *row = m->wte.f + (size_t)token * C;
    for (int i = 0; i < C; i++) x[i] = row[i] + wpe[i];
  }
}

/* Layer `layer`, head h's int16 keys and values. */
static kv16_head kv16_at(const gpt2_model *m, int layer, int h) {
  int hs = m->n_embd / m->n_head;
  size_t T4 = (size_t)(m->n_ctx + 3) / 4 * 4, index = (size_t)layer * m->n_head + h;
  return (kv16_head){m->keys16 + index * T4 * hs, m->values16 + index * T4 * hs, m->key_scales + index * T4,
                     m->value_scales + index * T4};
}

/* Append position pos's key and value (from its qkv row) to layer `layer`'s cache. */
static void cache_kv(gpt2_model *m, int layer, int pos, const float *qkv) {
  int C = m->n_embd, hs = C / m->n_head;
  if (m->kv16) {
    for (int h = 0; h < m->n_head; h++) {
      kv16_head head = kv16_at(m, layer, h);
      kv16_store(&head, pos, qkv + C + h * hs, qkv + 2 * C + h * hs, hs);
    }
    return;
  }
  memcpy(m->key_cache + ((size_t)layer * m->n_ctx + pos) * C, qkv + C, C * sizeof(float));
  memcpy(m->value_cache + ((size_t)layer * m->n_ctx + pos) * C, qkv + 2 * C, C * sizeof(float));
}

/* Causal self-attention of the query at absolute position p over cached positions 0..p. */
static void attend(gpt2_model *m, int layer, const float *q, int p, float *out) {
  int C = m->n_embd, hs = C / m->n_head;
  if (m->kv16) {
    for (int h = 0; h < m->n_head; h++) {
      kv16_head head = kv16_at(m, layer, h);
      attention_head_kv16(q + h * hs, &head, p, hs, m->scores, m->weights16, out + h * hs);
    }
    return;
  }
  const float *keys = m->key_cache + (size_t)layer * m->n_ctx * C;
  const float *vals = m->value_cache + (size_t)layer * m->n_ctx * C;
  for (int h = 0; h < m->n_head; h++) attention_head(q + h * hs, keys + h * hs, vals + h * hs, C, p, hs, m->scores, out + h * hs);
}

#ifdef GPT2_BROWSER
/* Head h of attend() for one query: the icchat engine (browser/) shares the heads among its threads, each
 * with its own scratch (scores: n_ctx + 8 floats, weights: n_ctx rounded up to 4, + 8 int16). */
void gpt2_attend_head(const gpt2_model *m, int layer, const float *q, int p, int h, float *out, float *scores,
                      int16_t *weights) {
  int C = m->n_embd, hs = C / m->n_head;
  if (m->kv16) {
    kv16_head head = kv16_at(m, layer, h);
    attention_head_kv16(q + h * hs, &head, p, hs, scores, weights, out + h * hs);
    return;
  }
  const float *keys = m->key_cache + (size_t)layer * m->n_ctx * C;
  const float *vals = m->value_cache + (size_t)layer * m->n_ctx * C;
  attention_head(q + h * hs, keys + h * hs, vals + h * hs, C, p, hs, scores, out + h * hs);
}
#endif

void gpt2_forward(gpt2_model *m, const uint32_t *tokens, int T, int pos, float *logits) {
  int C = m->n_embd;
  for (int t = 0; t < T; t++) embed(m, tokens[t], pos + t, m->x + (size_t)t * C);
  for (int l = 0; l < m->n_layer; l++) {
    for (int t = 0; t < T; t++) layernorm(m->xn + (size_t)t * C, m->x + (size_t)t * C, m->ln1w + l * C, m->ln1b + l * C, C);
    linear(m, &m->qkvw, l, m->qkvb + (size_t)l * 3 * C, m->xn, m->qkv, T);
    for (int t = 0; t < T; t++) cache_kv(m, l, pos + t, m->qkv + (size_t)t * 3 * C);
#ifdef GPT2_BROWSER
    browser_attend(m, l, T, pos); /* every token's heads, shared among the engine's threads */
#else
    for (int t = 0; t < T; t++) attend(m, l, m->qkv + (size_t)t * 3 * C, pos + t, m->att + (size_t)t * C);
#endif
    linear(m, &m->attprojw, l, m->attprojb + l * C, m->att, m->proj, T);
    for (int t = 0; t < T; t++) {
      float *x = m->x + (size_t)t * C;
      add_inplace(x, m->proj + (size_t)t * C, C);
      layernorm(m->xn + (size_t)t * C, x, m->ln2w + l * C, m->ln2b + l * C, C);
    }
    linear(m, &m->fcw, l, m->fcb + (size_t)l * 4 * C, m->xn, m->fc, T);
    gelu(m->fc, T * 4 * C);
    linear(m, &m->fcprojw, l, m->fcprojb + l * C, m->fc, m->proj, T);
    for (int t = 0; t < T; t++) add_inplace(m->x + (size_t)t * C, m->proj + (size_t)t * C, C);
  }
  if (!logits) return;
  float *last = m->xn;
  layernorm(last, m->x + (size_t)(T - 1) * C, m->lnfw, m->lnfb, C);
  matrix head = m->wte;
  head.rows = m->vocab_size; /* padded rows are zero: skip them */
  linear(m, &head, 0, m->zeros, last, logits, 1);
}
