/* check_threads.c: the kernel checks' exports for the threaded products (engine_linear.h), in the
 * threaded browser build: tests/kernels/threads_check.mjs starts the helper threads as
 * web/engine.mjs does (engine_thread_main on instances over the same shared memory) and compares
 * browser_linear_q8 / browser_linear_f32 with n threads to the references (kernels_ref.h). */
#include "check_kernels.h"
#include "engine_linear.h"
#include "kernels_browser.h"
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
  int32_t *row_sums = check_alloc((uint32_t)(rows + 3) / 4 * 16);
  q8_row_sums(row_sums, w, (size_t)rows, n);
  browser_linear_q8(out, w, scale, row_sums, x, bias, rows, n, T);
}

/* out [T][rows] = W x + bias: w [rows][n] f32, x [T][n]. */
EXPORT(threaded_linear_f32) void threaded_linear_f32(float *out, const float *w, const float *x, const float *bias, int rows,
                                                     int n, int T) {
  browser_linear_f32(out, w, x, bias, rows, n, T, check_alloc((uint32_t)(2 * rows + 8) * 16));
}
