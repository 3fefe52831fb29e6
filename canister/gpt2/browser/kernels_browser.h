/* kernels_browser.h: matrix products of the browser engine over the weight file's own int8 rows
 * (no int16 row quads): in the browser the cost is CPU time and memory traffic, not the IC's
 * table, so weights stay int8 and are widened in registers. The arithmetic is the canister's:
 * the same int16 activations (kernels.h quantize_row), exact i32 row sums (the order of integer
 * additions cannot matter), then the same f32 steps, sum · x_scale · row_scale + bias.
 *
 * Built with relaxed SIMD (-mrelaxed-simd, the icchat-engine-relaxed*.wasm modules), the sums
 * come from i32x4.relaxed_dot_i8x16_i7x16_add (one vpdpbusd where the CPU has VNNI): its second
 * operand must be 7-bit, so each activation q (|q| <= 8191) is offset to u = q + 8192 < 2^14 and
 * split into u7 planes lo = u & 127, hi = u >> 7; then
 *   W[r]·q = 128 · W[r]·hi + W[r]·lo - 8192 · sum(W[r])
 * in wrapping i32 arithmetic, which is exact because the true sum fits in i32 (row_limit), and
 * no pair of products can saturate an i16 (2 · 128 · 127 < 2^15) on CPUs without VNNI. */
#ifndef GPT2_KERNELS_BROWSER_H
#define GPT2_KERNELS_BROWSER_H

#include <stddef.h>
#include <stdint.h>
#include <wasm_simd128.h>

/* T tokens' activations quantized by q8_quantize: q [T][n] int16, one scale per token, and the
 * u7 planes lo, hi [T][n] of q + 8192 (relaxed builds). */
typedef struct {
  int16_t *q;
  float *scales;
  uint8_t *lo, *hi;
} q8_activations;

/* out[t][r] = scale[r] · (W[r]·q(x[t])) · x_scale[t] + bias[r] for rows [r0, r1) of W [rows][n]
 * (int8), T tokens; row_sums[r] = sum(W[r]) (q8_row_sums). n a multiple of 16. */
void matmul_q8_rows(float *out, const int8_t *w, const float *scale, const int32_t *row_sums, const q8_activations *x,
                    const float *bias, int rows, int n, int T, int r0, int r1);
/* x [T][n] -> a's q and scales exactly as the canister's matvec_q16 (and its planes). */
void q8_quantize(const q8_activations *a, const float *x, int n, int T);
/* matvec_f32 (kernels.h) with the same sums bit for bit, faster in the browser (kernels_browser.c). */
void matvec_f32_rows(float *out, const float *w, const float *x, const float *bias, int rows, int n, v128_t *partial);
/* Which q8 product matmul_q8_rows runs: relaxed builds carry both, since relaxed_dot is one
 * instruction on CPUs with VNNI but slower than widening on those without (web/engine.mjs times
 * both on the device). 1 by default in relaxed builds, always 0 in SIMD128 ones. */
enum { Q8_WIDEN = 0, Q8_RELAXED = 1 };
extern int q8_kernel;
/* row_sums[r] = sum of row r of W [rows][n] (int8), for the relaxed products' offset. */
void q8_row_sums(int32_t *row_sums, const int8_t *w, size_t rows, int n);

#endif
