/* mathf.h: the float functions GPT-2 needs, without libc. */
#ifndef GPT2_MATHF_H
#define GPT2_MATHF_H

#include <wasm_simd128.h>

float gpt2_expf(float x);    /* relative error ~2 ulp; 0 below -87.3, +inf above 88.7 */
v128_t gpt2_expf4(v128_t x); /* four lanes; inputs clamped to [-87, 88] */
static inline float gpt2_sqrtf(float x) { return __builtin_sqrtf(x); } /* f32.sqrt */

#endif
