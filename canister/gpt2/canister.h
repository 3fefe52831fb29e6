/* canister.h: the lines the gpt2 canister refuses a query run as an update with, shared by the
 * method (chat.c) and canister_inspect_message (inspect.c), which refuse alike. */
#ifndef GPT2_CANISTER_H
#define GPT2_CANISTER_H

/* Query methods called as updates (replicated queries, charged to the canister) are refused: */
#define GENERATE_QUERY_AS_UPDATE                                                                                   \
  "generate_query is a query: call it as a query (as an update it would be charged to the canister); use generate " \
  "for a verified answer"
#define LOGITS_AS_UPDATE "logits is a query: call it as a query (as an update it would be charged to the canister)"

#endif
