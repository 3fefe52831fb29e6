/* mathf.h: the float functions GPT-2 needs, without libc. */
#ifndef GPT2_MATHF_H
#define GPT2_MATHF_H

#include <stdint.h>
#include <wasm_simd128.h>

/* exp by range reduction, x = k ln2 + r with |r| <= ln2/2 (ln 2 split in two so k · hi is exact),
 * and a degree-6 Taylor polynomial for e^r (error < 2e-7 relative), scaled by 2^k. */
#define GPT2_LOG2E 1.44269504f
#define GPT2_LN2_HI 0.693145752f
#define GPT2_LN2_LO 1.42860677e-6f

float gpt2_expf(float x);    /* relative error ~2 ulp; 0 below -87.3, +inf above 88.7 */
static inline float gpt2_sqrtf(float x) { return __builtin_sqrtf(x); } /* f32.sqrt */

/* Four lanes, the same method as gpt2_expf; inputs clamped to [-87, 88]. Inline: it sits in the
 * loops of GELU, softmax, attention and sampling, where a call would cost ~10 per four values. */
static inline __attribute__((always_inline)) v128_t gpt2_expf4(v128_t x) {
  /* pmin/pmax cost 1 on the IC (f32x4.min/max cost 4); the clamp keeps 2^k a normal float */
  x = wasm_f32x4_pmax(wasm_f32x4_pmin(x, wasm_f32x4_splat(88.0f)), wasm_f32x4_splat(-87.0f));
  v128_t k = wasm_f32x4_nearest(wasm_f32x4_mul(x, wasm_f32x4_splat(GPT2_LOG2E)));
  v128_t r = wasm_f32x4_sub(wasm_f32x4_sub(x, wasm_f32x4_mul(k, wasm_f32x4_splat(GPT2_LN2_HI))),
                            wasm_f32x4_mul(k, wasm_f32x4_splat(GPT2_LN2_LO)));
  v128_t p = wasm_f32x4_splat(1.0f / 720);
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.0f / 120));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.0f / 24));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.0f / 6));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(0.5f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.0f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.0f));
  v128_t scale = wasm_i32x4_shl(wasm_i32x4_add(wasm_i32x4_trunc_sat_f32x4(k), wasm_i32x4_splat(127)), 23);
  return wasm_f32x4_mul(p, scale);
}

#endif
