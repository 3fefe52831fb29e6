/* canister.h: what the gpt2 canister's method files share besides the served model
 * (served_model.h): argument reading (main.c) and the lines refusing a query run as an update
 * (chat.c, inspect.c). */
#ifndef GPT2_CANISTER_H
#define GPT2_CANISTER_H

#include "candid_reader.h"

/* Query methods called as updates (replicated queries, charged to the canister) are refused: */
#define GENERATE_QUERY_AS_UPDATE                                                                                   \
  "generate_query is a query: call it as a query (as an update it would be charged to the canister); use generate " \
  "for a verified answer"
#define LOGITS_AS_UPDATE "logits is a query: call it as a query (as an update it would be charged to the canister)"

int read_arg(cd_reader *r, cd_val *arg); /* rejects with "invalid argument: …" and returns 0 on error */
int read_no_args(void);                  /* the same for methods without parameters */

#endif
