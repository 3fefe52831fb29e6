/* mathf.c: exp by range reduction (x = k ln2 + r, |r| <= ln2/2) and a degree-6 Taylor
 * polynomial for e^r (error < 2e-7 relative), scaled by 2^k through the exponent bits. */
#include "mathf.h"

#include <stdint.h>

#define LOG2E 1.44269504f
#define LN2_HI 0.693145752f /* ln 2 split in two so k * LN2_HI is exact */
#define LN2_LO 1.42860677e-6f

static inline float poly(float r) {
  return 1.0f + r * (1.0f + r * (0.5f + r * (1.0f / 6 + r * (1.0f / 24 + r * (1.0f / 120 + r * (1.0f / 720))))));
}

float gpt2_expf(float x) {
  if (x < -87.3f) return 0.0f;
  if (x > 88.7f) return __builtin_inff();
  float k = __builtin_rintf(x * LOG2E);
  float p = poly(x - k * LN2_HI - k * LN2_LO);
  int32_t e = (int32_t)k;
  if (e < -126) { /* subnormal result: scale in two steps */
    p *= 1.17549435e-38f;
    e += 126;
  }
  union { uint32_t u; float f; } scale = {(uint32_t)(e + 127) << 23};
  return p * scale.f;
}

v128_t gpt2_expf4(v128_t x) {
  /* pmin/pmax cost 1 on the IC (f32x4.min/max cost 4); the clamp keeps 2^k a normal float */
  x = wasm_f32x4_pmax(wasm_f32x4_pmin(x, wasm_f32x4_splat(88.0f)), wasm_f32x4_splat(-87.0f));
  v128_t k = wasm_f32x4_nearest(wasm_f32x4_mul(x, wasm_f32x4_splat(LOG2E)));
  v128_t r = wasm_f32x4_sub(wasm_f32x4_sub(x, wasm_f32x4_mul(k, wasm_f32x4_splat(LN2_HI))),
                            wasm_f32x4_mul(k, wasm_f32x4_splat(LN2_LO)));
  v128_t p = wasm_f32x4_splat(1.0f / 720);
  static const float c[6] = {1.0f / 120, 1.0f / 24, 1.0f / 6, 0.5f, 1.0f, 1.0f};
  for (int i = 0; i < 6; i++) p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(c[i]));
  v128_t scale = wasm_i32x4_shl(wasm_i32x4_add(wasm_i32x4_trunc_sat_f32x4(k), wasm_i32x4_splat(127)), 23);
  return wasm_f32x4_mul(p, scale);
}
