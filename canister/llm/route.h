/* route.h: where the llm canister's answers come from (route.c; canister/llm.did `Route`), set by
 * controllers with set_route and kept in stable memory across upgrades.
 *
 *   endpoint      an OpenAI-compatible chat-completions URL, asked by HTTPS outcall (outcall.h);
 *                 its api key is write-only: sent as a header, never returned by any method
 *   llm_canister  a canister whose v1_chat answers (DFINITY's LLM canister, or another llm canister
 *                 standing in for it)
 *
 * Stable memory: bytes 0..ROUTE_STABLE_BYTES-1 (the access policy's region starts at 32768,
 * POLICY_STABLE_OFFSET): a 128-byte header (magic, version, kind, sizes, limits, the canister id),
 * then the url, the model and the key. Rewritten by every set_route. */
#ifndef LLM_ROUTE_H
#define LLM_ROUTE_H

#include <stddef.h>
#include <stdint.h>

#include "principal.h"

#define ROUTE_URL_MAX 2048u
#define ROUTE_MODEL_MAX 128u
#define ROUTE_KEY_MAX 512u
#define ROUTE_STABLE_BYTES 32768u
#define DEFAULT_MAX_RESPONSE_BYTES 32768ull
#define MAX_RESPONSE_BYTES_LIMIT 2000000ull /* the IC's response limit for an HTTPS outcall */
#define ANSWER_MAX_TOKENS 1000u             /* the LLM canister's answer limit */
#define OUTCALL_BASE_CYCLES 49140000ull     /* an outcall's base fee, 13-node subnet (outcall.h) */

#define ROUTE_NOT_CONFIGURED "no LLM route is configured: a controller sets one with set_route"

typedef enum { ROUTE_NONE = 0, ROUTE_ENDPOINT = 1, ROUTE_LLM_CANISTER = 2 } route_kind;

typedef struct {
  route_kind kind;
  char url[ROUTE_URL_MAX + 1], model[ROUTE_MODEL_MAX + 1], api_key[ROUTE_KEY_MAX + 1]; /* NUL-terminated */
  uint64_t max_response_bytes;
  uint32_t max_tokens; /* 0: not sent */
  principal_id canister;
} route_config;

extern route_config route;

void route_load(void);               /* the saved route (none if there is none); post_upgrade */
const char *route_set_from_arg(void); /* set_route's argument, checked and saved; NULL or why not */
/* A URL's host (and port) into out (capacity ≥ strlen(url) + 1): no scheme, path, query or user
 * info. */
void url_host(const char *url, char *out);
/* "endpoint <host>" or "LLM canister <id>", what answers say they came through (capacity ≥ 2100). */
void route_via(char *out, size_t capacity);
const char *route_kind_name(void);
/* The least an answer by this route takes in cycles (an outcall's or a call's base fee): admission
 * refuses callers whose budget has less left. */
uint64_t answer_min_cost(void);

#endif
