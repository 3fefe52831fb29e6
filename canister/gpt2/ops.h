/* ops.h: what the forward pass (model.c) asks of the machine it runs on. The arithmetic is the
 * same in every build (kernels.h: the same sums bit for bit, so the same tokens); what differs is
 * the form q8 weights are held in and who computes:
 *   ops_canister.c         the gpt2 canister: q8 weights widened once to int16 row quads, products
 *                          by kernels.c's column blocks, priced by the IC's cost table, one thread;
 *   browser/ops_browser.c  the icchat engine: the file's int8 rows (kernels_browser.h), rows, token
 *                          batches and attention heads shared among the engine's threads.
 * One build links one (py/icchat/build/gpt2.py, py/icchat/build/engine.py).
 * Shapes: L layers, C = n_embd, Vp = padded_vocab; a matrix is [L][rows][cols] (wte: [Vp][C]). */
#ifndef GPT2_OPS_H
#define GPT2_OPS_H

#include <stddef.h>

#include "model_state.h"

/* Bytes of q8 matrix w's packed form over `layers` layers. */
size_t ops_packed_bytes(const matrix *w, int layers);
/* w->packed = into ([ops_packed_bytes]), filled from w->q8 [layers][rows][cols]. */
void ops_pack_q8(matrix *w, int layers, void *into);
/* out [C] = row `token` of the q8 embedding wte [Vp][C] · its scale. */
void ops_embed_q8(float *out, const matrix *wte, int token);
/* out [T][rows] = x [T][cols] · W[layer]ᵀ + bias [rows], for f32 weights. */
void ops_matmul_f32(gpt2_model *m, const matrix *w, int layer, const float *bias, const float *x, float *out, int T);
/* The same for q8 weights: each token's x quantized to int16 (quantize_row), exact i32 sums,
 * then sum · x_scale · scale[r] + bias[r]. */
void ops_matmul_q8(gpt2_model *m, const matrix *w, int layer, const float *bias, const float *x, float *out, int T);
/* att [T][C] = layer `layer`'s causal self-attention for qkv [T][3C] at positions pos..pos+T-1,
 * over the KV cache's positions 0..pos+T-1 (attention.h). */
void ops_attention(gpt2_model *m, int layer, int T, int pos);

#endif
