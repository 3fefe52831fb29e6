/* mathf.c: expf by range reduction (x = k ln2 + r, |r| <= ln2/2) and a degree-6 Taylor
 * polynomial for e^r, scaled by 2^k through the exponent bits; tanh from exp. */
#include "mathf.h"

#include <stdint.h>

float gpt2_expf(float x) {
  if (x < -87.3f) return 0.0f;
  if (x > 88.7f) return __builtin_inff();
  float k = __builtin_rintf(x * 1.44269504f);
  float r = x - k * 0.693145752f - k * 1.42860677e-6f; /* ln2 split in two for precision */
  float p = 1.0f + r * (1.0f + r * (0.5f + r * (1.0f / 6 + r * (1.0f / 24 + r * (1.0f / 120 + r * (1.0f / 720))))));
  int32_t e = (int32_t)k;
  if (e < -126) { /* subnormal result: scale in two steps */
    p *= 1.17549435e-38f;
    e += 126;
  }
  union { uint32_t u; float f; } scale = {(uint32_t)(e + 127) << 23};
  return p * scale.f;
}

float gpt2_tanhf(float x) {
  if (x > 9.0f) return 1.0f;
  if (x < -9.0f) return -1.0f;
  if (x > -0.004f && x < 0.004f) return x - x * x * x / 3.0f; /* avoids cancellation near 0 */
  float t = gpt2_expf(2.0f * x);
  return (t - 1.0f) / (t + 1.0f);
}
