/* check_browser.c: the kernel checks' exports for kernels_browser.h (the icchat engine's products
 * over int8 rows), beside check_kernels.c in the browser builds. Their references are the
 * canister kernels' (kernels_ref.h): the browser products promise the canister's values. */
#include "check_kernels.h"
#include "kernels_browser.h"
#include "kernels_ref.h"

#define EXPORT(name) __attribute__((export_name(#name)))

/* 1 in builds with relaxed SIMD (both q8 kernels: Q8_WIDEN, Q8_RELAXED), 0 in SIMD128 ones. */
EXPORT(check_relaxed) int check_relaxed(void) {
#ifdef __wasm_relaxed_simd__
  return 1;
#else
  return 0;
#endif
}

/* x [T][n] -> q [T][n], scales [T] and, in relaxed builds, the planes lo, hi [T][n] (else untouched). */
EXPORT(fast_q8_quantize) void fast_q8_quantize(int16_t *q, float *scales, uint8_t *lo, uint8_t *hi, const float *x, int n,
                                               int T) {
  q8_activations a = {q, scales, lo, hi};
  q8_quantize(&a, x, n, T);
}

EXPORT(ref_q8_quantize) void ref_q8_quantize(int16_t *q, float *scales, uint8_t *lo, uint8_t *hi, const float *x, int n,
                                             int T) {
  q8_quantize_ref(q, scales, check_relaxed() ? lo : 0, hi, x, n, T);
}

EXPORT(fast_q8_row_sums) void fast_q8_row_sums(int32_t *sums, const int8_t *w, int rows, int n) {
  q8_row_sums(sums, w, (size_t)rows, n);
}

EXPORT(ref_q8_row_sums) void ref_q8_row_sums(int32_t *sums, const int8_t *w, int rows, int n) {
  q8_row_sums_ref(sums, w, rows, n);
}

/* Rows [r0, r1) of out [T][rows] = W x + bias by matmul_q8_rows with `kernel` (Q8_WIDEN or
 * Q8_RELAXED), x [T][n] quantized by q8_quantize; w [rows][n] int8, scale and bias [rows rounded up
 * to 4]. The other rows of out are left as they are. */
EXPORT(fast_matmul_q8_rows) void fast_matmul_q8_rows(float *out, const int8_t *w, const float *scale, const float *x,
                                                     const float *bias, int rows, int n, int T, int r0, int r1, int kernel) {
  size_t elements = (size_t)T * n;
  q8_activations a = {check_alloc((uint32_t)elements * 2), check_alloc((uint32_t)T * 4), check_alloc((uint32_t)elements),
                      check_alloc((uint32_t)elements)};
  int32_t *row_sums = check_alloc((uint32_t)(rows + 3) / 4 * 16);
  q8_row_sums(row_sums, w, (size_t)rows, n);
  q8_quantize(&a, x, n, T);
  int chosen = q8_kernel;
  q8_kernel = kernel;
  matmul_q8_rows(out, w, scale, row_sums, &a, bias, rows, n, T, r0, r1);
  q8_kernel = chosen;
}

EXPORT(fast_matvec_f32_rows) void fast_matvec_f32_rows(float *out, const float *w, const float *x, const float *bias, int rows,
                                                       int n) {
  matvec_f32_rows(out, w, x, bias, rows, n, check_alloc((uint32_t)(rows / 4 + 4) * 16));
}
