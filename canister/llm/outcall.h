/* outcall.h: the HTTPS outcall to an OpenAI-compatible endpoint (outcall.c): the management
 * canister's http_request with the route's URL, key and limits, its cost, and its result.
 *
 *   http_request_args = record { url : text; max_response_bytes : opt nat64; method : variant { get;
 *     head; post }; headers : vec http_header; body : opt blob; transform : opt record { function :
 *     func (transform_args) -> (http_request_result) query; context : blob }; is_replicated : opt bool }
 *   http_request_result = record { status : nat; headers : vec http_header; body : blob }
 *
 * Headers: content-type application/json, authorization "Bearer <key>" when the route has a key,
 * idempotency-key: the same for every replica (a hash of this canister, a counter, the IC's time
 * and the caller: all replicated state), so the service answers each replica's copy of the request
 * with one answer. The transform is this canister's transform_chat (transform.c). */
#ifndef LLM_OUTCALL_H
#define LLM_OUTCALL_H

#include <stddef.h>
#include <stdint.h>

#include "call.h"
#include "route.h" /* OUTCALL_BASE_CYCLES */
#include "conversation.h"
#include "openai.h"

/* The IC's price of an outcall on a 13-node subnet (the cost table's HTTPS outcall rows):
 * 49,140,000 + 5,200 per request byte (the Candid argument + "http_request") + 10,400 per byte of
 * max_response_bytes. */
#define OUTCALL_REQUEST_BYTE_CYCLES 5200ull
#define OUTCALL_RESPONSE_BYTE_CYCLES 10400ull

uint64_t outcall_cycles(uint64_t request_bytes, uint64_t max_response_bytes);
/* The cycles an outcall with this conversation would attach, without making it (admission);
 * *request_bytes the call's size (its Candid argument and "http_request"). */
uint64_t outcall_estimate(const conversation *c, uint64_t *request_bytes);
/* Make the outcall for c (the route is an endpoint): call_perform's result; *cycles what it attached. */
uint32_t outcall_start(const conversation *c, const principal_id *caller, call_callbacks callbacks, uint64_t *cycles);
/* In the reply callback: the http_request_result (canonical, transform_chat's) into *out: NULL or why not. */
const char *outcall_result(canonical_response *out);
/* transform_chat's halves: transform_args read from the message, and a canonical response as an
 * http_request_result reply. */
const char *outcall_read_transform_args(uint64_t *status, const uint8_t **body, size_t *size);
void outcall_reply_canonical(const canonical_response *c);

#endif
