/* kernels_browser.h: matrix products of the browser engine over the weight file's own int8 rows
 * (no int16 row quads): in the browser the cost is CPU time and memory traffic, not the IC's
 * table, so weights stay int8 and are widened in registers. The arithmetic is the canister's:
 * the same int16 activations (quantize_to, row_limit), exact i32 row sums (the order of integer
 * additions cannot matter), then the same f32 steps, sum · x_scale · row_scale + bias. */
#ifndef GPT2_KERNELS_BROWSER_H
#define GPT2_KERNELS_BROWSER_H

#include <stdint.h>

/* out[t][r] = scale[r] · (W[r]·q(x[t])) · x_scale[t] + bias[r] for rows [r0, r1) of W [rows][n]
 * (int8), T tokens; xq: T · n int16 quantized by q8_quantize. n a multiple of 16. */
void matmul_q8_rows(float *out, const int8_t *w, const float *scale, const int16_t *xq, const float *x_scales,
                    const float *bias, int rows, int n, int T, int r0, int r1);
/* x [T][n] -> xq [T][n] int16 and one scale per token, exactly as the canister's matvec_q16. */
void q8_quantize(int16_t *xq, float *x_scales, const float *x, int n, int T);

#endif
