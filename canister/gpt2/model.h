/* model.h: GPT-2 from a canister weight file (docs/canister-weights.md), llm.c style: load a
 * model (its state: model_state.h) and run its forward pass. Shapes as in model_state.h. */
#ifndef GPT2_MODEL_H
#define GPT2_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "buffer_plan.h" /* gpt2_select_kv */
#include "model_state.h"
#include "weight_file.h" /* gpt2_check */

/* Point `m` at a checked file's tensors (gpt2_check), pack q8 weights (ops.h), allocate
 * activations and as many KV slots as fit in kv_budget bytes (between min_slots and max_slots);
 * slot 0 is selected. Buffers are reused between loads of models of the same shape. */
void gpt2_load(gpt2_model *m, const uint8_t *file, size_t kv_budget, int min_slots, int max_slots);
/* A generous a-priori estimate of the IC instructions of feeding one token at position pos (with
 * the LM head and sampling if with_head), for budgeting before anything was measured. */
uint64_t gpt2_token_cost_estimate(const gpt2_model *m, int pos, int with_head);
/* Feed tokens[0..T) at positions pos..pos+T-1 (KV cache holds 0..pos-1); if logits is not
 * NULL, write the last position's vocab_size logits. */
void gpt2_forward(gpt2_model *m, const uint32_t *tokens, int T, int pos, float *logits);

#endif
