/* kernels.c: see kernels.h. */
#include "kernels.h"

#include "mathf.h"

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
  for (int r = 0; r < rows; r++) out[r] = hsum(partial[r]) + (bias ? bias[r] : 0.0f);
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
  float max = 0.0f;
  for (int i = 0; i < n; i++) {
    float a = x[i] < 0 ? -x[i] : x[i];
    if (a > max) max = a;
  }
  float x_scale = max / 8191.0f, inverse = max > 0 ? 8191.0f / max : 0.0f;
  for (int i = 0; i < n; i++) xq[i] = (int16_t)__builtin_rintf(x[i] * inverse);
  for (int r = 0; r < rows; r++) partial[r] = wasm_i32x4_splat(0);
  int col = 0;
  for (; col + 4 * BLOCK_COLUMNS <= n; col += 4 * BLOCK_COLUMNS) i16_block(w, xq, partial, rows, n, col, 4 * I16_BLOCK);
  for (; col + 2 * BLOCK_COLUMNS <= n; col += 2 * BLOCK_COLUMNS) i16_block(w, xq, partial, rows, n, col, 2 * I16_BLOCK);
  for (; col < n; col += BLOCK_COLUMNS) i16_block(w, xq, partial, rows, n, col, I16_BLOCK);
  for (int r = 0; r < rows; r++) {
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
  float mean = 0.0f, var = 0.0f;
  for (int i = 0; i < n; i++) mean += x[i];
  mean /= n;
  for (int i = 0; i < n; i++) var += (x[i] - mean) * (x[i] - mean);
  float rstd = 1.0f / gpt2_sqrtf(var / n + 1e-5f);
  for (int i = 0; i < n; i++) out[i] = (x[i] - mean) * rstd * weight[i] + bias[i];
}

void gelu(float *x, int n) {
  const float s = 0.7978845608f; /* sqrt(2/pi) */
  for (int i = 0; i < n; i++) {
    float v = x[i];
    x[i] = 0.5f * v * (1.0f + gpt2_tanhf(s * (v + 0.044715f * v * v * v)));
  }
}

void softmax(float *x, int n) {
  float max = x[0], sum = 0.0f;
  for (int i = 1; i < n; i++)
    if (x[i] > max) max = x[i];
  for (int i = 0; i < n; i++) sum += (x[i] = gpt2_expf(x[i] - max));
  for (int i = 0; i < n; i++) x[i] /= sum;
}
