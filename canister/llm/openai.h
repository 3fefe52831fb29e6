/* openai.h: an OpenAI-compatible /v1/chat/completions exchange as the outcall makes it (openai.c):
 * the request body, and the transform's canonical form of the response.
 *
 * Request: {"model", "messages": [{"role", "content"}...], "max_tokens" (when the route sets it),
 * "stream": false}.
 *
 * Canonical response (what transform_chat returns and every replica must agree on): the service's
 * status, no headers but one, and a body:
 *   a 2xx answer with choices[0].message.content a string: header x-finish-reason (choices[0]
 *     .finish_reason, "" if absent), body the answer's text;
 *   anything else: header x-error, a short reason ("not JSON", "no choices[0].message.content",
 *     or the service's error.message for a non-2xx status, at most ERROR_TEXT_MAX bytes), empty body.
 * Everything else of the response (ids, timestamps, usage, headers) differs between replicas'
 * requests or does not matter, and is dropped. */
#ifndef LLM_OPENAI_H
#define LLM_OPENAI_H

#include <stddef.h>
#include <stdint.h>

#include "conversation.h"
#include "rt.h"

#define FINISH_REASON_HEADER "x-finish-reason"
#define ERROR_HEADER "x-error"
#define ERROR_TEXT_MAX 300u

void openai_request_body(rt_buf *b, const conversation *c, const char *model, uint32_t max_tokens);

typedef struct {
  uint64_t status;
  const char *header; /* FINISH_REASON_HEADER or ERROR_HEADER */
  rt_buf value, body;
} canonical_response;

void openai_canonical(uint64_t status, const uint8_t *body, size_t size, canonical_response *out);
/* A canonical response (as the outcall's callback receives it) as the answer's text (appended to
 * text, NULL returned) or the reject line. */
const char *openai_answer(const canonical_response *c, rt_buf *text);

#endif
