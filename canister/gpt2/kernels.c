/* kernels.c: see kernels.h. */
#include "kernels.h"

#include "mathf.h"
#include "rt.h"

#define F32_BLOCK (BLOCK_COLUMNS / 4) /* the narrow block: 128 columns */

/* Hide a row pointer from loop strength reduction: without this, clang turns `row[k]` into
 * `ptr + 16k` integer adds (3 IC instructions per load) instead of folding 16k into the
 * load's offset immediate (free), which costs ~25% more per multiply-add. */
#define OPAQUE(pointer) __asm__("" : "+r"(pointer))

static float hsum(v128_t v) {
  v = wasm_f32x4_add(v, wasm_i32x4_shuffle(v, v, 2, 3, 0, 1));
  v = wasm_f32x4_add(v, wasm_i32x4_shuffle(v, v, 1, 0, 3, 2));
  return wasm_f32x4_extract_lane(v, 0);
}

/* The products of a block: rows are chains `acc = acc + W[r][k] * x[k]` over `vectors` v128
 * (a compile-time constant after inlining: the loops unroll fully, x stays in locals, each row
 * pointer is one local and every load's offset is an immediate). */
#define F32_CHAIN(row, xv, vectors, acc)                                                      \
  do {                                                                                        \
    acc = wasm_f32x4_mul(row[0], xv[0]);                                                      \
    _Pragma("clang loop unroll(full)") for (int k = 1; k < vectors; k++)                      \
        acc = wasm_f32x4_add(acc, wasm_f32x4_mul(row[k], xv[k]));                              \
  } while (0)
/* Four row pointers `stride` elements apart (r0..r3), each hidden from strength reduction; and
 * their chains against xv (a0..a3). */
#define FOUR_ROWS(row, stride)                                                                          \
  const v128_t *r0 = (const v128_t *)(row), *r1 = (const v128_t *)((row) + (stride));                   \
  const v128_t *r2 = (const v128_t *)((row) + 2 * (stride)), *r3 = (const v128_t *)((row) + 3 * (stride)); \
  OPAQUE(r0);                                                                                           \
  OPAQUE(r1);                                                                                           \
  OPAQUE(r2);                                                                                           \
  OPAQUE(r3)
#define FOUR_CHAINS(xv, vectors)   \
  v128_t a0, a1, a2, a3;           \
  F32_CHAIN(r0, xv, vectors, a0);  \
  F32_CHAIN(r1, xv, vectors, a1);  \
  F32_CHAIN(r2, xv, vectors, a2);  \
  F32_CHAIN(r3, xv, vectors, a3)
/* One column block [col, col + 4 · vectors) for every row, four rows per pass. Partial sums of
 * several blocks live in `sums` (one v128 per four rows, then one unreduced v128 per tail row);
 * the first block stores them, the last adds the bias and writes out. `flags` is a compile-time
 * constant, so each variant's loop has no branches. */
enum { FIRST = 1, LAST = 2 };

static inline __attribute__((always_inline)) void f32_block(float *out, const float *w, const float *x, const float *bias,
                                                            v128_t *sums, int rows, int n, int col, const int vectors,
                                                            const int flags) {
  v128_t xv[F32_WIDE];
#pragma clang loop unroll(full)
  for (int k = 0; k < vectors; k++) xv[k] = wasm_v128_load(x + col + 4 * k);
  const float *row = w + col;
  int r = 0;
  for (; r + 4 <= rows; r += 4, row += 4 * (size_t)n) {
    FOUR_ROWS(row, n);
    FOUR_CHAINS(xv, vectors);
    v128_t s = sum4(a0, a1, a2, a3);
    if (!(flags & FIRST)) s = wasm_f32x4_add(sums[r / 4], s);
    if (flags & LAST) wasm_v128_store(out + r, wasm_f32x4_add(s, wasm_v128_load(bias + r)));
    else sums[r / 4] = s;
  }
  for (int j = rows / 4; r < rows; r++, j++, row += n) {
    const v128_t *r0 = (const v128_t *)row;
    OPAQUE(r0);
    v128_t a0;
    F32_CHAIN(r0, xv, vectors, a0);
    if (!(flags & FIRST)) a0 = wasm_f32x4_add(sums[j], a0);
    if (flags & LAST) out[r] = hsum(a0) + bias[r];
    else sums[j] = a0;
  }
}

/* Call a block variant with constant flags. */
#define WITH_FLAGS(block, first, last, ...)         \
  do {                                              \
    if (first && last) block(__VA_ARGS__, FIRST | LAST); \
    else if (first) block(__VA_ARGS__, FIRST);      \
    else if (last) block(__VA_ARGS__, LAST);        \
    else block(__VA_ARGS__, 0);                     \
  } while (0)

/* out [rows] = w [rows][n] · x [n] + bias [rows]; partial [rows / 4 + 4] v128. Row r's sum: per
 * block, lanes j = 0..3 over columns col + j + 4i, then rows in fours reduce each block and add
 * the blocks, the last rows % 4 add lanes across blocks and reduce once (kernels_ref.c). */
void matvec_f32(float *out, const float *w, const float *x, const float *bias, int rows, int n, v128_t *partial) {
  for (int col = 0; col < n;) {
    int wide = n - col >= 4 * F32_WIDE, next = col + (wide ? 4 * F32_WIDE : BLOCK_COLUMNS);
    if (wide) WITH_FLAGS(f32_block, col == 0, next == n, out, w, x, bias, partial, rows, n, col, F32_WIDE);
    else WITH_FLAGS(f32_block, col == 0, next == n, out, w, x, bias, partial, rows, n, col, F32_BLOCK);
    col = next;
  }
}

/* ---- int8 weights as int16 "row quads" ----
 * Rows are grouped by four (zero rows pad the last group); a group is n/2 v128, the v128 for
 * column pair p holding [r0 c2p, r0 c2p+1, r1 c2p, r1 c2p+1, r2 .., r3 ..]. Against x pairs
 * broadcast to all four lanes (v128.load32_splat), i32x4.dot_i16x8_s then yields each of the four
 * rows' partial sum in its own lane: no horizontal reduction, one weight pointer per group. */

/* w [rows][n] int8 -> row quads [ceil(rows / 4)][n / 2][4][2] int16 */
size_t quads_size(int rows, int n) { return (size_t)((rows + 3) / 4) * 4 * n; }

void quads_from_int8(int16_t *out, const int8_t *q, int rows, int n) {
  for (int r = 0; r < (rows + 3) / 4 * 4; r++) {
    int16_t *dst = out + (size_t)(r / 4) * 4 * n + 2 * (r % 4);
    const int8_t *src = r < rows ? q + (size_t)r * n : 0; /* padding rows are zero */
    for (int p = 0; p < n / 2; p++) {
      dst[8 * p] = src ? src[2 * p] : 0;
      dst[8 * p + 1] = src ? src[2 * p + 1] : 0;
    }
  }
}

void quads_row(float *out, const int16_t *w, int n, int r, float scale) {
  const int16_t *src = w + (size_t)(r / 4) * 4 * n + 2 * (r % 4);
  for (int p = 0; p < n / 2; p++) {
    out[2 * p] = src[8 * p] * scale;
    out[2 * p + 1] = src[8 * p + 1] * scale;
  }
}

/* The four rows' partial sums of one group over `pairs` column pairs (i32 lanes). */
static inline __attribute__((always_inline)) v128_t quads_dot(const int16_t *group, const v128_t *xv, const int pairs) {
  const v128_t *q = (const v128_t *)group;
  OPAQUE(q);
  v128_t acc = wasm_i32x4_dot_i16x8(q[0], xv[0]);
#pragma clang loop unroll(full)
  for (int k = 1; k < pairs; k++) acc = wasm_i32x4_add(acc, wasm_i32x4_dot_i16x8(q[k], xv[k]));
  return acc;
}

/* A group's exact i32 row sums -> out = sum · x_scale · row_scale + bias. */
static inline __attribute__((always_inline)) void quads_out(float *out, v128_t sums, v128_t x_scale, const float *row_scale,
                                                            const float *bias, int rows_left) {
  v128_t y = wasm_f32x4_mul(wasm_f32x4_mul(wasm_f32x4_convert_i32x4(sums), x_scale), wasm_v128_load(row_scale));
  y = wasm_f32x4_add(y, wasm_v128_load(bias));
  if (rows_left >= 4) {
    wasm_v128_store(out, y);
  } else { /* the last group, padded with zero rows */
    float lanes[4];
    wasm_v128_store(lanes, y);
    for (int r = 0; r < rows_left; r++) out[r] = lanes[r];
  }
}

/* One block of `pairs` column pairs (from pair p0) for every group of four rows. Sums stay in
 * i32 across blocks: quantize() bounds |x| so a whole row's sum is exact (n · 128 · limit < 2^31),
 * which makes the result independent of how the columns are blocked (see matmul_q16). */
static inline __attribute__((always_inline)) void quads_block(float *out, const int16_t *w, const int16_t *xq, float x_scale,
                                                              const float *row_scale, const float *bias, v128_t *sums,
                                                              int rows, int n, int p0, const int pairs, const int flags) {
  v128_t xv[384];
#pragma clang loop unroll(full)
  for (int k = 0; k < pairs; k++) xv[k] = wasm_v128_load32_splat(xq + 2 * (p0 + k));
  v128_t xs = wasm_f32x4_splat(x_scale);
  const int16_t *group = w + (size_t)p0 * 8;
  int g = 0;
  for (; 4 * g + 4 <= rows; g++, group += 4 * (size_t)n) {
    v128_t s = quads_dot(group, xv, pairs);
    if (!(flags & FIRST)) s = wasm_i32x4_add(sums[g], s);
    if (flags & LAST) quads_out(out + 4 * g, s, xs, row_scale + 4 * g, bias + 4 * g, 4);
    else sums[g] = s;
  }
  if (4 * g < rows) { /* row_scale and bias have padded_vocab (a multiple of 128) entries */
    v128_t s = quads_dot(group, xv, pairs);
    if (!(flags & FIRST)) s = wasm_i32x4_add(sums[g], s);
    if (flags & LAST) quads_out(out + 4 * g, s, xs, row_scale + 4 * g, bias + 4 * g, rows - 4 * g);
    else sums[g] = s;
  }
}

#define QUAD_PAIRS 384 /* x pairs held in locals per block: 768 columns */

/* x -> int16 with |q| <= limit (round to nearest); returns the scale: x ≈ q · scale. */
/* xq [n] <- x [n]. If max |x| < limit / FLT_MAX (~2.4e-35 for 8191), limit / max is inf and
 * q saturates at ±32767, past the bound that keeps sums exact: the q16 and widened q8 products
 * still equal kernels_ref.c there, the relaxed one does not (its u7 planes saturate). */
static float quantize_to(int16_t *xq, const float *x, int n, float limit) {
  v128_t m = wasm_f32x4_splat(0.0f);
  v128_t magnitude = wasm_i32x4_splat(0x7fffffff); /* |x| by clearing the sign: v128.and costs 1, f32x4.abs 2 */
  for (int i = 0; i < n; i += 4) m = wasm_f32x4_pmax(m, wasm_v128_and(wasm_v128_load(x + i), magnitude));
  m = wasm_f32x4_pmax(m, wasm_i32x4_shuffle(m, m, 2, 3, 0, 1));
  m = wasm_f32x4_pmax(m, wasm_i32x4_shuffle(m, m, 1, 0, 3, 2));
  float max = wasm_f32x4_extract_lane(m, 0);
  v128_t inverse = wasm_f32x4_splat(max > 0 ? limit / max : 0.0f);
  for (int i = 0; i < n; i += 8) { /* round, then narrow pairs of i32x4 to i16x8 */
    v128_t lo = wasm_i32x4_trunc_sat_f32x4(wasm_f32x4_nearest(wasm_f32x4_mul(wasm_v128_load(x + i), inverse)));
    v128_t hi = wasm_i32x4_trunc_sat_f32x4(wasm_f32x4_nearest(wasm_f32x4_mul(wasm_v128_load(x + i + 4), inverse)));
    wasm_v128_store(xq + i, wasm_i16x8_narrow_i32x4(lo, hi));
  }
  return max / limit;
}

static float quantize(int16_t *xq, const float *x, int n) { return quantize_to(xq, x, n, 8191.0f); }

/* The activation bound for a row of n int8 weights (|w| <= 128): the whole row's i32 sum is
 * exact, n · 128 · limit < 2^31 (8191 up to n = 2048, then e.g. 5461 for n = 3072). */
static float row_limit(int n) {
  int limit = (int)(2147483647u / (128u * (unsigned)n));
  return (float)(limit < 8191 ? limit : 8191);
}

float quantize_row(int16_t *xq, const float *x, int n) { return quantize_to(xq, x, n, row_limit(n)); }

/* out [rows] = (W [rows][n] · q(x [n])) · x_scale · scale [rows] + bias [rows]; w: row quads,
 * scale and bias padded to a multiple of 4; partial [rows / 4 + 1] v128, xq [n] int16. */
void matvec_q16(float *out, const int16_t *w, const float *scale, const float *x, const float *bias,
                int rows, int n, v128_t *partial, int16_t *xq) {
  float x_scale = quantize_to(xq, x, n, row_limit(n));
  for (int p = 0; p < n / 2;) {
    int wide = n / 2 - p >= QUAD_PAIRS, next = p + (wide ? QUAD_PAIRS : BLOCK_COLUMNS / 2);
    if (wide) WITH_FLAGS(quads_block, p == 0, next == n / 2, out, w, xq, x_scale, scale, bias, partial, rows, n, p, QUAD_PAIRS);
    else WITH_FLAGS(quads_block, p == 0, next == n / 2, out, w, xq, x_scale, scale, bias, partial, rows, n, p, BLOCK_COLUMNS / 2);
    p = next;
  }
}

/* ---- several tokens at once (the prompt pass) ----
 * Eight tokens share each weight load: a block's weights for one row (f32) or group of four rows
 * (q16) go to locals once, then eight chains run over them against the tokens' x held in locals,
 * so a multiply-add costs its two local.get, the product and the add, plus 3/8 for the load. */
#define BATCH 8

static inline __attribute__((always_inline)) void f32_batch_block(float *out, const float *w, const float *x,
                                                                  const float *bias, v128_t *sums, int rows, int n,
                                                                  int col, const int vectors, int first, int last) {
  v128_t xv[BATCH][F32_WIDE];
#pragma clang loop unroll(full)
  for (int t = 0; t < BATCH; t++)
#pragma clang loop unroll(full)
    for (int k = 0; k < vectors; k++) xv[t][k] = wasm_v128_load(x + (size_t)t * n + col + 4 * k);
  const float *row = w + col;
  for (int r = 0; r < rows; r++, row += n) {
    const v128_t *q = (const v128_t *)row;
    OPAQUE(q);
    v128_t wv[F32_WIDE], a[BATCH];
#pragma clang loop unroll(full)
    for (int k = 0; k < vectors; k++) wv[k] = q[k];
#pragma clang loop unroll(full)
    for (int t = 0; t < BATCH; t++) F32_CHAIN(wv, xv[t], vectors, a[t]);
    v128_t lo = sum4(a[0], a[1], a[2], a[3]), hi = sum4(a[4], a[5], a[6], a[7]); /* tokens 0-3, 4-7 */
    if (!first) { /* a branch per row is noise next to 8 · vectors multiply-adds */
      lo = wasm_f32x4_add(sums[2 * r], lo);
      hi = wasm_f32x4_add(sums[2 * r + 1], hi);
    }
    if (last) {
      v128_t b = wasm_v128_load32_splat(bias + r);
      lo = wasm_f32x4_add(lo, b);
      hi = wasm_f32x4_add(hi, b);
      out[r] = wasm_f32x4_extract_lane(lo, 0);
      out[rows + r] = wasm_f32x4_extract_lane(lo, 1);
      out[2 * rows + r] = wasm_f32x4_extract_lane(lo, 2);
      out[3 * rows + r] = wasm_f32x4_extract_lane(lo, 3);
      out[4 * rows + r] = wasm_f32x4_extract_lane(hi, 0);
      out[5 * rows + r] = wasm_f32x4_extract_lane(hi, 1);
      out[6 * rows + r] = wasm_f32x4_extract_lane(hi, 2);
      out[7 * rows + r] = wasm_f32x4_extract_lane(hi, 3);
    } else {
      sums[2 * r] = lo;
      sums[2 * r + 1] = hi;
    }
  }
}

/* out [T][rows] = x [T][n] · w [rows][n]^T + bias [rows]; partial [2 rows + 8] v128. Tokens in
 * full batches of 8 reduce every row per block; the rest run matvec_f32 (so a row past the last
 * four of a batched token is added in another order than alone: GPT-2's rows come in fours). */
void matmul_f32(float *out, const float *w, const float *x, const float *bias, int rows, int n, int T, v128_t *partial) {
  int t = 0;
  for (; t + BATCH <= T; t += BATCH) {
    float *o = out + (size_t)t * rows;
    const float *xt = x + (size_t)t * n;
    for (int col = 0; col < n;) { /* the same column blocks as matvec_f32: the same sums, bit for bit */
      int wide = n - col >= 4 * F32_WIDE, next = col + (wide ? 4 * F32_WIDE : BLOCK_COLUMNS);
      if (wide) f32_batch_block(o, w, xt, bias, partial, rows, n, col, F32_WIDE, col == 0, next == n);
      else f32_batch_block(o, w, xt, bias, partial, rows, n, col, F32_BLOCK, col == 0, next == n);
      col = next;
    }
  }
  for (; t < T; t++) matvec_f32(out + (size_t)t * rows, w, x + (size_t)t * n, bias, rows, n, partial);
}

/* 64 column pairs (128 columns) of every group of four rows, for eight tokens: sums[8 g + t]
 * (+)= the group's four partial sums for token t. */
static inline __attribute__((always_inline)) void quads_batch_block(const int16_t *w, const int16_t *xq, v128_t *sums,
                                                                    int rows, int n, int p0, const int first) {
  enum { PAIRS = BLOCK_COLUMNS / 2 };
  v128_t xv[BATCH][PAIRS];
#pragma clang loop unroll(full)
  for (int t = 0; t < BATCH; t++)
#pragma clang loop unroll(full)
    for (int k = 0; k < PAIRS; k++) xv[t][k] = wasm_v128_load32_splat(xq + (size_t)t * n + 2 * (p0 + k));
  const int16_t *group = w + (size_t)p0 * 8;
  v128_t *s = sums;
  for (int g = 0; 4 * g < rows; g++, group += 4 * (size_t)n, s += BATCH) {
    const v128_t *q = (const v128_t *)group;
    OPAQUE(q);
    v128_t wv[PAIRS];
#pragma clang loop unroll(full)
    for (int k = 0; k < PAIRS; k++) wv[k] = q[k];
#pragma clang loop unroll(full)
    for (int t = 0; t < BATCH; t++) {
      v128_t acc = wasm_i32x4_dot_i16x8(wv[0], xv[t][0]);
#pragma clang loop unroll(full)
      for (int k = 1; k < PAIRS; k++) acc = wasm_i32x4_add(acc, wasm_i32x4_dot_i16x8(wv[k], xv[t][k]));
      s[t] = first ? acc : wasm_i32x4_add(s[t], acc);
    }
  }
}

/* out [T][rows] as matvec_q16 per token; partial [2 rows + 8] v128, xq [8][n] int16. */
void matmul_q16(float *out, const int16_t *w, const float *scale, const float *x, const float *bias, int rows, int n,
                int T, v128_t *partial, int16_t *xq) {
  int t = 0;
  for (; rows % 4 == 0 && t + BATCH <= T; t += BATCH) { /* whole groups (every stacked matrix) */
    float x_scales[BATCH];
    for (int i = 0; i < BATCH; i++) x_scales[i] = quantize_to(xq + (size_t)i * n, x + (size_t)(t + i) * n, n, row_limit(n));
    quads_batch_block(w, xq, partial, rows, n, 0, 1);
    for (int p = BLOCK_COLUMNS / 2; p < n / 2; p += BLOCK_COLUMNS / 2) quads_batch_block(w, xq, partial, rows, n, p, 0);
    for (int i = 0; i < BATCH; i++) { /* out = sums · x_scale · row_scale + bias */
      float *o = out + (size_t)(t + i) * rows;
      v128_t xs = wasm_f32x4_splat(x_scales[i]);
      for (int r = 0; r < rows; r += 4) {
        quads_out(o + r, partial[BATCH * (r / 4) + i], xs, scale + r, bias + r, 4);
      }
    }
  }
  for (; t < T; t++) matvec_q16(out + (size_t)t * rows, w, scale, x + (size_t)t * n, bias, rows, n, partial, xq);
}

/* n a multiple of 4 */
static float dot(const float *a, const float *b, int n) {
  v128_t acc = wasm_f32x4_splat(0.0f);
  for (int i = 0; i < n; i += 4) acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_v128_load(a + i), wasm_v128_load(b + i)));
  return hsum(acc);
}

/* y += a x; n a multiple of 4 */
static void axpy(float *y, float a, const float *x, int n) {
  v128_t av = wasm_f32x4_splat(a);
  for (int i = 0; i < n; i += 4)
    wasm_v128_store(y + i, wasm_f32x4_add(wasm_v128_load(y + i), wasm_f32x4_mul(av, wasm_v128_load(x + i))));
}

/* x [n] += y [n] */
void add_inplace(float *x, const float *y, int n) {
  for (int i = 0; i < n; i += 4) wasm_v128_store(x + i, wasm_f32x4_add(wasm_v128_load(x + i), wasm_v128_load(y + i)));
}

/* out [n] = (x [n] - mean) · rstd · weight [n] + bias [n]; sums in four lanes from +0 */
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
/* x [n] in place */
void gelu(float *x, int n) {
  const v128_t a = wasm_f32x4_splat(-2.0f * 0.7978845608f), b = wasm_f32x4_splat(0.044715f), one = wasm_f32x4_splat(1.0f);
  for (int i = 0; i < n; i += 4) {
    v128_t v = wasm_v128_load(x + i);
    v128_t u = wasm_f32x4_mul(a, wasm_f32x4_add(v, wasm_f32x4_mul(b, wasm_f32x4_mul(v, wasm_f32x4_mul(v, v)))));
    wasm_v128_store(x + i, wasm_f32x4_div(v, wasm_f32x4_add(one, gpt2_expf4(u))));
  }
}

static void softmax(float *x, int n) {
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

/* One head of causal attention for one query, q and the running output held in v128 locals:
 * scores q·k_s for s <= p four positions per pass (one reduction per four), their maximum on the
 * way; e_s = exp(score_s - max); out = (sum of e_s v_s, four value rows per pass) / sum of e_s. */
static inline __attribute__((always_inline)) void head_block(const float *q, const float *keys, const float *vals, int stride,
                                                             int p, float scale, float *scores, float *out, const int vectors) {
  v128_t qv[16], ov[16];
  v128_t s4 = wasm_f32x4_splat(scale), zero = wasm_f32x4_splat(0.0f);
#pragma clang loop unroll(full)
  for (int k = 0; k < vectors; k++) {
    qv[k] = wasm_f32x4_mul(wasm_v128_load(q + 4 * k), s4);
    ov[k] = zero;
  }
  int n = p + 1, s = 0;
  v128_t top = wasm_f32x4_splat(-__builtin_inff());
  const float *row = keys;
  for (; s + 4 <= n; s += 4, row += 4 * (size_t)stride) {
    FOUR_ROWS(row, stride);
    FOUR_CHAINS(qv, vectors);
    v128_t four = sum4(a0, a1, a2, a3);
    wasm_v128_store(scores + s, four);
    top = wasm_f32x4_pmax(top, four);
  }
  for (; s < n; s++, row += stride) {
    const v128_t *r0 = (const v128_t *)row;
    OPAQUE(r0);
    v128_t a0;
    F32_CHAIN(r0, qv, vectors, a0);
    scores[s] = hsum(a0);
    top = wasm_f32x4_pmax(top, wasm_v128_load32_splat(scores + s));
  }
  top = wasm_f32x4_pmax(top, wasm_i32x4_shuffle(top, top, 2, 3, 0, 1));
  top = wasm_f32x4_pmax(top, wasm_i32x4_shuffle(top, top, 1, 0, 3, 2));
  v128_t sums = zero;
  for (s = 0; s < n; s += 4) { /* scores has room for a multiple of 4; lanes past p are masked */
    v128_t e = gpt2_expf4(wasm_f32x4_sub(wasm_v128_load(scores + s), top));
    if (s + 4 > n) e = wasm_v128_and(e, wasm_i32x4_lt(wasm_i32x4_make(s, s + 1, s + 2, s + 3), wasm_i32x4_splat(n)));
    wasm_v128_store(scores + s, e);
    sums = wasm_f32x4_add(sums, e);
  }
  row = vals;
  for (s = 0; s + 4 <= n; s += 4, row += 4 * (size_t)stride) {
    FOUR_ROWS(row, stride);
    v128_t e0 = wasm_v128_load32_splat(scores + s), e1 = wasm_v128_load32_splat(scores + s + 1);
    v128_t e2 = wasm_v128_load32_splat(scores + s + 2), e3 = wasm_v128_load32_splat(scores + s + 3);
#pragma clang loop unroll(full)
    for (int k = 0; k < vectors; k++)
      ov[k] = wasm_f32x4_add(ov[k], wasm_f32x4_add(wasm_f32x4_add(wasm_f32x4_mul(r0[k], e0), wasm_f32x4_mul(r1[k], e1)),
                                                   wasm_f32x4_add(wasm_f32x4_mul(r2[k], e2), wasm_f32x4_mul(r3[k], e3))));
  }
  for (; s < n; s++, row += stride) {
    const v128_t *r0 = (const v128_t *)row;
    OPAQUE(r0);
    v128_t e0 = wasm_v128_load32_splat(scores + s);
#pragma clang loop unroll(full)
    for (int k = 0; k < vectors; k++) ov[k] = wasm_f32x4_add(ov[k], wasm_f32x4_mul(r0[k], e0));
  }
  v128_t inverse = wasm_f32x4_splat(1.0f / hsum(sums));
#pragma clang loop unroll(full)
  for (int k = 0; k < vectors; k++) wasm_v128_store(out + 4 * k, wasm_f32x4_mul(ov[k], inverse));
}

/* ---- attention over int16 keys and values (q8 models) ----
 * Keys are stored in tiles of four positions, the v128 for dimension pair j holding that pair for
 * each of the four positions: against q's pair j broadcast, i32x4.dot_i16x8_s gives the four
 * positions' partial scores in their own lanes. Values are stored by position pairs, the v128 for
 * dimensions 4i..4i+3 holding each dimension for both positions: against the two positions'
 * weights broadcast, the dot gives four dimensions' partial outputs. Each position's key and
 * value have their own scale (|q| <= 8191 per element). */

/* Quantize position pos's key and value and write them into their tile and pair (lane stores:
 * a position owns 32 bits of each key v128 and 16 bits of each value v128). */
static inline __attribute__((always_inline)) void store_kv16(const kv16_head *h, int pos, const float *k, const float *v,
                                                             const int head_size) {
  int16_t q[64] __attribute__((aligned(16)));
  h->key_scale[pos] = quantize(q, k, head_size);
  int32_t *tile = (int32_t *)(h->keys + (size_t)(pos / 4) * 4 * head_size) + pos % 4;
  OPAQUE(tile);
#pragma clang loop unroll(full)
  for (int i = 0; i < head_size / 8; i++) {
    v128_t pairs = wasm_v128_load(q + 8 * i);
    wasm_v128_store32_lane(tile + 16 * i, pairs, 0);
    wasm_v128_store32_lane(tile + 16 * i + 4, pairs, 1);
    wasm_v128_store32_lane(tile + 16 * i + 8, pairs, 2);
    wasm_v128_store32_lane(tile + 16 * i + 12, pairs, 3);
  }
  h->value_scale[pos] = quantize(q, v, head_size);
  int16_t *pair = h->values + (size_t)(pos / 2) * 2 * head_size + pos % 2;
  OPAQUE(pair);
#pragma clang loop unroll(full)
  for (int i = 0; i < head_size / 8; i++) {
    v128_t d = wasm_v128_load(q + 8 * i);
    wasm_v128_store16_lane(pair + 16 * i, d, 0);
    wasm_v128_store16_lane(pair + 16 * i + 2, d, 1);
    wasm_v128_store16_lane(pair + 16 * i + 4, d, 2);
    wasm_v128_store16_lane(pair + 16 * i + 6, d, 3);
    wasm_v128_store16_lane(pair + 16 * i + 8, d, 4);
    wasm_v128_store16_lane(pair + 16 * i + 10, d, 5);
    wasm_v128_store16_lane(pair + 16 * i + 12, d, 6);
    wasm_v128_store16_lane(pair + 16 * i + 14, d, 7);
  }
}

/* k, v [head_size] -> position pos of h (keys [n_ctx / 4][head_size / 2][4][2], values
 * [n_ctx / 2][head_size][2], key_scale and value_scale [n_ctx]) */
void kv16_store(const kv16_head *h, int pos, const float *k, const float *v, int head_size) {
  if (head_size == 64) store_kv16(h, pos, k, v, 64);
  else store_kv16(h, pos, k, v, 32);
}

/* Scores of the four positions of a key tile (two chains of at most 16 dots: an i32 lane then
 * sums at most 32 products of |8191|², below 2^31). */
static inline __attribute__((always_inline)) v128_t key_tile(const int16_t *tile, const v128_t *qv, v128_t q_scale,
                                                             const float *key_scale, const int pairs) {
  const v128_t *t = (const v128_t *)tile;
  OPAQUE(t);
  v128_t lo = wasm_i32x4_dot_i16x8(t[0], qv[0]);
#pragma clang loop unroll(full)
  for (int j = 1; j < pairs && j < 16; j++) lo = wasm_i32x4_add(lo, wasm_i32x4_dot_i16x8(t[j], qv[j]));
  v128_t f = wasm_f32x4_convert_i32x4(lo);
  if (pairs > 16) {
    v128_t hi = wasm_i32x4_dot_i16x8(t[16], qv[16]);
#pragma clang loop unroll(full)
    for (int j = 17; j < pairs; j++) hi = wasm_i32x4_add(hi, wasm_i32x4_dot_i16x8(t[j], qv[j]));
    f = wasm_f32x4_add(f, wasm_f32x4_convert_i32x4(hi));
  }
  return wasm_f32x4_mul(wasm_f32x4_mul(f, q_scale), wasm_v128_load(key_scale));
}

/* `pairs` = head_size / 2 dimension pairs (16 or 32). Softmax weights become int16 w_s =
 * e_s · value_scale_s scaled to sum to ~32767, so the output lanes stay below
 * (32767 + n / 2) · 8191 < 2^31 however long the context. */
static inline __attribute__((always_inline)) void head_kv16(const float *q, const kv16_head *h, int p, float *scores,
                                                            int16_t *weights, float *out, const int pairs) {
  int16_t qq[64] __attribute__((aligned(16)));
  v128_t qv[32], qs = wasm_f32x4_splat(quantize(qq, q, 2 * pairs) / gpt2_sqrtf((float)(2 * pairs)));
#pragma clang loop unroll(full)
  for (int j = 0; j < pairs; j++) qv[j] = wasm_v128_load32_splat(qq + 2 * j);
  int n = p + 1, s = 0;
  v128_t top = wasm_f32x4_splat(-__builtin_inff());
  const int16_t *tile = h->keys;
  for (; s + 4 <= n; s += 4, tile += 8 * pairs) {
    v128_t f = key_tile(tile, qv, qs, h->key_scale + s, pairs);
    wasm_v128_store(scores + s, f);
    top = wasm_f32x4_pmax(top, f);
  }
  if (s < n) { /* the last tile: lanes past p are stale, make them -inf */
    v128_t f = key_tile(tile, qv, qs, h->key_scale + s, pairs);
    v128_t live = wasm_i32x4_lt(wasm_i32x4_make(s, s + 1, s + 2, s + 3), wasm_i32x4_splat(n));
    f = wasm_v128_bitselect(f, wasm_f32x4_splat(-__builtin_inff()), live);
    wasm_v128_store(scores + s, f);
    top = wasm_f32x4_pmax(top, f);
  }
  top = wasm_f32x4_pmax(top, wasm_i32x4_shuffle(top, top, 2, 3, 0, 1));
  top = wasm_f32x4_pmax(top, wasm_i32x4_shuffle(top, top, 1, 0, 3, 2));
  v128_t e_sum = wasm_f32x4_splat(0.0f), w_sum = e_sum;
  for (s = 0; s < n; s += 4) { /* e_s (~1e-38 for the -inf lanes); w_s = e_s · value_scale_s */
    v128_t e = gpt2_expf4(wasm_f32x4_sub(wasm_v128_load(scores + s), top));
    v128_t w = wasm_f32x4_mul(e, wasm_v128_load(h->value_scale + s));
    wasm_v128_store(scores + s, w);
    e_sum = wasm_f32x4_add(e_sum, e);
    w_sum = wasm_f32x4_add(w_sum, w);
  }
  wasm_v128_store(scores + s, wasm_f32x4_splat(0.0f)); /* the int16 pass below reads 8 at a time */
  float total = hsum(w_sum);
  v128_t to_int = wasm_f32x4_splat(total > 0 ? 32767.0f / total : 0.0f);
  for (s = 0; s < n; s += 8) {
    v128_t lo = wasm_i32x4_trunc_sat_f32x4(wasm_f32x4_nearest(wasm_f32x4_mul(wasm_v128_load(scores + s), to_int)));
    v128_t hi = wasm_i32x4_trunc_sat_f32x4(wasm_f32x4_nearest(wasm_f32x4_mul(wasm_v128_load(scores + s + 4), to_int)));
    wasm_v128_store(weights + s, wasm_i16x8_narrow_i32x4(lo, hi));
  }
  v128_t ov[16];
#pragma clang loop unroll(full)
  for (int i = 0; i < pairs / 2; i++) ov[i] = wasm_i32x4_splat(0);
  const int16_t *pair = h->values;
  for (s = 0; s + 8 <= n; s += 8, pair += 16 * pairs) { /* four position pairs per pass */
    const v128_t *v0 = (const v128_t *)pair, *v1 = (const v128_t *)(pair + 4 * pairs);
    const v128_t *v2 = (const v128_t *)(pair + 8 * pairs), *v3 = (const v128_t *)(pair + 12 * pairs);
    OPAQUE(v0);
    OPAQUE(v1);
    OPAQUE(v2);
    OPAQUE(v3);
    v128_t w0 = wasm_v128_load32_splat(weights + s), w1 = wasm_v128_load32_splat(weights + s + 2);
    v128_t w2 = wasm_v128_load32_splat(weights + s + 4), w3 = wasm_v128_load32_splat(weights + s + 6);
#pragma clang loop unroll(full)
    for (int i = 0; i < pairs / 2; i++)
      ov[i] = wasm_i32x4_add(ov[i], wasm_i32x4_add(wasm_i32x4_add(wasm_i32x4_dot_i16x8(v0[i], w0), wasm_i32x4_dot_i16x8(v1[i], w1)),
                                                   wasm_i32x4_add(wasm_i32x4_dot_i16x8(v2[i], w2), wasm_i32x4_dot_i16x8(v3[i], w3))));
  }
  for (; s < n; s += 2, pair += 4 * pairs) {
    const v128_t *v = (const v128_t *)pair;
    OPAQUE(v);
    v128_t w = wasm_v128_load32_splat(weights + s);
#pragma clang loop unroll(full)
    for (int i = 0; i < pairs / 2; i++) ov[i] = wasm_i32x4_add(ov[i], wasm_i32x4_dot_i16x8(v[i], w));
  }
  v128_t back = wasm_f32x4_splat(total / (32767.0f * hsum(e_sum)));
#pragma clang loop unroll(full)
  for (int i = 0; i < pairs / 2; i++) wasm_v128_store(out + 4 * i, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(ov[i]), back));
}

/* out [head_size] = attention of q [head_size] over positions 0..p of h; scores [p + 8] f32,
 * weights [p + 8] int16 */
void attention_head_kv16(const float *q, const kv16_head *h, int p, int head_size, float *scores, int16_t *weights,
                         float *out) {
  if (head_size == 64) head_kv16(q, h, p, scores, weights, out, 32);
  else head_kv16(q, h, p, scores, weights, out, 16);
}

/* out [head_size] = attention of q [head_size] over keys, vals [p + 1][stride]; scores [p + 4] */
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
