/* conversation.c: chat_request_v1 read with the LLM canister's limits, and written to call one;
 * chat_response_v1 written and read (conversation.h). */
#include "conversation.h"

#include "candid_reader.h"
#include "rt.h"

static char line[300];

const char *chat_role_name(chat_role role) {
  return role == ROLE_SYSTEM ? "system" : role == ROLE_USER ? "user" : "assistant";
}

/* One chat_message_v1 into m: NULL, or why not (r->error set for a malformed one). */
static const char *read_message(cd_reader *r, cd_val v, chat_message *m) {
  uint32_t tag;
  cd_val payload, f, inner;
  if (!cd_variant(r, v, &tag, &payload)) return 0;
  m->content = "";
  m->size = 0;
  if (tag == cd_hash("tool")) return "tool messages are not supported: this route answers text conversations";
  if (tag == cd_hash("assistant")) {
    size_t calls = 0;
    m->role = ROLE_ASSISTANT;
    if (cd_field(r, payload, "tool_calls", &f)) cd_vec(r, f, &calls, &inner);
    if (calls) return "tool calls are not supported: this route answers text conversations";
    if (cd_field(r, payload, "content", &f) && cd_opt(r, f, &inner)) cd_text(r, inner, &m->content, &m->size);
    return 0;
  }
  if (tag == cd_hash("user")) m->role = ROLE_USER;
  else if (tag == cd_hash("system")) m->role = ROLE_SYSTEM;
  else return "a message is one of user, system, assistant, tool";
  if (!cd_field(r, payload, "content", &f)) return r->error ? 0 : "invalid argument: a message needs `content`";
  cd_text(r, f, &m->content, &m->size);
  return 0;
}

const char *conversation_read(conversation *c) {
  size_t size;
  const uint8_t *data = rt_arg(&size);
  cd_reader r;
  cd_val arg, f, inner, element;
  const char *problem = 0;
  size_t count = 0, tools = 0;
  *c = (conversation){0};
  if (cd_read_begin(&r, data, size) && cd_arg(&r, 0, &arg)) {
    if (!cd_field(&r, arg, "model", &f)) problem = r.error ? 0 : "invalid argument: the request needs `model`";
    else cd_text(&r, f, &c->model, &c->model_size);
    if (cd_field(&r, arg, "tools", &f) && cd_opt(&r, f, &inner)) cd_vec(&r, inner, &tools, &element);
    if (!problem && !r.error && tools) problem = "tools are not supported: this route answers text conversations";
    if (!problem && !r.error && cd_field(&r, arg, "messages", &f) && cd_vec(&r, f, &count, &element)) {
      if (count == 0) problem = "the conversation has no message";
      if (count > MAX_MESSAGES) {
        rt_format(line, sizeof line, "at most %u messages per request (the LLM canister's limit), got %u",
                  MAX_MESSAGES, (unsigned)count);
        problem = line;
      }
      for (size_t i = 0; i < count && !problem && !r.error; i++) {
        problem = read_message(&r, element, &c->messages[i]);
        if (i + 1 < count) cd_next(&r, &element);
      }
    } else if (!problem && !r.error) {
      problem = "invalid argument: the request needs `messages`";
    }
  }
  if (r.error) {
    rt_format(line, sizeof line, "invalid argument: %s", r.error);
    return line;
  }
  if (problem) return problem;
  c->n = count;
  size_t prompt = 0;
  for (size_t i = 0; i < count; i++) prompt += c->messages[i].size;
  if (prompt > MAX_PROMPT_BYTES) {
    rt_format(line, sizeof line, "the prompt is %u bytes, over the 10 KiB (%u bytes) the LLM canister accepts",
              (unsigned)prompt, MAX_PROMPT_BYTES);
    return line;
  }
  return 0;
}

/* ---- types ---- */

static int32_t assistant_message_type(cd_writer *w) {
  cd_field_type argument[] = {{"value", CD_TEXT}, {"name", CD_TEXT}};
  cd_field_type function[] = {{"name", CD_TEXT}, {"arguments", cd_t_vec(w, cd_t_record(w, 2, argument))}};
  cd_field_type call[] = {{"id", CD_TEXT}, {"function", cd_t_record(w, 2, function)}};
  cd_field_type fields[] = {{"content", cd_t_opt(w, CD_TEXT)}, {"tool_calls", cd_t_vec(w, cd_t_record(w, 2, call))}};
  return cd_t_record(w, 2, fields);
}

static int32_t tool_type(cd_writer *w) {
  cd_field_type property[] = {{"enum", cd_t_opt(w, cd_t_vec(w, CD_TEXT))}, {"type", CD_TEXT},
                              {"description", cd_t_opt(w, CD_TEXT)}};
  cd_field_type parameter[] = {{"type", CD_TEXT}, {"properties", cd_t_opt(w, cd_t_vec(w, cd_t_record(w, 3, property)))},
                               {"required", cd_t_opt(w, cd_t_vec(w, CD_TEXT))}};
  cd_field_type function[] = {{"name", CD_TEXT}, {"parameters", cd_t_opt(w, cd_t_vec(w, cd_t_record(w, 3, parameter)))},
                              {"description", cd_t_opt(w, CD_TEXT)}};
  cd_field_type cases[] = {{"function", cd_t_record(w, 3, function)}};
  return cd_t_variant(w, 1, cases);
}

int32_t chat_response_type(cd_writer *w) {
  cd_field_type fields[] = {{"message", assistant_message_type(w)}};
  return cd_t_record(w, 1, fields);
}

/* ---- values ---- */

static void write_assistant(cd_writer *w, const char *text, size_t size) {
  cd_w_record_begin(w);
  cd_w_opt_some(w);
  cd_w_text(w, text, size);
  cd_w_vec_begin(w, 0);
  cd_w_vec_end(w);
  cd_w_record_end(w);
}

void chat_response_write(cd_writer *w, const char *text, size_t size) {
  cd_w_record_begin(w);
  write_assistant(w, text, size);
  cd_w_record_end(w);
}

void conversation_write_request(cd_writer *w, const conversation *c, const char *model) {
  cd_field_type content[] = {{"content", CD_TEXT}};
  cd_field_type tool_message[] = {{"content", CD_TEXT}, {"tool_call_id", CD_TEXT}};
  int32_t text_message = cd_t_record(w, 1, content);
  cd_field_type cases[] = {{"tool", cd_t_record(w, 2, tool_message)}, {"user", text_message},
                           {"assistant", assistant_message_type(w)}, {"system", text_message}};
  cd_field_type fields[] = {{"model", CD_TEXT}, {"tools", cd_t_opt(w, cd_t_vec(w, tool_type(w)))},
                            {"messages", cd_t_vec(w, cd_t_variant(w, 4, cases))}};
  cd_w_arg(w, cd_t_record(w, 3, fields));
  cd_w_record_begin(w);
  cd_w_cstr(w, model);
  cd_w_opt_none(w);
  cd_w_vec_begin(w, c->n);
  for (size_t i = 0; i < c->n; i++) {
    const chat_message *m = &c->messages[i];
    cd_w_variant(w, chat_role_name(m->role));
    if (m->role == ROLE_ASSISTANT) {
      write_assistant(w, m->content, m->size);
    } else {
      cd_w_record_begin(w);
      cd_w_text(w, m->content, m->size);
      cd_w_record_end(w);
    }
  }
  cd_w_vec_end(w);
  cd_w_record_end(w);
}

const char *chat_response_read(const uint8_t *data, size_t size, rt_buf *out) {
  cd_reader r;
  cd_val arg, message, content, text;
  const char *s;
  size_t n;
  if (!cd_read_begin(&r, data, size) || !cd_arg(&r, 0, &arg) || !cd_field(&r, arg, "message", &message) ||
      !cd_field(&r, message, "content", &content)) {
    rt_format(line, sizeof line, "its reply is not a chat_response_v1 (%s)", r.error ? r.error : "no message content");
    return line;
  }
  if (!cd_opt(&r, content, &text)) return r.error ? "its reply is not a chat_response_v1" : "its answer has no text";
  if (!cd_text(&r, text, &s, &n)) return "its reply is not a chat_response_v1";
  rt_buf_append(out, s, n);
  return 0;
}
