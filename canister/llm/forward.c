/* forward.c: v1_chat of the route's LLM canister (forward.h). */
#include "forward.h"

#include "route.h"

uint32_t forward_start(const conversation *c, call_callbacks callbacks, uint64_t *bytes) {
  rt_buf arg = {0};
  cd_writer w;
  cd_writer_init(&w);
  conversation_write_request(&w, c, route.model);
  cd_w_finish(&w, &arg);
  *bytes = arg.size;
  return call_perform(&route.canister, "v1_chat", arg.data, arg.size, 0, callbacks);
}

const char *forward_result(rt_buf *text, uint64_t *bytes) {
  size_t size;
  const uint8_t *data = rt_arg(&size);
  *bytes = size;
  return chat_response_read(data, size, text);
}
