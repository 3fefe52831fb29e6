/* sampling.h: choosing the next token from logits, deterministically for a seed. */
#ifndef GPT2_SAMPLING_H
#define GPT2_SAMPLING_H

#include <stdint.h>

typedef struct {
  uint64_t state; /* splitmix64 */
} rng;

uint32_t argmax(const float *logits, int n);
/* Temperature > 0; top_k 0 or ≥ n means the whole vocabulary. Scribbles on logits. */
uint32_t sample(float *logits, int n, float temperature, uint32_t top_k, rng *r);

#endif
