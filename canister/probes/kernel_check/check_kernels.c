/* check_kernels.c: the kernel checks' exports (tests/kernels): each kernel of kernels.h next to its
 * naive reference (kernels_ref.h), on buffers the caller fills in this module's memory. A fast_*
 * export runs the kernel as the model does (its scratch taken here), a ref_* export the reference,
 * with the same arguments, so a test compares the two outputs bit for bit.
 *
 * Buffers come from check_alloc (zeroed, 64-aligned) and are all freed by check_reset: one case
 * allocates, runs both, reads back, resets. Weights are int8 rows [rows][n] for every q8 product;
 * fast_* widens them to row quads (quads_from_int8) first, as gpt2_load does. */
#include "check_kernels.h"

#include "kernels.h"
#include "kernels_ref.h"
#include "rt.h"

#define EXPORT(name) __attribute__((export_name(#name)))

EXPORT(check_alloc) void *check_alloc(uint32_t bytes) { return rt_scratch(bytes, 64); }
EXPORT(check_reset) void check_reset(void) { rt_message_begin(); }

/* ---- f32 products: w [rows][n], x [T][n], bias [rows], out [T][rows] ---- */

EXPORT(fast_matvec_f32) void fast_matvec_f32(float *out, const float *w, const float *x, const float *bias, int rows, int n) {
  matvec_f32(out, w, x, bias, rows, n, check_alloc((uint32_t)(rows / 4 + 4) * 16));
}

EXPORT(fast_matmul_f32) void fast_matmul_f32(float *out, const float *w, const float *x, const float *bias, int rows, int n,
                                             int T) {
  matmul_f32(out, w, x, bias, rows, n, T, check_alloc((uint32_t)(2 * rows + 8) * 16));
}

EXPORT(ref_matmul_f32) void ref_matmul_f32(float *out, const float *w, const float *x, const float *bias, int rows, int n,
                                           int T) {
  matmul_f32_ref(out, w, x, bias, rows, n, T);
}

/* ---- q8 products over row quads: w [rows][n] int8; scale and bias [rows rounded up to 4] ---- */

static const int16_t *quads(const int8_t *w, int rows, int n) {
  int16_t *q = check_alloc((uint32_t)quads_size(rows, n) * 2);
  quads_from_int8(q, w, rows, n);
  return q;
}

EXPORT(fast_matvec_q16) void fast_matvec_q16(float *out, const int8_t *w, const float *scale, const float *x,
                                             const float *bias, int rows, int n) {
  matvec_q16(out, quads(w, rows, n), scale, x, bias, rows, n, check_alloc((uint32_t)(rows / 4 + 1) * 16),
             check_alloc((uint32_t)n * 2));
}

EXPORT(fast_matmul_q16) void fast_matmul_q16(float *out, const int8_t *w, const float *scale, const float *x,
                                             const float *bias, int rows, int n, int T) {
  matmul_q16(out, quads(w, rows, n), scale, x, bias, rows, n, T, check_alloc((uint32_t)(2 * rows + 8) * 16),
             check_alloc((uint32_t)n * 16));
}

EXPORT(ref_matmul_q8) void ref_matmul_q8(float *out, const int8_t *w, const float *scale, const float *x, const float *bias,
                                         int rows, int n, int T) {
  matmul_q8_ref(out, w, scale, x, bias, rows, n, T);
}

/* out [n] = scale · W[r], read back from the row quads */
EXPORT(fast_quads_row) void fast_quads_row(float *out, const int8_t *w, int rows, int n, int r, float scale) {
  quads_row(out, quads(w, rows, n), n, r, scale);
}

EXPORT(ref_quads_row) void ref_quads_row(float *out, const int8_t *w, int n, int r, float scale) {
  quads_row_ref(out, w, n, r, scale);
}

/* ---- per-token steps: all [n] ---- */

EXPORT(fast_layernorm) void fast_layernorm(float *out, const float *x, const float *weight, const float *bias, int n) {
  layernorm(out, x, weight, bias, n);
}

EXPORT(ref_layernorm) void ref_layernorm(float *out, const float *x, const float *weight, const float *bias, int n) {
  layernorm_ref(out, x, weight, bias, n);
}

EXPORT(fast_gelu) void fast_gelu(float *x, int n) { gelu(x, n); }
EXPORT(ref_gelu) void ref_gelu(float *x, int n) { gelu_ref(x, n); }
EXPORT(fast_add_inplace) void fast_add_inplace(float *x, const float *y, int n) { add_inplace(x, y, n); }
EXPORT(ref_add_inplace) void ref_add_inplace(float *x, const float *y, int n) { add_inplace_ref(x, y, n); }

/* ---- attention of one head at position p: q [head_size], keys and values [p + 1] rows `stride`
 * floats apart, out [head_size] ---- */

EXPORT(fast_attention_head) void fast_attention_head(const float *q, const float *keys, const float *vals, int stride, int p,
                                                     int head_size, float *out) {
  attention_head(q, keys, vals, stride, p, head_size, check_alloc((uint32_t)(p + 4) * 4), out);
}

EXPORT(ref_attention_head) void ref_attention_head(const float *q, const float *keys, const float *vals, int stride, int p,
                                                   int head_size, float *out) {
  attention_head_ref(q, keys, vals, stride, p, head_size, check_alloc((uint32_t)(p + 4) * 4), out);
}

/* ---- int16 keys and values: k, v [positions][head_size] f32 are stored at positions 0..positions-1
 * (positions a multiple of 8, so every tile and pair is whole), then the head attends at p ---- */

typedef void kv16_store_fn(const kv16_head *h, int pos, const float *k, const float *v, int head_size);
typedef void kv16_attend_fn(const float *q, const kv16_head *h, int p, int head_size, float *scores, int16_t *weights,
                            float *out);

static void attend_kv16(kv16_store_fn *store, kv16_attend_fn *attend, float *out, const float *q, const float *k,
                        const float *v, int positions, int p, int head_size) {
  uint32_t elements = (uint32_t)(positions * head_size);
  kv16_head h = {check_alloc(elements * 2), check_alloc(elements * 2), check_alloc((uint32_t)positions * 4),
                 check_alloc((uint32_t)positions * 4)};
  for (int s = 0; s < positions; s++) store(&h, s, k + (size_t)s * head_size, v + (size_t)s * head_size, head_size);
  attend(q, &h, p, head_size, check_alloc((uint32_t)(p + 8) * 4), check_alloc((uint32_t)(p + 8) * 2), out);
}

EXPORT(fast_attention_kv16) void fast_attention_kv16(float *out, const float *q, const float *k, const float *v,
                                                     int positions, int p, int head_size) {
  attend_kv16(kv16_store, attention_head_kv16, out, q, k, v, positions, p, head_size);
}

EXPORT(ref_attention_kv16) void ref_attention_kv16(float *out, const float *q, const float *k, const float *v,
                                                   int positions, int p, int head_size) {
  attend_kv16(kv16_store_ref, attention_head_kv16_ref, out, q, k, v, positions, p, head_size);
}
