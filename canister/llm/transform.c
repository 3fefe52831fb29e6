/* transform.c: `transform_chat`, the outcall's transform (a query the IC runs on every replica's
 * response before they compare them): the response reduced to its canonical form (openai.h), so
 * replicas agree exactly when the service gave each of them the same status and answer. */
#include "openai.h"
#include "outcall.h"
#include "rt.h"

/* query transform_chat : (transform_args) -> (http_request_result) */
__attribute__((export_name("canister_query transform_chat"))) void transform_chat(void) {
  rt_message_begin();
  uint64_t status;
  const uint8_t *body;
  size_t size;
  const char *problem = outcall_read_transform_args(&status, &body, &size);
  if (problem) {
    rt_reject(problem);
    return;
  }
  canonical_response canonical;
  openai_canonical(status, body, size, &canonical);
  outcall_reply_canonical(&canonical);
}
