/* sampling.h: choosing the next token from logits, deterministically for a seed. */
#ifndef GPT2_SAMPLING_H
#define GPT2_SAMPLING_H

#include <stdint.h>

uint32_t argmax(const float *logits, int n);
/* The uniform draw in [0, 1) for the token at absolute position `pos` of the context: output
 * number pos + 1 of splitmix64 seeded with `seed`. A function of (seed, position) alone, so an
 * answer continued over several calls, or computed by a query instead of an update, draws the
 * same numbers as one long run: no generator state travels between calls. */
float draw_at(uint64_t seed, uint32_t pos);
/* Temperature > 0; top_k 0 or ≥ n: no top-k cut; top_p in (0, 1]: the smallest set of the most
 * likely tokens whose probability reaches top_p (1: no cut; tokens tied with the last one kept
 * are kept too). `u` from draw_at. scratch: n floats. Scribbles on logits. */
uint32_t sample(float *logits, int n, float temperature, uint32_t top_k, float top_p, float u, float *scratch);
/* Why the settings are refused (one line), or NULL: temperature in [0, 100], top_p in (0, 1]. */
const char *sampling_refusal(float temperature, float top_p);
/* The next token from logits[0..n) for settings sampling_refusal accepts, as the gpt2 canister
 * chooses it (the one path of the canister, the icchat engine and icchat-sampler.wasm): argmax at
 * temperature 0, else sample() with draw_at(seed, pos), pos the absolute position of the token
 * chosen. scratch: n floats. Scribbles on logits. */
uint32_t choose_token(float *logits, int n, float temperature, uint32_t top_k, float top_p, uint64_t seed, uint32_t pos,
                      float *scratch);

#endif
