/* openai.c: the chat-completions request body and the canonical response (openai.h). */
#include "openai.h"

#include "json.h"

static char line[ERROR_TEXT_MAX + 200];

static int same(const char *a, const char *b) { return strlen(a) == strlen(b) && !memcmp(a, b, strlen(a)); }

void openai_request_body(rt_buf *b, const conversation *c, const char *model, uint32_t max_tokens) {
  json_w_raw(b, "{\"model\":");
  json_w_string(b, model, strlen(model));
  json_w_raw(b, ",\"messages\":[");
  for (size_t i = 0; i < c->n; i++) {
    json_w_raw(b, i ? ",{\"role\":\"" : "{\"role\":\"");
    json_w_raw(b, chat_role_name(c->messages[i].role));
    json_w_raw(b, "\",\"content\":");
    json_w_string(b, c->messages[i].content, c->messages[i].size);
    json_w_raw(b, "}");
  }
  json_w_raw(b, "]");
  if (max_tokens) {
    char n[32];
    rt_format(n, sizeof n, ",\"max_tokens\":%u", max_tokens);
    json_w_raw(b, n);
  }
  json_w_raw(b, ",\"stream\":false}");
}

/* The first `max` bytes of s, cut back to a whole UTF-8 character. */
static size_t utf8_prefix(const uint8_t *s, size_t n, size_t max) {
  if (n <= max) return n;
  while (max > 0 && (s[max] & 0xC0) == 0x80) max--;
  return max;
}

static void set_error(canonical_response *out, const char *reason, size_t n) {
  out->header = ERROR_HEADER;
  out->value.size = 0;
  rt_buf_append(&out->value, reason, utf8_prefix((const uint8_t *)reason, n, ERROR_TEXT_MAX));
  out->body.size = 0;
}

void openai_canonical(uint64_t status, const uint8_t *body, size_t size, canonical_response *out) {
  *out = (canonical_response){.status = status};
  json_val root, v, first, message, content;
  int json = json_parse((const char *)body, size, &root);
  if (status < 200 || status > 299) {
    rt_buf reason = {0};
    if (!(json && json_member(root, "error", &v) && json_member(v, "message", &v) && json_string(v, &reason))) {
      rt_buf_append(&reason, "no error message", 16);
    }
    set_error(out, (const char *)reason.data, reason.size);
    return;
  }
  if (!json) {
    set_error(out, "not JSON", 8);
    return;
  }
  if (!(json_member(root, "choices", &v) && json_element(v, 0, &first) && json_member(first, "message", &message) &&
        json_member(message, "content", &content) && json_string(content, &out->body))) {
    set_error(out, "no choices[0].message.content text", 34);
    return;
  }
  out->header = FINISH_REASON_HEADER;
  if (json_member(first, "finish_reason", &v) && json_kind_of(v) == JSON_STRING) json_string(v, &out->value);
}

const char *openai_answer(const canonical_response *c, rt_buf *text) {
  const char *header = c->header ? c->header : "";
  char reason[ERROR_TEXT_MAX + 1];
  size_t n = c->value.size < ERROR_TEXT_MAX ? c->value.size : ERROR_TEXT_MAX;
  memcpy(reason, c->value.data, n);
  reason[n] = 0;
  if (c->status < 200 || c->status > 299) {
    rt_format(line, sizeof line, "the LLM service refused the request: HTTP %llu, %s", (unsigned long long)c->status,
              reason);
    return line;
  }
  if (same(header, ERROR_HEADER)) {
    rt_format(line, sizeof line, "the LLM service's answer is malformed: %s", reason);
    return line;
  }
  if (!same(header, FINISH_REASON_HEADER)) return "the LLM service's answer is malformed: the transform did not run";
  rt_buf_append(text, c->body.data, c->body.size);
  return 0;
}
