/* attention.h: causal self-attention over the model's KV cache, shared by every build (the
 * canister runs it on one thread, the browser engine shares (token, head) pairs among threads:
 * ops.h ops_attention). Shapes: C = n_embd, NH heads of hs = C / NH; a qkv row is [3C]: the
 * query, key and value of one position, each [NH][hs]. */
#ifndef GPT2_ATTENTION_H
#define GPT2_ATTENTION_H

#include <stdint.h>

#include "model_state.h"

/* Layer `layer`'s cache at position pos = the key and value of qkv [3C] (int16 with one scale per
 * head and position for kv16 models, else f32). */
void gpt2_cache_kv(gpt2_model *m, int layer, int pos, const float *qkv);
/* out[h · hs .. (h + 1) · hs) = head h of the query in qkv row `q` [3C] at absolute position p,
 * attending over cached positions 0..p; out is an att row [C]. scores [n_ctx + 8] and weights
 * [kv16_positions + 8] are the calling thread's scratch (buffer_plan.h). */
void gpt2_attend_head(const gpt2_model *m, int layer, const float *q, int p, int h, float *out, float *scores,
                      int16_t *weights);
/* att [T][C] = every head of qkv [T][3C] at positions pos..pos+T-1, on this thread with m's scratch. */
void gpt2_attend(gpt2_model *m, int layer, int T, int pos);

#endif
