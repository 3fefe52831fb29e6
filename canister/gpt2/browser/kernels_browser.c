/* kernels_browser.c: the canister's kernels (kernels.c, included as is: the browser build compiles
 * this file instead of it, so quantize_to and row_limit are the very same code) plus the int8
 * matrix products of kernels_browser.h. */
#include "../kernels.c"

#include "kernels_browser.h"

void q8_quantize(int16_t *xq, float *x_scales, const float *x, int n, int T) {
  for (int t = 0; t < T; t++) x_scales[t] = quantize_to(xq + (size_t)t * n, x + (size_t)t * n, n, row_limit(n));
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
  /* lane j = row j's sum (i32 transposes: exact in any order) */
  v128_t ab = wasm_i32x4_add(wasm_i32x4_shuffle(a0, a1, 0, 4, 1, 5), wasm_i32x4_shuffle(a0, a1, 2, 6, 3, 7));
  v128_t cd = wasm_i32x4_add(wasm_i32x4_shuffle(a2, a3, 0, 4, 1, 5), wasm_i32x4_shuffle(a2, a3, 2, 6, 3, 7));
  return wasm_i32x4_add(wasm_i32x4_shuffle(ab, cd, 0, 1, 4, 5), wasm_i32x4_shuffle(ab, cd, 2, 3, 6, 7));
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

void matmul_q8_rows(float *out, const int8_t *w, const float *scale, const int16_t *xq, const float *x_scales,
                    const float *bias, int rows, int n, int T, int r0, int r1) {
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
