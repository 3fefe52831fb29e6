/* kernels.h: the arithmetic of the forward pass, in WASM SIMD128.
 *
 * Matrix-vector products dominate (≈124M multiply-adds per token at GPT-2 124M). They run by
 * column blocks: a block of x is held in v128 locals while every weight row streams past it, so
 * each 4 (f32) or 8 (int16) multiply-adds cost one weight load, one multiply and one add under
 * the IC's cost table, with no loop overhead inside a block. Partial sums stay in v128 per row
 * and are reduced once at the end. Inner dimensions must be multiples of BLOCK_COLUMNS.
 */
#ifndef GPT2_KERNELS_H
#define GPT2_KERNELS_H

#include <stddef.h>
#include <stdint.h>
#include <wasm_simd128.h>

#define BLOCK_COLUMNS 128

/* out[r] = W[r]·x + bias[r] for r < rows; W is [rows][n] f32; partial: rows v128 of scratch. */
void matvec_f32(float *out, const float *w, const float *x, const float *bias, int rows, int n, v128_t *partial);
/* The same with W as int16 values of int8 weights and one scale per row: out[r] = scale[r] ·
 * (W[r]·q(x)) · x_scale + bias[r], x quantized to int16 with |q(x)| <= 8191 (so i32 sums of up to
 * 4096 products cannot overflow); xq: n int16 of scratch. */
void matvec_q16(float *out, const int16_t *w, const float *scale, const float *x, const float *bias,
                int rows, int n, v128_t *partial, int16_t *xq);

void layernorm(float *out, const float *x, const float *weight, const float *bias, int n);
void gelu(float *x, int n);
void add_inplace(float *x, const float *y, int n);
float dot(const float *a, const float *b, int n); /* n a multiple of 4 */
void axpy(float *y, float a, const float *x, int n); /* y += a x; n a multiple of 4 */
void softmax(float *x, int n);
/* Causal attention of one head for one query: out = softmax(q·k_s / sqrt(head_size)) · v_s over
 * positions s = 0..p, rows `stride` floats apart; scores: p + 1 floats of scratch. */
void attention_head(const float *q, const float *keys, const float *vals, int stride, int p, int head_size,
                    float *scores, float *out);

#endif
