/* check_threads.c: the kernel checks' exports for the threaded products (browser/ops_browser.c),
 * in the threaded browser build: tests/kernels/threads_check.mjs starts the helper threads as
 * web/engine.mjs does (engine_thread_main on instances over the same shared memory) and compares
 * ops_matmul_q8 / ops_matmul_f32 with n threads to the references (kernels_ref.h). */
#include "check_kernels.h"
#include "ops.h"
#include "ops_browser.h"
#include "rt.h"

#define EXPORT(name) __attribute__((export_name(#name)))

/* Memory kept across check_reset: the helpers' stacks. */
EXPORT(check_keep) void *check_keep(uint32_t bytes) { return rt_alloc(bytes, 64); }

/* Share the products among n threads (helpers 1..n-1 must be running engine_thread_main, or be
 * started before the next product); the helpers' scratch fits products of up to max_rows rows.
 * 0, or -1 if n is out of range. */
EXPORT(check_threads) int check_threads(int n, int max_rows) {
  gpt2_model sizes = {.n_embd = (max_rows + 3) / 4, .n_ctx = 8};
  return browser_set_threads(n, &sizes);
}

/* Q8_WIDEN or Q8_RELAXED for the q8 products: 0, or -1 if this build has no such kernel. */
EXPORT(check_q8_kernel) int check_q8_kernel(int kernel) { return browser_select_q8_kernel(kernel); }

/* out [T][rows] = W x + bias: w [rows][n] int8 with scale and bias [rows rounded up to 4], x [T][n]. */
EXPORT(threaded_linear_q8) void threaded_linear_q8(float *out, const int8_t *w, const float *scale, const float *x,
                                                   const float *bias, int rows, int n, int T) {
  matrix weights = {.q8 = w, .scale = scale, .rows = rows, .cols = n};
  ops_pack_q8(&weights, 1, check_alloc((uint32_t)(rows + 3) / 4 * 16)); /* each row's sum */
  gpt2_model model = {0}; /* the q8 products use no scratch of the model's */
  ops_matmul_q8(&model, &weights, 0, bias, x, out, T);
}

/* out [T][rows] = W x + bias: w [rows][n] f32, x [T][n]. */
EXPORT(threaded_linear_f32) void threaded_linear_f32(float *out, const float *w, const float *x, const float *bias, int rows,
                                                     int n, int T) {
  matrix weights = {.f = w, .rows = rows, .cols = n};
  gpt2_model model = {.partial = check_alloc((uint32_t)(2 * rows + 8) * 16)}; /* the calling thread's scratch */
  ops_matmul_f32(&model, &weights, 0, bias, x, out, T);
}
