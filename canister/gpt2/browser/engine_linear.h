/* engine_linear.h: model.c's matrix products in the browser build (GPT2_BROWSER): q8 over the
 * file's int8 rows (kernels_browser.h), f32 with the canister's own kernels, rows or tokens
 * shared among the engine's threads when it has more than one (engine_linear.c, ENGINE_THREADS). */
#ifndef GPT2_ENGINE_LINEAR_H
#define GPT2_ENGINE_LINEAR_H

#include <stddef.h>
#include <stdint.h>
#include <wasm_simd128.h>

#include "model.h"

/* out [T][rows] = W x + bias for x [T][n]: the same values as the canister's matmul_q16 /
 * matmul_f32, bit for bit. partial: the model's scratch (used by the calling thread). */
void browser_linear_q8(float *out, const int8_t *w, const float *scale, const int32_t *row_sums, const float *x,
                       const float *bias, int rows, int n, int T);
/* sum(W[r]) of every row of a q8 matrix (rows of all layers), for the relaxed products. */
const int32_t *browser_row_sums(const int8_t *w, size_t rows, int n);
void browser_linear_f32(float *out, const float *w, const float *x, const float *bias, int rows, int n, int T,
                        v128_t *partial);

/* Run the products on n threads: the caller and n - 1 helpers in engine_thread_main (ENGINE_THREADS
 * builds; else n must be 1), each with partial_v128 v128 of matmul_f32 scratch. Before the helpers
 * start and between forward passes only. 0, or -1 if n is out of range. */
#define MAX_THREADS 16
int browser_set_threads(int n, const gpt2_model *m);
int browser_max_threads(void); /* MAX_THREADS, or 1 without ENGINE_THREADS */

/* attend() of model.c for tokens 0..T-1 at positions pos..pos+T-1 (q from m->qkv, out to m->att):
 * the (token, head) pairs shared among the threads, each head by gpt2_attend_head as one thread
 * would. */
/* The q8 product to run (Q8_WIDEN or Q8_RELAXED, kernels_browser.h): 0, or -1 if this build has
 * no such kernel. */
int browser_select_q8_kernel(int kernel);
/* Layer 0's MLP product (fc, the largest per layer) for one token, `reps` times on this thread
 * alone: what web/engine.mjs times to pick the kernel. */
void browser_q8_probe(gpt2_model *m, int reps);

void browser_attend(gpt2_model *m, int layer, int T, int pos);
void gpt2_attend_head(const gpt2_model *m, int layer, const float *q, int p, int h, float *out, float *scores,
                      int16_t *weights);

#endif
