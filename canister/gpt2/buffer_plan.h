/* buffer_plan.h: where a loaded model's buffers live and how large they are: activations for up
 * to n_ctx tokens, the kernels' scratch, the q8 weights' packed form (ops.h) and the KV cache
 * slots, as many as fit a budget. Buffers survive between loads: a model of the same shape
 * reuses them (the heap only grows). */
#ifndef GPT2_BUFFER_PLAN_H
#define GPT2_BUFFER_PLAN_H

#include <stddef.h>

#include "model_state.h"

/* Positions of one head's int16 KV cache (kernels.h kv16_head): n_ctx rounded up to a tile of 4. */
static inline size_t kv16_positions(int n_ctx) { return (size_t)(n_ctx + 3) / 4 * 4; }

/* Allocate m's activations and scratch, and as many KV slots as fit in kv_budget bytes (between
 * min_slots and max_slots); slot 0 is selected. m's shape (weight_file_read) must be set. */
void plan_buffers(gpt2_model *m, size_t kv_budget, int min_slots, int max_slots);
/* Make slot `slot` the KV cache gpt2_forward reads and writes. */
void gpt2_select_kv(gpt2_model *m, int slot);
/* `bytes` kept for the packed form of matrix i (0 wte, 1 qkvw, 2 attprojw, 3 fcw, 4 fcprojw). */
void *plan_packed_weights(int i, size_t bytes);

/* The scratch one thread needs (the model has one set, a helper thread of the browser engine its own): */
size_t plan_partial_bytes(const gpt2_model *m);   /* a product's partial sums: 2 · max(Vp, 4C) + 8 v128 */
size_t plan_scores_bytes(const gpt2_model *m);    /* attention scores: n_ctx + 8 f32 */
size_t plan_weights16_bytes(const gpt2_model *m); /* int16 attention weights: kv16_positions + 8 int16 */

#endif
