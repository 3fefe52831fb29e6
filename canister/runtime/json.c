/* json.c: JSON checked once, then read by spans; strings escaped on the way out (json.h). */
#include "json.h"

static const char *skip_space(const char *p, const char *end) {
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
  return p;
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }

static int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Past a string starting at its opening quote, or NULL (a control character, a bad escape, no end). */
static const char *skip_string(const char *p, const char *end) {
  for (p++; p < end; p++) {
    unsigned char c = (unsigned char)*p;
    if (c == '"') return p + 1;
    if (c < 0x20) return 0;
    if (c != '\\') continue;
    if (++p >= end) return 0;
    if (*p == 'u') {
      if (end - p < 5) return 0;
      for (int i = 1; i <= 4; i++)
        if (hex_value(p[i]) < 0) return 0;
      p += 4;
    } else if (!(*p == '"' || *p == '\\' || *p == '/' || *p == 'b' || *p == 'f' || *p == 'n' || *p == 'r' || *p == 't')) {
      return 0;
    }
  }
  return 0;
}

static const char *skip_digits(const char *p, const char *end) {
  if (p >= end || !is_digit(*p)) return 0;
  while (p < end && is_digit(*p)) p++;
  return p;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static const char *skip_number(const char *p, const char *end) {
  if (p < end && *p == '-') p++;
  if (p < end && *p == '0') p++;
  else if (!(p = skip_digits(p, end))) return 0;
  if (p < end && *p == '.' && !(p = skip_digits(p + 1, end))) return 0;
  if (p < end && (*p == 'e' || *p == 'E')) {
    p++;
    if (p < end && (*p == '+' || *p == '-')) p++;
    if (!(p = skip_digits(p, end))) return 0;
  }
  return p;
}

static const char *skip_word(const char *p, const char *end, const char *word) {
  size_t n = strlen(word);
  return (size_t)(end - p) >= n && !memcmp(p, word, n) ? p + n : 0;
}

/* Past one value starting at p (no leading space), or NULL if it is not JSON. */
static const char *skip_value(const char *p, const char *end, int depth) {
  if (p >= end) return 0;
  switch (*p) {
    case '"': return skip_string(p, end);
    case 't': return skip_word(p, end, "true");
    case 'f': return skip_word(p, end, "false");
    case 'n': return skip_word(p, end, "null");
    case '[':
    case '{': {
      if (depth >= JSON_MAX_DEPTH) return 0;
      char close = *p == '[' ? ']' : '}';
      int object = *p == '{';
      p = skip_space(p + 1, end);
      if (p < end && *p == close) return p + 1;
      for (;;) {
        if (object) {
          if (p >= end || *p != '"' || !(p = skip_string(p, end))) return 0;
          p = skip_space(p, end);
          if (p >= end || *p != ':') return 0;
          p = skip_space(p + 1, end);
        }
        if (!(p = skip_value(p, end, depth + 1))) return 0;
        p = skip_space(p, end);
        if (p < end && *p == ',') p = skip_space(p + 1, end);
        else if (p < end && *p == close) return p + 1;
        else return 0;
      }
    }
    default: return skip_number(p, end);
  }
}

int json_parse(const char *text, size_t size, json_val *root) {
  const char *end = text + size, *p = skip_space(text, end);
  const char *after = skip_value(p, end, 0);
  if (!after || skip_space(after, end) != end) return 0;
  *root = (json_val){p, after};
  return 1;
}

json_kind json_kind_of(json_val v) {
  switch (*v.at) {
    case 'n': return JSON_NULL;
    case 'f': return JSON_FALSE;
    case 't': return JSON_TRUE;
    case '"': return JSON_STRING;
    case '[': return JSON_ARRAY;
    case '{': return JSON_OBJECT;
    default: return JSON_NUMBER;
  }
}

/* The values of a checked array or object, one after another (members: name, then value). */
static const char *next_item(const char *p, const char *end) {
  p = skip_space(p, end);
  if (*p == ',' || *p == ':') p = skip_space(p + 1, end);
  return *p == ']' || *p == '}' ? 0 : p;
}

int json_element(json_val v, size_t index, json_val *out) {
  if (json_kind_of(v) != JSON_ARRAY) return 0;
  const char *p = v.at + 1;
  for (size_t i = 0; (p = next_item(p, v.end)); i++) {
    const char *after = skip_value(p, v.end, 0);
    if (i == index) {
      *out = (json_val){p, after};
      return 1;
    }
    p = after;
  }
  return 0;
}

int json_member(json_val v, const char *name, json_val *out) {
  if (json_kind_of(v) != JSON_OBJECT) return 0;
  size_t mark = rt_mark();
  const char *p = v.at + 1;
  while ((p = next_item(p, v.end))) {
    const char *name_end = skip_string(p, v.end);
    const char *value = next_item(name_end, v.end);
    const char *after = skip_value(value, v.end, 0);
    rt_buf decoded = {0};
    if (json_string((json_val){p, name_end}, &decoded) && decoded.size == strlen(name) &&
        !memcmp(decoded.data, name, decoded.size)) {
      *out = (json_val){value, after};
      rt_release(mark);
      return 1;
    }
    rt_release(mark);
    p = after;
  }
  return 0;
}

static void append_utf8(rt_buf *out, uint32_t c) {
  if (c < 0x80) {
    rt_buf_byte(out, (uint8_t)c);
  } else if (c < 0x800) {
    rt_buf_byte(out, (uint8_t)(0xC0 | c >> 6));
    rt_buf_byte(out, (uint8_t)(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    rt_buf_byte(out, (uint8_t)(0xE0 | c >> 12));
    rt_buf_byte(out, (uint8_t)(0x80 | (c >> 6 & 0x3F)));
    rt_buf_byte(out, (uint8_t)(0x80 | (c & 0x3F)));
  } else {
    rt_buf_byte(out, (uint8_t)(0xF0 | c >> 18));
    rt_buf_byte(out, (uint8_t)(0x80 | (c >> 12 & 0x3F)));
    rt_buf_byte(out, (uint8_t)(0x80 | (c >> 6 & 0x3F)));
    rt_buf_byte(out, (uint8_t)(0x80 | (c & 0x3F)));
  }
}

static uint32_t hex4(const char *p) {
  return (uint32_t)(hex_value(p[0]) << 12 | hex_value(p[1]) << 8 | hex_value(p[2]) << 4 | hex_value(p[3]));
}

/* Well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing past U+10FFFF). */
static int valid_utf8(const uint8_t *s, size_t n) {
  for (size_t i = 0; i < n;) {
    uint8_t c = s[i];
    size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (!len || i + len > n) return 0;
    uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1Fu) : len == 3 ? (c & 0x0Fu) : (c & 0x07u);
    for (size_t k = 1; k < len; k++) {
      if ((s[i + k] & 0xC0) != 0x80) return 0;
      cp = cp << 6 | (s[i + k] & 0x3Fu);
    }
    static const uint32_t least[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < least[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    i += len;
  }
  return 1;
}

int json_string(json_val v, rt_buf *out) {
  if (json_kind_of(v) != JSON_STRING) return 0;
  size_t start = out->size;
  for (const char *p = v.at + 1; p < v.end - 1; p++) {
    if (*p != '\\') {
      rt_buf_byte(out, (uint8_t)*p);
      continue;
    }
    char e = *++p;
    if (e == 'u') {
      uint32_t c = hex4(p + 1);
      p += 4;
      if (c >= 0xDC00 && c <= 0xDFFF) return 0; /* a low surrogate alone */
      if (c >= 0xD800 && c <= 0xDBFF) {        /* a high surrogate: its low half must follow */
        if (v.end - 1 - p < 7 || p[1] != '\\' || p[2] != 'u') return 0;
        uint32_t low = hex4(p + 3);
        if (low < 0xDC00 || low > 0xDFFF) return 0;
        c = 0x10000 + ((c - 0xD800) << 10) + (low - 0xDC00);
        p += 6;
      }
      append_utf8(out, c);
    } else {
      rt_buf_byte(out, (uint8_t)(e == 'b' ? '\b' : e == 'f' ? '\f' : e == 'n' ? '\n' : e == 'r' ? '\r' : e == 't' ? '\t' : e));
    }
  }
  return valid_utf8(out->data + start, out->size - start);
}

void json_w_string(rt_buf *b, const char *text, size_t size) {
  static const char HEX[] = "0123456789abcdef";
  rt_buf_byte(b, '"');
  for (size_t i = 0; i < size; i++) {
    unsigned char c = (unsigned char)text[i];
    if (c == '"' || c == '\\') {
      rt_buf_byte(b, '\\');
      rt_buf_byte(b, c);
    } else if (c == '\n') {
      rt_buf_append(b, "\\n", 2);
    } else if (c < 0x20) {
      char esc[6] = {'\\', 'u', '0', '0', HEX[c >> 4], HEX[c & 15]};
      rt_buf_append(b, esc, 6);
    } else {
      rt_buf_byte(b, c);
    }
  }
  rt_buf_byte(b, '"');
}

void json_w_raw(rt_buf *b, const char *text) { rt_buf_append(b, text, strlen(text)); }
