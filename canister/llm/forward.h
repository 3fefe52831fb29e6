/* forward.h: the conversation asked of an LLM canister (forward.c): its v1_chat, called with the
 * route's model, and the text of its chat_response_v1.
 *
 * DFINITY's LLM canister takes no cycles; what a call costs the caller is the IC's fee for an
 * inter-canister call and the bytes it carries (13-node subnet: 260,000 cycles + 1,000 per byte,
 * request and reply), counted by call_fee (call.h). */
#ifndef LLM_FORWARD_H
#define LLM_FORWARD_H

#include <stddef.h>
#include <stdint.h>

#include "call.h"
#include "route.h" /* OUTCALL_BASE_CYCLES */
#include "conversation.h"

/* The size of the call forward_start would make for c (its Candid argument and "v1_chat"). */
uint64_t forward_request_bytes(const conversation *c);
/* Call the route's canister (the route is llm_canister): call_perform's result. */
uint32_t forward_start(const conversation *c, call_callbacks callbacks);
/* In the reply callback: the answer's text appended to text (NULL), or why there is none; *bytes the reply's size. */
const char *forward_result(rt_buf *text, uint64_t *bytes);

#endif
