/* manifest.c: a strict, small JSON reader for manifest.json (see manifest.h).
 *
 * Recursive descent over the text with a depth limit; strings are decoded only where they are
 * kept (path, role, sha256) and must then be plain (no escapes needed in bundle paths: an escape
 * in a kept string is refused rather than decoded half-right). */
#include "manifest.h"

#include "rt.h"

#define MAX_DEPTH 32

typedef struct {
  const char *p, *end, *start;
  const char *error;
  char *error_text;
  size_t capacity;
} parser;

static int fail(parser *s, const char *what) {
  if (!s->error) {
    rt_format(s->error_text, s->capacity, "invalid manifest.json at byte %llu: %s",
              (unsigned long long)(s->p - s->start), what);
    s->error = s->error_text;
  }
  return 0;
}

static void skip_space(parser *s) {
  while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r')) s->p++;
}

static int expect(parser *s, char c) {
  skip_space(s);
  if (s->p >= s->end || *s->p != c) return fail(s, "unexpected character");
  s->p++;
  return 1;
}

/* A string: on success *out/*size give its raw contents (between the quotes); *plain says
 * whether it holds no escape. Escapes are validated; the bytes are taken as they are. */
static int string(parser *s, const char **out, size_t *size, int *plain) {
  skip_space(s);
  if (s->p >= s->end || *s->p != '"') return fail(s, "expected a string");
  const char *begin = ++s->p;
  *plain = 1;
  while (s->p < s->end && *s->p != '"') {
    unsigned char c = (unsigned char)*s->p;
    if (c < 0x20) return fail(s, "control character in a string");
    if (c == '\\') {
      *plain = 0;
      if (++s->p >= s->end) break;
      char e = *s->p;
      if (e == 'u') {
        for (int i = 0; i < 4; i++) {
          if (++s->p >= s->end) return fail(s, "truncated \\u escape");
          char h = *s->p;
          if (!((h >= '0' && h <= '9') || (h >= 'a' && h <= 'f') || (h >= 'A' && h <= 'F'))) return fail(s, "bad \\u escape");
        }
      } else if (!(e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' || e == 'r' || e == 't')) {
        return fail(s, "bad escape");
      }
    }
    s->p++;
  }
  if (s->p >= s->end) return fail(s, "unterminated string");
  *out = begin;
  *size = (size_t)(s->p - begin);
  s->p++;
  return 1;
}

static int number(parser *s, uint64_t *value, int *is_nat) {
  skip_space(s);
  const char *begin = s->p;
  uint64_t v = 0;
  int nat = 1;
  if (s->p < s->end && *s->p == '-') {
    nat = 0;
    s->p++;
  }
  if (s->p >= s->end || *s->p < '0' || *s->p > '9') return fail(s, "expected a value");
  if (*s->p == '0' && s->p + 1 < s->end && s->p[1] >= '0' && s->p[1] <= '9') return fail(s, "leading zero");
  while (s->p < s->end && *s->p >= '0' && *s->p <= '9') {
    uint64_t digit = (uint64_t)(*s->p - '0');
    if (v > (UINT64_MAX - digit) / 10) nat = 0; /* too big to be a size: still valid JSON */
    else v = v * 10 + digit;
    s->p++;
  }
  if (s->p < s->end && *s->p == '.') {
    nat = 0;
    if (++s->p >= s->end || *s->p < '0' || *s->p > '9') return fail(s, "bad fraction");
    while (s->p < s->end && *s->p >= '0' && *s->p <= '9') s->p++;
  }
  if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
    nat = 0;
    s->p++;
    if (s->p < s->end && (*s->p == '+' || *s->p == '-')) s->p++;
    if (s->p >= s->end || *s->p < '0' || *s->p > '9') return fail(s, "bad exponent");
    while (s->p < s->end && *s->p >= '0' && *s->p <= '9') s->p++;
  }
  (void)begin;
  *value = v;
  *is_nat = nat;
  return 1;
}

static int literal(parser *s, const char *word) {
  size_t n = strlen(word);
  if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n)) return fail(s, "expected a value");
  s->p += n;
  return 1;
}

static int skip_value(parser *s, int depth);

static int skip_object(parser *s, int depth) {
  const char *key;
  size_t size;
  int plain;
  if (!expect(s, '{')) return 0;
  skip_space(s);
  if (s->p < s->end && *s->p == '}') return ++s->p, 1;
  for (;;) {
    if (!string(s, &key, &size, &plain) || !expect(s, ':') || !skip_value(s, depth + 1)) return 0;
    skip_space(s);
    if (s->p < s->end && *s->p == ',') {
      s->p++;
      continue;
    }
    return expect(s, '}');
  }
}

static int skip_array(parser *s, int depth) {
  if (!expect(s, '[')) return 0;
  skip_space(s);
  if (s->p < s->end && *s->p == ']') return ++s->p, 1;
  for (;;) {
    if (!skip_value(s, depth + 1)) return 0;
    skip_space(s);
    if (s->p < s->end && *s->p == ',') {
      s->p++;
      continue;
    }
    return expect(s, ']');
  }
}

static int skip_value(parser *s, int depth) {
  if (depth > MAX_DEPTH) return fail(s, "nested too deeply");
  skip_space(s);
  if (s->p >= s->end) return fail(s, "expected a value");
  switch (*s->p) {
    case '{': return skip_object(s, depth);
    case '[': return skip_array(s, depth);
    case '"': {
      const char *v;
      size_t n;
      int plain;
      return string(s, &v, &n, &plain);
    }
    case 't': return literal(s, "true");
    case 'f': return literal(s, "false");
    case 'n': return literal(s, "null");
    default: {
      uint64_t v;
      int nat;
      return number(s, &v, &nat);
    }
  }
}

static int key_is(const char *key, size_t size, const char *name) {
  return size == strlen(name) && !memcmp(key, name, size);
}

static int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1; /* the manifest writes lower-case hex */
}

static int kept_text(parser *s, char *out, size_t capacity, const char *what) {
  const char *v;
  size_t n;
  int plain;
  if (!string(s, &v, &n, &plain)) return 0;
  if (!plain) return fail(s, what);
  if (n == 0 || n >= capacity) return fail(s, "a path or role is empty or too long");
  memcpy(out, v, n);
  out[n] = 0;
  return 1;
}

/* A bundle path names the same file as a key under /model/ and as a URL the page fetches: relative,
 * '/'-separated, no empty, "." or ".." segment (a browser would resolve those to another file than
 * the store checked) and none of the characters URLs give meaning to (? # %; a backslash can
 * only be an escape, refused above). */
static int bundle_path(parser *s, const char *path) {
  const char *segment = path;
  for (const char *c = path;; c++) {
    if (*c == '?' || *c == '#' || *c == '%') return fail(s, "a file path must not contain ?, # or %");
    if (*c == '/' || !*c) {
      size_t n = (size_t)(c - segment);
      if (n == 0 || (n == 1 && segment[0] == '.') || (n == 2 && segment[0] == '.' && segment[1] == '.'))
        return fail(s, "a file path must be relative, without empty, . or .. segments");
      if (!*c) return 1;
      segment = c + 1;
    }
  }
}

/* {"path": ..., "size": ..., "sha256": ..., "role": ..., anything else} */
static int file_entry(parser *s, mf_file *f) {
  const char *key, *v;
  size_t size, n;
  int plain, have = 0;
  memset(f, 0, sizeof *f);
  if (!expect(s, '{')) return 0;
  for (;;) {
    if (!string(s, &key, &size, &plain) || !expect(s, ':')) return 0;
    if (key_is(key, size, "path")) {
      if (!kept_text(s, f->path, sizeof f->path, "escapes are not allowed in a file path") || !bundle_path(s, f->path))
        return 0;
      have |= 1;
    } else if (key_is(key, size, "role")) {
      if (!kept_text(s, f->role, sizeof f->role, "escapes are not allowed in a role")) return 0;
    } else if (key_is(key, size, "size")) {
      int nat;
      if (!number(s, &f->size, &nat)) return 0;
      if (!nat) return fail(s, "a file size must be a whole number of bytes");
      have |= 2;
    } else if (key_is(key, size, "sha256")) {
      if (!string(s, &v, &n, &plain)) return 0;
      if (n != 64) return fail(s, "sha256 must be 64 hex digits");
      for (int i = 0; i < 32; i++) {
        int hi = hex_value(v[2 * i]), lo = hex_value(v[2 * i + 1]);
        if (hi < 0 || lo < 0) return fail(s, "sha256 must be lower-case hex");
        f->sha256[i] = (uint8_t)(hi << 4 | lo);
      }
      have |= 4;
    } else if (!skip_value(s, 2)) {
      return 0;
    }
    skip_space(s);
    if (s->p < s->end && *s->p == ',') {
      s->p++;
      continue;
    }
    if (!expect(s, '}')) return 0;
    if (have != 7) return fail(s, "every file needs path, size and sha256");
    return 1;
  }
}

static int files_array(parser *s, mf_manifest *m) {
  if (!expect(s, '[')) return 0;
  skip_space(s);
  if (s->p < s->end && *s->p == ']') return ++s->p, 1;
  for (;;) {
    if (m->n_files == MF_MAX_FILES) return fail(s, "more than 64 files");
    if (!file_entry(s, &m->files[m->n_files++])) return 0;
    skip_space(s);
    if (s->p < s->end && *s->p == ',') {
      s->p++;
      continue;
    }
    return expect(s, ']');
  }
}

const char *mf_parse(const char *text, size_t size, mf_manifest *out, char *error, size_t capacity) {
  parser s = {text, text + size, text, 0, error, capacity};
  const char *key;
  size_t n;
  int plain, have_files = 0;
  out->n_files = 0;
  if (!expect(&s, '{')) return s.error;
  skip_space(&s);
  if (s.p < s.end && *s.p == '}') {
    s.p++;
  } else {
    for (;;) {
      if (!string(&s, &key, &n, &plain) || !expect(&s, ':')) return s.error;
      if (key_is(key, n, "files")) {
        if (have_files) return fail(&s, "\"files\" appears twice"), s.error;
        have_files = 1;
        if (!files_array(&s, out)) return s.error;
      } else if (!skip_value(&s, 1)) {
        return s.error;
      }
      skip_space(&s);
      if (s.p < s.end && *s.p == ',') {
        s.p++;
        continue;
      }
      if (!expect(&s, '}')) return s.error;
      break;
    }
  }
  skip_space(&s);
  if (s.p != s.end) return fail(&s, "text after the manifest"), s.error;
  if (!have_files) return fail(&s, "no \"files\" list"), s.error;
  return 0;
}
