/* json.h: a small JSON reader and writer (json.c, RFC 8259) for canisters that talk to HTTP
 * services (the llm canister's outcalls: the request body it sends, the response it reads).
 *
 * Reading: json_parse checks a whole document once (nesting at most JSON_MAX_DEPTH, no trailing
 * bytes); values are then spans of the text, looked up by member name or array index, and strings
 * decoded on demand (escapes, \uXXXX surrogate pairs; the result must be valid UTF-8):
 *
 *     json_val root, choices, first, message, content;
 *     if (!json_parse(body, size, &root)) ...                         // not JSON
 *     if (json_member(root, "choices", &choices) && json_element(choices, 0, &first) &&
 *         json_member(first, "message", &message) && json_member(message, "content", &content) &&
 *         json_string(content, &text)) ...                            // text: rt_buf, not NUL-terminated
 *
 * Writing: json_w_string appends a string literal (quotes, backslash and control characters
 * escaped), json_w_raw anything the caller knows to be JSON already.
 */
#ifndef JSON_H
#define JSON_H

#include <stddef.h>
#include <stdint.h>

#include "rt.h"

#define JSON_MAX_DEPTH 64

typedef enum { JSON_NULL, JSON_FALSE, JSON_TRUE, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT } json_kind;

typedef struct {
  const char *at, *end; /* the value's text, from its first byte to just past its last */
} json_val;

int json_parse(const char *text, size_t size, json_val *root); /* 1 if the whole text is one JSON value */
json_kind json_kind_of(json_val v);
/* An object's member by name (the first, if a name repeats), an array's element by index: 1 and
 * the value, or 0 when v is not an object/array or has no such member/element. */
int json_member(json_val v, const char *name, json_val *out);
int json_element(json_val v, size_t index, json_val *out);
/* A string's decoded bytes appended to out; 0 if v is not a string or decodes to invalid UTF-8. */
int json_string(json_val v, rt_buf *out);

void json_w_string(rt_buf *b, const char *text, size_t size);
void json_w_raw(rt_buf *b, const char *text);

#endif
