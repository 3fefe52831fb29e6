/* forward.c: v1_chat of the route's LLM canister (forward.h). */
#include "forward.h"

#include "route.h"

static void write_arg(rt_buf *arg, const conversation *c) {
  cd_writer w;
  cd_writer_init(&w);
  conversation_write_request(&w, c, route.model);
  cd_w_finish(&w, arg);
}

uint64_t forward_request_bytes(const conversation *c) {
  size_t mark = rt_mark();
  rt_buf arg = {0};
  write_arg(&arg, c);
  uint64_t bytes = arg.size + 7 /* "v1_chat" */;
  rt_release(mark);
  return bytes;
}

uint32_t forward_start(const conversation *c, call_callbacks callbacks) {
  rt_buf arg = {0};
  write_arg(&arg, c);
  return call_perform(&route.canister, "v1_chat", arg.data, arg.size, 0, callbacks);
}

const char *forward_result(rt_buf *text, uint64_t *bytes) {
  size_t size;
  const uint8_t *data = rt_arg(&size);
  *bytes = size;
  return chat_response_read(data, size, text);
}
