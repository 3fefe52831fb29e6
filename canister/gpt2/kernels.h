/* kernels.h: the arithmetic of the forward pass, in WASM SIMD128.
 *
 * Matrix products dominate (≈124M multiply-adds per token at GPT-2 124M). They run by column
 * blocks: a block of x is held in v128 locals while every weight row streams past it, so each 4
 * (f32) or 8 (int16) multiply-adds cost one weight load, one multiply and one add under the IC's
 * cost table, with no loop overhead inside a block; several tokens (a prompt) share each weight
 * load. A token's result does not depend on whether it came alone or with others: the same
 * blocks, the same order of additions (f32), exact integer sums (int16) — for f32 as long as rows
 * come in fours (GPT-2's always do): a row past the last four adds its blocks in another order in
 * a batch than alone (docs/kernels.md). Inner dimensions must be multiples of BLOCK_COLUMNS.
 */
#ifndef GPT2_KERNELS_H
#define GPT2_KERNELS_H

#include <stddef.h>
#include <stdint.h>
#include <wasm_simd128.h>

#define BLOCK_COLUMNS 128
#define F32_WIDE 192 /* v128 of x held in locals per wide f32 block: 768 columns (matvec_f32's blocks) */

/* Lane j of the result is the sum of the four lanes of the j-th argument (f32): how every f32
 * product reduces four rows' chains, here so the browser's products (kernels_browser.c) reduce
 * theirs with the very same additions. */
static inline v128_t sum4(v128_t a, v128_t b, v128_t c, v128_t d) {
  v128_t ab = wasm_f32x4_add(wasm_i32x4_shuffle(a, b, 0, 4, 1, 5), wasm_i32x4_shuffle(a, b, 2, 6, 3, 7));
  v128_t cd = wasm_f32x4_add(wasm_i32x4_shuffle(c, d, 0, 4, 1, 5), wasm_i32x4_shuffle(c, d, 2, 6, 3, 7));
  return wasm_f32x4_add(wasm_i32x4_shuffle(ab, cd, 0, 1, 4, 5), wasm_i32x4_shuffle(ab, cd, 2, 3, 6, 7));
}

/* out[r] = W[r]·x + bias[r] for r < rows; W is [rows][n] f32; partial: rows / 4 + 4 v128 of
 * scratch. bias is required (pass zeros for none). */
void matvec_f32(float *out, const float *w, const float *x, const float *bias, int rows, int n, v128_t *partial);
/* The same with int8 weights widened to int16 in "row quads" (quads_from_int8) and one scale per
 * row: out[r] = scale[r] · (W[r]·q(x)) · x_scale + bias[r], x quantized per call to int16 with
 * |q(x)| <= min(8191, (2^31 - 1) / (128 n)), so a row's i32 sum is exact; xq: n int16 of scratch,
 * partial: rows / 4 + 1 v128. scale and bias are read in fours: padded to a multiple of 4 rows. */
void matvec_q16(float *out, const int16_t *w, const float *scale, const float *x, const float *bias,
                int rows, int n, v128_t *partial, int16_t *xq);
/* The same for T tokens: x is [T][n], out is [T][rows]; partial: 2 · rows + 8 v128, xq: 8 · n
 * int16. Eight tokens at a time share the weight loads (the prompt pass). */
void matmul_f32(float *out, const float *w, const float *x, const float *bias, int rows, int n, int T, v128_t *partial);
void matmul_q16(float *out, const int16_t *w, const float *scale, const float *x, const float *bias, int rows, int n,
                int T, v128_t *partial, int16_t *xq);
/* x [n] -> xq [n] int16 as the q8 products quantize a token's activations (|q| <= the bound
 * above for rows of n int8 weights); returns the token's scale, x ≈ q · scale. */
float quantize_row(int16_t *xq, const float *x, int n);
size_t quads_size(int rows, int n); /* int16 elements of a [rows][n] matrix in row quads */
void quads_from_int8(int16_t *out, const int8_t *q, int rows, int n);
void quads_row(float *out, const int16_t *w, int n, int r, float scale); /* out = scale · W[r] */

void layernorm(float *out, const float *x, const float *weight, const float *bias, int n);
void gelu(float *x, int n);
void add_inplace(float *x, const float *y, int n);
/* Causal attention of one head for one query: out = softmax(q·k_s / sqrt(head_size)) · v_s over
 * positions s = 0..p, rows `stride` floats apart; scores: p + 4 floats of scratch. */
void attention_head(const float *q, const float *keys, const float *vals, int stride, int p, int head_size,
                    float *scores, float *out);

/* One head's int16 keys and values (q8 models), see kernels.c: keys in tiles of four positions
 * [n_ctx / 4][head_size / 2][4][2], values by position pairs [n_ctx / 2][head_size][2], one f32
 * scale per position for each. */
typedef struct {
  int16_t *keys, *values;
  float *key_scale, *value_scale;
} kv16_head;
void kv16_store(const kv16_head *h, int pos, const float *k, const float *v, int head_size);
/* attention_head over a kv16_head, head_size 32 or 64; scores: p + 8 floats, weights: p + 8 int16. */
void attention_head_kv16(const float *q, const kv16_head *h, int p, int head_size, float *scores, int16_t *weights,
                         float *out);

#endif
