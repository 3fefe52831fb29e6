/* kernels.c: see kernels.h. */
#include "kernels.h"

#include "mathf.h"
#include "rt.h"

#define F32_BLOCK (BLOCK_COLUMNS / 4)  /* v128 of x per block */
#define I16_BLOCK (BLOCK_COLUMNS / 8)

/* Hide a row pointer from loop strength reduction: without this, clang turns `row[k]` into
 * `ptr + 16k` integer adds (3 IC instructions per load) instead of folding 16k into the
 * load's offset immediate (free), which costs ~25% more per multiply-add. */
#define OPAQUE(pointer) __asm__("" : "+r"(pointer))

static float hsum(v128_t v) {
  v = wasm_f32x4_add(v, wasm_i32x4_shuffle(v, v, 2, 3, 0, 1));
  v = wasm_f32x4_add(v, wasm_i32x4_shuffle(v, v, 1, 0, 3, 2));
  return wasm_f32x4_extract_lane(v, 0);
}

/* One column block of `vectors` v128 (a compile-time constant after inlining, so the loops
 * unroll fully and x stays in locals): partial[r] += W[r][col..] · x[col..] for every row. */
static inline __attribute__((always_inline)) void f32_block(const float *w, const float *x, v128_t *partial,
                                                            int rows, int n, int col, const int vectors) {
  v128_t xv[64];
#pragma clang loop unroll(full)
  for (int k = 0; k < vectors; k++) xv[k] = wasm_v128_load(x + col + 4 * k);
  const float *row = w + col;
  for (int r = 0; r < rows; r++, row += n) {
    const v128_t *wr = (const v128_t *)row;
    OPAQUE(wr);
    v128_t acc = partial[r];
#pragma clang loop unroll(full)
    for (int k = 0; k < vectors; k++) acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wr[k], xv[k]));
    partial[r] = acc;
  }
}

void matvec_f32(float *out, const float *w, const float *x, const float *bias, int rows, int n, v128_t *partial) {
  for (int r = 0; r < rows; r++) partial[r] = wasm_f32x4_splat(0.0f);
  int col = 0;
  for (; col + 2 * BLOCK_COLUMNS <= n; col += 2 * BLOCK_COLUMNS) f32_block(w, x, partial, rows, n, col, 2 * F32_BLOCK);
  for (; col < n; col += BLOCK_COLUMNS) f32_block(w, x, partial, rows, n, col, F32_BLOCK);
  int r = 0;
  for (; r + 4 <= rows; r += 4) { /* four rows' sums at once */
    const v128_t *p = partial + r;
    v128_t t0 = wasm_f32x4_add(wasm_i32x4_shuffle(p[0], p[1], 0, 4, 1, 5), wasm_i32x4_shuffle(p[0], p[1], 2, 6, 3, 7));
    v128_t t1 = wasm_f32x4_add(wasm_i32x4_shuffle(p[2], p[3], 0, 4, 1, 5), wasm_i32x4_shuffle(p[2], p[3], 2, 6, 3, 7));
    v128_t sums = wasm_f32x4_add(wasm_i32x4_shuffle(t0, t1, 0, 1, 4, 5), wasm_i32x4_shuffle(t0, t1, 2, 3, 6, 7));
    wasm_v128_store(out + r, bias ? wasm_f32x4_add(sums, wasm_v128_load(bias + r)) : sums);
  }
  for (; r < rows; r++) out[r] = hsum(partial[r]) + (bias ? bias[r] : 0.0f);
}

static inline __attribute__((always_inline)) void i16_block(const int16_t *w, const int16_t *xq, v128_t *partial,
                                                            int rows, int n, int col, const int vectors) {
  v128_t xv[64];
#pragma clang loop unroll(full)
  for (int k = 0; k < vectors; k++) xv[k] = wasm_v128_load(xq + col + 8 * k);
  const int16_t *row = w + col;
  for (int r = 0; r < rows; r++, row += n) {
    const v128_t *wr = (const v128_t *)row;
    OPAQUE(wr);
    v128_t acc = partial[r];
#pragma clang loop unroll(full)
    for (int k = 0; k < vectors; k++) acc = wasm_i32x4_add(acc, wasm_i32x4_dot_i16x8(wr[k], xv[k]));
    partial[r] = acc;
  }
}

void matvec_q16(float *out, const int16_t *w, const float *scale, const float *x, const float *bias,
                int rows, int n, v128_t *partial, int16_t *xq) {
  v128_t m = wasm_f32x4_splat(0.0f);
  for (int i = 0; i < n; i += 4) m = wasm_f32x4_pmax(m, wasm_f32x4_abs(wasm_v128_load(x + i)));
  m = wasm_f32x4_pmax(m, wasm_i32x4_shuffle(m, m, 2, 3, 0, 1));
  m = wasm_f32x4_pmax(m, wasm_i32x4_shuffle(m, m, 1, 0, 3, 2));
  float max = wasm_f32x4_extract_lane(m, 0);
  float x_scale = max / 8191.0f;
  v128_t inverse = wasm_f32x4_splat(max > 0 ? 8191.0f / max : 0.0f);
  for (int i = 0; i < n; i += 8) { /* round to nearest, then narrow pairs of i32x4 to i16x8 */
    v128_t lo = wasm_i32x4_trunc_sat_f32x4(wasm_f32x4_nearest(wasm_f32x4_mul(wasm_v128_load(x + i), inverse)));
    v128_t hi = wasm_i32x4_trunc_sat_f32x4(wasm_f32x4_nearest(wasm_f32x4_mul(wasm_v128_load(x + i + 4), inverse)));
    wasm_v128_store(xq + i, wasm_i16x8_narrow_i32x4(lo, hi));
  }
  for (int r = 0; r < rows; r++) partial[r] = wasm_i32x4_splat(0);
  int col = 0;
  for (; col + 4 * BLOCK_COLUMNS <= n; col += 4 * BLOCK_COLUMNS) i16_block(w, xq, partial, rows, n, col, 4 * I16_BLOCK);
  for (; col + 2 * BLOCK_COLUMNS <= n; col += 2 * BLOCK_COLUMNS) i16_block(w, xq, partial, rows, n, col, 2 * I16_BLOCK);
  for (; col < n; col += BLOCK_COLUMNS) i16_block(w, xq, partial, rows, n, col, I16_BLOCK);
  int r = 0;
  v128_t xs = wasm_f32x4_splat(x_scale);
  for (; r + 4 <= rows; r += 4) { /* four rows' sums at once, then scale */
    const v128_t *p = partial + r;
    v128_t t0 = wasm_i32x4_add(wasm_i32x4_shuffle(p[0], p[1], 0, 4, 1, 5), wasm_i32x4_shuffle(p[0], p[1], 2, 6, 3, 7));
    v128_t t1 = wasm_i32x4_add(wasm_i32x4_shuffle(p[2], p[3], 0, 4, 1, 5), wasm_i32x4_shuffle(p[2], p[3], 2, 6, 3, 7));
    v128_t sums = wasm_i32x4_add(wasm_i32x4_shuffle(t0, t1, 0, 1, 4, 5), wasm_i32x4_shuffle(t0, t1, 2, 3, 6, 7));
    v128_t y = wasm_f32x4_mul(wasm_f32x4_mul(wasm_f32x4_convert_i32x4(sums), wasm_v128_load(scale + r)), xs);
    wasm_v128_store(out + r, bias ? wasm_f32x4_add(y, wasm_v128_load(bias + r)) : y);
  }
  for (; r < rows; r++) {
    v128_t v = partial[r];
    int32_t sum = wasm_i32x4_extract_lane(v, 0) + wasm_i32x4_extract_lane(v, 1) +
                  wasm_i32x4_extract_lane(v, 2) + wasm_i32x4_extract_lane(v, 3);
    out[r] = (float)sum * scale[r] * x_scale + (bias ? bias[r] : 0.0f);
  }
}

float dot(const float *a, const float *b, int n) {
  v128_t acc = wasm_f32x4_splat(0.0f);
  for (int i = 0; i < n; i += 4) acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_v128_load(a + i), wasm_v128_load(b + i)));
  return hsum(acc);
}

void axpy(float *y, float a, const float *x, int n) {
  v128_t av = wasm_f32x4_splat(a);
  for (int i = 0; i < n; i += 4)
    wasm_v128_store(y + i, wasm_f32x4_add(wasm_v128_load(y + i), wasm_f32x4_mul(av, wasm_v128_load(x + i))));
}

void add_inplace(float *x, const float *y, int n) {
  for (int i = 0; i < n; i += 4) wasm_v128_store(x + i, wasm_f32x4_add(wasm_v128_load(x + i), wasm_v128_load(y + i)));
}

void layernorm(float *out, const float *x, const float *weight, const float *bias, int n) {
  v128_t sum = wasm_f32x4_splat(0.0f), squares = wasm_f32x4_splat(0.0f);
  for (int i = 0; i < n; i += 4) sum = wasm_f32x4_add(sum, wasm_v128_load(x + i));
  v128_t mean = wasm_f32x4_splat(hsum(sum) / n);
  for (int i = 0; i < n; i += 4) {
    v128_t d = wasm_f32x4_sub(wasm_v128_load(x + i), mean);
    squares = wasm_f32x4_add(squares, wasm_f32x4_mul(d, d));
  }
  v128_t rstd = wasm_f32x4_splat(1.0f / gpt2_sqrtf(hsum(squares) / n + 1e-5f));
  for (int i = 0; i < n; i += 4) {
    v128_t y = wasm_f32x4_mul(wasm_f32x4_sub(wasm_v128_load(x + i), mean), rstd);
    wasm_v128_store(out + i, wasm_f32x4_add(wasm_f32x4_mul(y, wasm_v128_load(weight + i)), wasm_v128_load(bias + i)));
  }
}

/* GPT-2's tanh GELU, 0.5 x (1 + tanh(u)) with u = sqrt(2/pi) (x + 0.044715 x^3), computed as
 * the identical x / (1 + exp(-2u)): one exp and one division per four values. */
void gelu(float *x, int n) {
  const v128_t a = wasm_f32x4_splat(-2.0f * 0.7978845608f), b = wasm_f32x4_splat(0.044715f), one = wasm_f32x4_splat(1.0f);
  for (int i = 0; i < n; i += 4) {
    v128_t v = wasm_v128_load(x + i);
    v128_t u = wasm_f32x4_mul(a, wasm_f32x4_add(v, wasm_f32x4_mul(b, wasm_f32x4_mul(v, wasm_f32x4_mul(v, v)))));
    wasm_v128_store(x + i, wasm_f32x4_div(v, wasm_f32x4_add(one, gpt2_expf4(u))));
  }
}

void softmax(float *x, int n) {
  float max = x[0], sum = 0.0f;
  for (int i = 1; i < n; i++)
    if (x[i] > max) max = x[i];
  int i = 0;
  v128_t sums = wasm_f32x4_splat(0.0f), shift = wasm_f32x4_splat(max);
  for (; i + 4 <= n; i += 4) {
    v128_t e = gpt2_expf4(wasm_f32x4_sub(wasm_v128_load(x + i), shift));
    wasm_v128_store(x + i, e);
    sums = wasm_f32x4_add(sums, e);
  }
  for (; i < n; i++) sum += (x[i] = gpt2_expf(x[i] - max));
  sum += hsum(sums);
  v128_t inverse = wasm_f32x4_splat(1.0f / sum);
  for (i = 0; i + 4 <= n; i += 4) wasm_v128_store(x + i, wasm_f32x4_mul(wasm_v128_load(x + i), inverse));
  for (; i < n; i++) x[i] *= 1.0f / sum;
}

/* One head of causal attention for one query: q·k_s for s <= p (q and k rows of `vectors` v128,
 * q held in locals), softmax, then the weighted sum of the value rows (held in locals too). */
static inline __attribute__((always_inline)) void head_block(const float *q, const float *keys, const float *vals, int stride,
                                                             int p, float scale, float *scores, float *out, const int vectors) {
  v128_t qv[16], ov[16];
  v128_t s4 = wasm_f32x4_splat(scale);
#pragma clang loop unroll(full)
  for (int k = 0; k < vectors; k++) {
    qv[k] = wasm_f32x4_mul(wasm_v128_load(q + 4 * k), s4);
    ov[k] = wasm_f32x4_splat(0.0f);
  }
  const float *row = keys;
  for (int s = 0; s <= p; s++, row += stride) {
    const v128_t *kr = (const v128_t *)row;
    OPAQUE(kr);
    v128_t acc = wasm_f32x4_splat(0.0f);
#pragma clang loop unroll(full)
    for (int k = 0; k < vectors; k++) acc = wasm_f32x4_add(acc, wasm_f32x4_mul(kr[k], qv[k]));
    scores[s] = hsum(acc);
  }
  softmax(scores, p + 1);
  row = vals;
  for (int s = 0; s <= p; s++, row += stride) {
    const v128_t *vr = (const v128_t *)row;
    OPAQUE(vr);
    v128_t a = wasm_v128_load32_splat(scores + s);
#pragma clang loop unroll(full)
    for (int k = 0; k < vectors; k++) ov[k] = wasm_f32x4_add(ov[k], wasm_f32x4_mul(vr[k], a));
  }
#pragma clang loop unroll(full)
  for (int k = 0; k < vectors; k++) wasm_v128_store(out + 4 * k, ov[k]);
}

void attention_head(const float *q, const float *keys, const float *vals, int stride, int p, int head_size,
                    float *scores, float *out) {
  float scale = 1.0f / gpt2_sqrtf((float)head_size);
  if (head_size == 64) {
    head_block(q, keys, vals, stride, p, scale, scores, out, 16);
    return;
  }
  if (head_size == 32) {
    head_block(q, keys, vals, stride, p, scale, scores, out, 8);
    return;
  }
  for (int s = 0; s <= p; s++) scores[s] = dot(q, keys + (size_t)s * stride, head_size) * scale;
  softmax(scores, p + 1);
  memset(out, 0, head_size * sizeof(float));
  for (int s = 0; s <= p; s++) axpy(out, scores[s], vals + (size_t)s * stride, head_size);
}
