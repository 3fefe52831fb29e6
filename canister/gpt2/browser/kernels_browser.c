/* kernels_browser.c: the int8 matrix products of kernels_browser.h, beside the canister's kernels
 * (kernels.c, compiled as they are into the same module): activations are quantized by its
 * quantize_row and f32 chains reduced by its sum4, the very same code. */
#include "kernels_browser.h"

#include "kernels.h"

#ifdef __wasm_relaxed_simd__
int q8_kernel = Q8_RELAXED;
#else
int q8_kernel = Q8_WIDEN;
#endif

/* x [T][n] -> a->q [T][n], a->scales [T] (and a->lo, a->hi [T][n] in relaxed builds) */
void q8_quantize(const q8_activations *a, const float *x, int n, int T) {
  for (int t = 0; t < T; t++) a->scales[t] = quantize_row(a->q + (size_t)t * n, x + (size_t)t * n, n);
#ifdef __wasm_relaxed_simd__
  v128_t offset = wasm_i16x8_splat(8192), low7 = wasm_i16x8_splat(127);
  for (size_t i = 0; i < (size_t)T * n; i += 16) { /* u = q + 8192 in [1, 16383]: lo = u & 127, hi = u >> 7 */
    v128_t u0 = wasm_i16x8_add(wasm_v128_load(a->q + i), offset), u1 = wasm_i16x8_add(wasm_v128_load(a->q + i + 8), offset);
    wasm_v128_store(a->lo + i, wasm_u8x16_narrow_i16x8(wasm_v128_and(u0, low7), wasm_v128_and(u1, low7)));
    wasm_v128_store(a->hi + i, wasm_u8x16_narrow_i16x8(wasm_u16x8_shr(u0, 7), wasm_u16x8_shr(u1, 7)));
  }
#endif
}

/* row_sums [rows] = sums of w [rows][n] int8 */
void q8_row_sums(int32_t *row_sums, const int8_t *w, size_t rows, int n) {
  for (size_t r = 0; r < rows; r++) {
    int32_t sum = 0;
    for (int k = 0; k < n; k++) sum += w[r * n + k];
    row_sums[r] = sum;
  }
}

/* lane j = the sum of the four lanes of a_j (i32: exact in any order) */
static inline v128_t lane_sums(v128_t a0, v128_t a1, v128_t a2, v128_t a3) {
  v128_t ab = wasm_i32x4_add(wasm_i32x4_shuffle(a0, a1, 0, 4, 1, 5), wasm_i32x4_shuffle(a0, a1, 2, 6, 3, 7));
  v128_t cd = wasm_i32x4_add(wasm_i32x4_shuffle(a2, a3, 0, 4, 1, 5), wasm_i32x4_shuffle(a2, a3, 2, 6, 3, 7));
  return wasm_i32x4_add(wasm_i32x4_shuffle(ab, cd, 0, 1, 4, 5), wasm_i32x4_shuffle(ab, cd, 2, 3, 6, 7));
}

/* matvec_f32's sums, bit for bit, in the order the memory wants: a group of four rows at a time
 * through all of its column blocks (four sequential streams), the four rows' chains advanced
 * together one v128 at a time. Per row each block's chain is still w0·x0, then + w_k·x_k in k
 * order, reduced by sum4, and blocks added as matvec_f32 adds them (sums + block, then + bias), so
 * only the order of independent operations changes. (The canister's block-major order keeps x in
 * locals; in V8 locals past the registers live on the stack anyway, and the stride between one
 * block of a row and the next defeats the prefetcher: 8.9 GB/s per thread here.) */
static inline __attribute__((always_inline)) v128_t f32_four_rows_block(const float *w, const float *x, int n, int width) {
  const float *w0 = w, *w1 = w + n, *w2 = w + 2 * (size_t)n, *w3 = w + 3 * (size_t)n;
  v128_t x0 = wasm_v128_load(x);
  v128_t a0 = wasm_f32x4_mul(wasm_v128_load(w0), x0), a1 = wasm_f32x4_mul(wasm_v128_load(w1), x0);
  v128_t a2 = wasm_f32x4_mul(wasm_v128_load(w2), x0), a3 = wasm_f32x4_mul(wasm_v128_load(w3), x0);
  for (int k = 4; k < width; k += 4) {
    v128_t xk = wasm_v128_load(x + k);
    a0 = wasm_f32x4_add(a0, wasm_f32x4_mul(wasm_v128_load(w0 + k), xk));
    a1 = wasm_f32x4_add(a1, wasm_f32x4_mul(wasm_v128_load(w1 + k), xk));
    a2 = wasm_f32x4_add(a2, wasm_f32x4_mul(wasm_v128_load(w2 + k), xk));
    a3 = wasm_f32x4_add(a3, wasm_f32x4_mul(wasm_v128_load(w3 + k), xk));
  }
  return sum4(a0, a1, a2, a3);
}

/* out [rows] = w [rows][n] · x [n] + bias [rows], matvec_f32's sums (rows in fours here, the
 * last rows % 4 by matvec_f32 itself); partial: matvec_f32's */
void matvec_f32_rows(float *out, const float *w, const float *x, const float *bias, int rows, int n, v128_t *partial) {
  int r = 0;
  for (; r + 4 <= rows; r += 4) {
    const float *group = w + (size_t)r * n;
    v128_t s = wasm_f32x4_splat(0);
    for (int col = 0; col < n;) { /* matvec_f32's blocks: 768 columns while they fit, then 128 */
      int width = n - col >= 4 * F32_WIDE ? 4 * F32_WIDE : BLOCK_COLUMNS;
      v128_t block = f32_four_rows_block(group + col, x + col, n, width);
      s = col == 0 ? block : wasm_f32x4_add(s, block);
      col += width;
    }
    wasm_v128_store(out + r, wasm_f32x4_add(s, wasm_v128_load(bias + r)));
  }
  if (r < rows) matvec_f32(out + r, w + (size_t)r * n, x, bias + r, rows - r, n, partial); /* rows not in fours */
}

/* Four rows against one token: 16 columns per pass, each weight v128 widened to two i16x8 and
 * multiplied with dot_i16x8 (pmaddwd) into one i32x4 per row; x is loaded once for the four. */
static inline __attribute__((always_inline)) v128_t four_rows_q8(const int8_t *w, int n, const int16_t *xq) {
  const int8_t *w0 = w, *w1 = w + n, *w2 = w + 2 * (size_t)n, *w3 = w + 3 * (size_t)n;
  v128_t a0 = wasm_i32x4_splat(0), a1 = a0, a2 = a0, a3 = a0;
  for (int k = 0; k < n; k += 16) {
    v128_t x0 = wasm_v128_load(xq + k), x1 = wasm_v128_load(xq + k + 8);
    v128_t v0 = wasm_v128_load(w0 + k), v1 = wasm_v128_load(w1 + k);
    v128_t v2 = wasm_v128_load(w2 + k), v3 = wasm_v128_load(w3 + k);
    a0 = wasm_i32x4_add(a0, wasm_i32x4_add(wasm_i32x4_dot_i16x8(wasm_i16x8_extend_low_i8x16(v0), x0),
                                           wasm_i32x4_dot_i16x8(wasm_i16x8_extend_high_i8x16(v0), x1)));
    a1 = wasm_i32x4_add(a1, wasm_i32x4_add(wasm_i32x4_dot_i16x8(wasm_i16x8_extend_low_i8x16(v1), x0),
                                           wasm_i32x4_dot_i16x8(wasm_i16x8_extend_high_i8x16(v1), x1)));
    a2 = wasm_i32x4_add(a2, wasm_i32x4_add(wasm_i32x4_dot_i16x8(wasm_i16x8_extend_low_i8x16(v2), x0),
                                           wasm_i32x4_dot_i16x8(wasm_i16x8_extend_high_i8x16(v2), x1)));
    a3 = wasm_i32x4_add(a3, wasm_i32x4_add(wasm_i32x4_dot_i16x8(wasm_i16x8_extend_low_i8x16(v3), x0),
                                           wasm_i32x4_dot_i16x8(wasm_i16x8_extend_high_i8x16(v3), x1)));
  }
  return lane_sums(a0, a1, a2, a3); /* lane j = row j's sum */
}

static inline int32_t one_row_q8(const int8_t *w, int n, const int16_t *xq) {
  v128_t a = wasm_i32x4_splat(0);
  for (int k = 0; k < n; k += 16) {
    v128_t v = wasm_v128_load(w + k);
    a = wasm_i32x4_add(a, wasm_i32x4_add(wasm_i32x4_dot_i16x8(wasm_i16x8_extend_low_i8x16(v), wasm_v128_load(xq + k)),
                                         wasm_i32x4_dot_i16x8(wasm_i16x8_extend_high_i8x16(v), wasm_v128_load(xq + k + 8))));
  }
  return wasm_i32x4_extract_lane(a, 0) + wasm_i32x4_extract_lane(a, 1) + wasm_i32x4_extract_lane(a, 2) +
         wasm_i32x4_extract_lane(a, 3);
}

/* Two rows against four tokens (the prompt pass): each weight v128 is widened once for the four,
 * acc[t] for row 0, acc[4 + t] for row 1. */
static inline __attribute__((always_inline)) void two_rows_four_tokens(const int8_t *w, int n, const int16_t *xq,
                                                                       int32_t sums[8]) {
  const int8_t *w0 = w, *w1 = w + n;
  v128_t acc[8];
  for (int i = 0; i < 8; i++) acc[i] = wasm_i32x4_splat(0);
  for (int k = 0; k < n; k += 16) {
    v128_t v0 = wasm_v128_load(w0 + k), v1 = wasm_v128_load(w1 + k);
    v128_t l0 = wasm_i16x8_extend_low_i8x16(v0), h0 = wasm_i16x8_extend_high_i8x16(v0);
    v128_t l1 = wasm_i16x8_extend_low_i8x16(v1), h1 = wasm_i16x8_extend_high_i8x16(v1);
#pragma clang loop unroll(full)
    for (int t = 0; t < 4; t++) {
      v128_t xl = wasm_v128_load(xq + (size_t)t * n + k), xh = wasm_v128_load(xq + (size_t)t * n + k + 8);
      acc[t] = wasm_i32x4_add(acc[t], wasm_i32x4_add(wasm_i32x4_dot_i16x8(l0, xl), wasm_i32x4_dot_i16x8(h0, xh)));
      acc[4 + t] = wasm_i32x4_add(acc[4 + t], wasm_i32x4_add(wasm_i32x4_dot_i16x8(l1, xl), wasm_i32x4_dot_i16x8(h1, xh)));
    }
  }
  for (int i = 0; i < 8; i++)
    sums[i] = wasm_i32x4_extract_lane(acc[i], 0) + wasm_i32x4_extract_lane(acc[i], 1) + wasm_i32x4_extract_lane(acc[i], 2) +
              wasm_i32x4_extract_lane(acc[i], 3);
}

#ifdef __wasm_relaxed_simd__
#define DOT7(w, u7, acc) wasm_i32x4_relaxed_dot_i8x16_i7x16_add(w, u7, acc)

/* W[r]·q from the planes' partial sums: 128 · W·hi + W·lo - 8192 · sum(W), wrapping i32 (exact). */
static inline v128_t from_planes(v128_t lo, v128_t hi, v128_t row_sums) {
  return wasm_i32x4_sub(wasm_i32x4_add(wasm_i32x4_shl(hi, 7), lo), wasm_i32x4_shl(row_sums, 13));
}

/* four_rows_q8 with relaxed dots: each weight v128 goes straight into two dots (no widening). */
static inline __attribute__((always_inline)) v128_t four_rows_relaxed(const int8_t *w, int n, const uint8_t *lo,
                                                                      const uint8_t *hi, const int32_t *row_sums) {
  const int8_t *w0 = w, *w1 = w + n, *w2 = w + 2 * (size_t)n, *w3 = w + 3 * (size_t)n;
  v128_t l0 = wasm_i32x4_splat(0), l1 = l0, l2 = l0, l3 = l0, h0 = l0, h1 = l0, h2 = l0, h3 = l0;
  for (int k = 0; k < n; k += 16) {
    v128_t xl = wasm_v128_load(lo + k), xh = wasm_v128_load(hi + k);
    v128_t v0 = wasm_v128_load(w0 + k), v1 = wasm_v128_load(w1 + k);
    v128_t v2 = wasm_v128_load(w2 + k), v3 = wasm_v128_load(w3 + k);
    l0 = DOT7(v0, xl, l0), h0 = DOT7(v0, xh, h0);
    l1 = DOT7(v1, xl, l1), h1 = DOT7(v1, xh, h1);
    l2 = DOT7(v2, xl, l2), h2 = DOT7(v2, xh, h2);
    l3 = DOT7(v3, xl, l3), h3 = DOT7(v3, xh, h3);
  }
  return from_planes(lane_sums(l0, l1, l2, l3), lane_sums(h0, h1, h2, h3), wasm_v128_load(row_sums));
}

/* One row against four tokens (the prompt pass): each weight v128 feeds eight dots. */
static inline __attribute__((always_inline)) v128_t row_four_tokens_relaxed(const int8_t *w, int n, const uint8_t *lo,
                                                                            const uint8_t *hi, int32_t row_sum) {
  v128_t l0 = wasm_i32x4_splat(0), l1 = l0, l2 = l0, l3 = l0, h0 = l0, h1 = l0, h2 = l0, h3 = l0;
  const size_t s = (size_t)n;
  for (int k = 0; k < n; k += 16) {
    v128_t v = wasm_v128_load(w + k);
    l0 = DOT7(v, wasm_v128_load(lo + k), l0), h0 = DOT7(v, wasm_v128_load(hi + k), h0);
    l1 = DOT7(v, wasm_v128_load(lo + s + k), l1), h1 = DOT7(v, wasm_v128_load(hi + s + k), h1);
    l2 = DOT7(v, wasm_v128_load(lo + 2 * s + k), l2), h2 = DOT7(v, wasm_v128_load(hi + 2 * s + k), h2);
    l3 = DOT7(v, wasm_v128_load(lo + 3 * s + k), l3), h3 = DOT7(v, wasm_v128_load(hi + 3 * s + k), h3);
  }
  return from_planes(lane_sums(l0, l1, l2, l3), lane_sums(h0, h1, h2, h3), wasm_i32x4_splat(row_sum)); /* lane t: token t */
}

static void matmul_q8_relaxed(float *out, const int8_t *w, const float *scale, const int32_t *row_sums,
                              const q8_activations *x, const float *bias, int rows, int n, int T, int r0, int r1) {
  int t0 = 0;
  for (; t0 + 4 <= T; t0 += 4) { /* four tokens at a time share each weight load */
    const uint8_t *lo = x->lo + (size_t)t0 * n, *hi = x->hi + (size_t)t0 * n;
    for (int r = r0; r < r1; r++) {
      int32_t sums[4];
      wasm_v128_store(sums, row_four_tokens_relaxed(w + (size_t)r * n, n, lo, hi, row_sums[r]));
      for (int t = 0; t < 4; t++) /* quads_out's steps, one lane at a time: the same f32 values */
        out[(size_t)(t0 + t) * rows + r] = (float)sums[t] * x->scales[t0 + t] * scale[r] + bias[r];
    }
  }
  for (int t = t0; t < T; t++) {
    const uint8_t *lo = x->lo + (size_t)t * n, *hi = x->hi + (size_t)t * n;
    v128_t x_scale = wasm_f32x4_splat(x->scales[t]);
    int r = r0;
    for (; r + 4 <= r1; r += 4) {
      v128_t sums = four_rows_relaxed(w + (size_t)r * n, n, lo, hi, row_sums + r);
      v128_t y = wasm_f32x4_mul(wasm_f32x4_mul(wasm_f32x4_convert_i32x4(sums), x_scale), wasm_v128_load(scale + r));
      wasm_v128_store(out + (size_t)t * rows + r, wasm_f32x4_add(y, wasm_v128_load(bias + r)));
    }
    for (; r < r1; r++) { /* GPT-2's rows come in fours; any other count ends here, exact all the same */
      int32_t sum = 0;
      for (int k = 0; k < n; k++) sum += w[(size_t)r * n + k] * x->q[(size_t)t * n + k];
      out[(size_t)t * rows + r] = (float)sum * x->scales[t] * scale[r] + bias[r];
    }
  }
}
#endif

/* out [T][rows], rows r0..r1-1 only = (w [rows][n] int8 · x->q [T][n]) · x->scales [T] · scale
 * [rows] + bias [rows]; row_sums [rows] (relaxed kernel) */
void matmul_q8_rows(float *out, const int8_t *w, const float *scale, const int32_t *row_sums, const q8_activations *x,
                    const float *bias, int rows, int n, int T, int r0, int r1) {
#ifdef __wasm_relaxed_simd__
  if (q8_kernel == Q8_RELAXED) {
    matmul_q8_relaxed(out, w, scale, row_sums, x, bias, rows, n, T, r0, r1);
    return;
  }
#endif
  (void)row_sums;
  const int16_t *xq = x->q;
  const float *x_scales = x->scales;
  int t0 = 0;
  for (; t0 + 4 <= T; t0 += 4) { /* four tokens at a time share each widened weight */
    const int16_t *x4 = xq + (size_t)t0 * n;
    int r = r0;
    for (; r + 2 <= r1; r += 2) {
      int32_t sums[8];
      two_rows_four_tokens(w + (size_t)r * n, n, x4, sums);
      for (int t = 0; t < 4; t++) { /* quads_out's steps, one lane at a time: the same f32 values */
        out[(size_t)(t0 + t) * rows + r] = (float)sums[t] * x_scales[t0 + t] * scale[r] + bias[r];
        out[(size_t)(t0 + t) * rows + r + 1] = (float)sums[4 + t] * x_scales[t0 + t] * scale[r + 1] + bias[r + 1];
      }
    }
    for (; r < r1; r++)
      for (int t = t0; t < t0 + 4; t++)
        out[(size_t)t * rows + r] = (float)one_row_q8(w + (size_t)r * n, n, xq + (size_t)t * n) * x_scales[t] * scale[r] + bias[r];
  }
  if (t0 == T) return;
  out += (size_t)t0 * rows;
  xq += (size_t)t0 * n;
  x_scales += t0;
  T -= t0;
  int r = r0;
  for (; r + 4 <= r1; r += 4) {
    const int8_t *group = w + (size_t)r * n;
    v128_t row_scale = wasm_v128_load(scale + r), b = wasm_v128_load(bias + r);
    for (int t = 0; t < T; t++) { /* quads_out's steps: (sum · x_scale) · row_scale + bias */
      v128_t sums = four_rows_q8(group, n, xq + (size_t)t * n);
      v128_t y = wasm_f32x4_mul(wasm_f32x4_mul(wasm_f32x4_convert_i32x4(sums), wasm_f32x4_splat(x_scales[t])), row_scale);
      wasm_v128_store(out + (size_t)t * rows + r, wasm_f32x4_add(y, b));
    }
  }
  for (; r < r1; r++)
    for (int t = 0; t < T; t++)
      out[(size_t)t * rows + r] = (float)one_row_q8(w + (size_t)r * n, n, xq + (size_t)t * n) * x_scales[t] * scale[r] + bias[r];
}
