/* served_model.h: the model the gpt2 canister serves (served_model.c) — its weights and KV slots,
 * the file they came from, why there is none, and its counters. bundle.c loads and forgets it;
 * the methods (main.c, chat.c, policy_methods.c, inspect.c) read it. */
#ifndef GPT2_SERVED_MODEL_H
#define GPT2_SERVED_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

extern gpt2_model model;
extern int have_model;
/* Why there is no model, after "no model: " ("upload a model bundle first", or why the bundle
 * kept in stable memory could not be loaded at an upgrade). */
extern const char *no_model_reason;
extern uint64_t model_file_size;      /* the served weight file's bytes (model_info) */
extern uint8_t model_file_sha256[32]; /* and its SHA-256 */

/* Counters since the served model was loaded (upload or upgrade); kept by update calls only (a
 * query's writes are dropped). */
typedef struct {
  uint64_t tokens_generated;      /* tokens returned by `generate` updates */
  uint64_t generate_instructions; /* all instructions of `generate` and `prefill` updates */
} usage_counters;
extern usage_counters usage;

/* Check a weight file and serve it (its tensors, empty KV slots, fresh counters); NULL if served,
 * else why not, with nothing changed. The one entry point for a new model. The model points into
 * `file`, which must stay alive and unchanged while it is served; `sha256` is the file's. */
const char *load_model(const uint8_t *file, size_t size, const uint8_t sha256[32]);
void forget_model(void); /* no model: inference rejects until a bundle is committed */

#endif /* GPT2_SERVED_MODEL_H */
