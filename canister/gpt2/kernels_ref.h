/* kernels_ref.h: the kernels of kernels.h and browser/kernels_browser.h as plain scalar loops, llm.c's
 * naive reference: no SIMD, no blocking for registers, one value at a time.
 *
 * Each reference returns the fast kernel's values BIT FOR BIT, which is what the kernel checks
 * (canister/probes/kernel_check, tests/kernels) assert for every build: the canister's, the
 * browser's SIMD128 and relaxed-SIMD ones, and the threaded products. Integer sums are exact, so their order is free;
 * f32 sums are not associative, so where a fast kernel adds in four lanes and reduces them, the
 * reference adds in the same four lanes and reduces them the same way (kernels_ref.c names each
 * order and why the fast kernel chose it). Nothing here is a tolerance.
 *
 * Shapes are written [rows][n] (row-major, C order): W is [rows][n], x is [T][n], out is [T][rows].
 */
#ifndef GPT2_KERNELS_REF_H
#define GPT2_KERNELS_REF_H

#include <stddef.h>
#include <stdint.h>

#include "kernels.h" /* kv16_head */

/* out[t][r] = W[r]·x[t] + bias[r] as matmul_f32 adds it (matvec_f32 and matvec_f32_rows for T = 1,
 * the engine's ops_matmul_f32 for any T and thread count). n a multiple of 128. */
void matmul_f32_ref(float *out, const float *w, const float *x, const float *bias, int rows, int n, int T);

/* The activation bound of a product over n int8 columns (kernels.c row_limit), and x [n] -> q [n]
 * with |q| <= limit, rounded to nearest even; returns the scale (x ≈ q · scale). n a multiple of 8. */
float row_limit_ref(int n);
float quantize_ref(int16_t *q, const float *x, int n, float limit);

/* out[t][r] = scale[r] · (W[r]·q(x[t])) · x_scale[t] + bias[r] for int8 W [rows][n]: matvec_q16 and
 * matmul_q16 (over the same rows widened to row quads) and matmul_q8_rows (over the int8 rows, any
 * kernel, any row range, any thread count). */
void matmul_q8_ref(float *out, const int8_t *w, const float *scale, const float *x, const float *bias, int rows, int n,
                   int T);
/* q8_quantize: q [T][n], scales [T], and the u7 planes lo, hi [T][n] of q + 8192 (relaxed builds). */
void q8_quantize_ref(int16_t *q, float *scales, uint8_t *lo, uint8_t *hi, const float *x, int n, int T);
void q8_row_sums_ref(int32_t *row_sums, const int8_t *w, int rows, int n); /* row_sums [rows] */
void quads_row_ref(float *out, const int8_t *w, int n, int r, float scale); /* out [n] = scale · W[r] */

void layernorm_ref(float *out, const float *x, const float *weight, const float *bias, int n); /* all [n] */
void gelu_ref(float *x, int n);                                                             /* x [n] */
void add_inplace_ref(float *x, const float *y, int n);                                      /* x, y [n] */

/* attention_head: q [head_size], keys and values [p + 1] rows `stride` floats apart, out [head_size];
 * scores: p + 4 floats of scratch. head_size a multiple of 4. */
void attention_head_ref(const float *q, const float *keys, const float *vals, int stride, int p, int head_size,
                        float *scores, float *out);

/* One head's int16 keys and values in a kv16_head (kernels.h) whose arrays hold the plain layout,
 * keys and values [positions][head_size], key_scale and value_scale [positions] (kernels.c keeps
 * the same numbers in tiles of four positions and in position pairs). */
void kv16_store_ref(const kv16_head *h, int pos, const float *k, const float *v, int head_size);
/* attention_head_kv16 at position p: reads positions 0..p and, as the fast kernel does, the value
 * scales up to p rounded up to 4 and the values of p + 1 when p + 1 is odd (weighted by the
 * softmax of a masked score: ~0). scores: p + 8 floats, weights: p + 8 int16 of scratch. */
void attention_head_kv16_ref(const float *q, const kv16_head *h, int p, int head_size, float *scores,
                             int16_t *weights, float *out);

#endif
