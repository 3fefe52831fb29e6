/* canister.h: state the gpt2 canister's method files share (main.c: model and upload; chat.c:
 * generation). */
#ifndef GPT2_CANISTER_H
#define GPT2_CANISTER_H

#include "candid.h"
#include "model.h"

extern gpt2_model model;
extern int have_model;
/* Why there is no model, after "no model: " ("upload a model bundle first", or why the bundle
 * kept in stable memory could not be loaded at an upgrade). */
extern const char *no_model_reason;

/* Query methods called as updates (replicated queries, charged to the canister) are refused: */
#define GENERATE_QUERY_AS_UPDATE                                                                                   \
  "generate_query is a query: call it as a query (as an update it would be charged to the canister); use generate " \
  "for a verified answer"
#define LOGITS_AS_UPDATE "logits is a query: call it as a query (as an update it would be charged to the canister)"

/* Counters since the served model was loaded (upload or upgrade); kept by update calls only (a
 * query's writes are dropped). */
typedef struct {
  uint64_t tokens_generated;      /* tokens returned by `generate` updates */
  uint64_t generate_instructions; /* all instructions of `generate` and `prefill` updates */
} usage_counters;
extern usage_counters usage;

int read_arg(cd_reader *r, cd_val *arg); /* rejects with "invalid argument: …" and returns 0 on error */
int read_no_args(void);                  /* the same for methods without parameters */
/* Check a weight file and serve it (its tensors, empty KV slots, fresh counters); NULL if served,
 * else why not, with nothing changed. The one entry point for a new model. The model points into
 * `file`, which must stay alive and unchanged while it is served; `sha256` is the file's. */
const char *load_model(const uint8_t *file, size_t size, const uint8_t sha256[32]);
void forget_model(void); /* no model: inference rejects until a bundle is committed */

#endif
