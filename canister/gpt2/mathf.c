/* mathf.c: scalar exp (see mathf.h for the method; gpt2_expf4 is inline there). */
#include "mathf.h"

#include <stdint.h>

static inline float poly(float r) {
  return 1.0f + r * (1.0f + r * (0.5f + r * (1.0f / 6 + r * (1.0f / 24 + r * (1.0f / 120 + r * (1.0f / 720))))));
}

float gpt2_expf(float x) {
  if (x < -87.3f) return 0.0f;
  if (x > 88.7f) return __builtin_inff();
  float k = __builtin_rintf(x * GPT2_LOG2E);
  float p = poly(x - k * GPT2_LN2_HI - k * GPT2_LN2_LO);
  int32_t e = (int32_t)k;
  if (e < -126) { /* subnormal result: scale in two steps */
    p *= 1.17549435e-38f;
    e += 126;
  }
  union { uint32_t u; float f; } scale = {(uint32_t)(e + 127) << 23};
  return p * scale.f;
}
