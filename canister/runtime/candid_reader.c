/* candid_reader.c: reading Candid messages, see candid_reader.h. */
#include "candid_reader.h"

#include <wasm_simd128.h>

#include "rt.h"

#define MAX_DEPTH 64

static int set_error(cd_reader *r, const char *format, const char *a, const char *b) {
  if (!r->error) {
    rt_format(r->error_text, sizeof r->error_text, format, a, b);
    r->error = r->error_text;
  }
  return 0;
}

/* LEB128 numbers: 1 and the value, 0 if truncated, -1 if the value does not fit 64 bits. */
static int decode_leb(const uint8_t **p, const uint8_t *end, uint64_t *out) {
  uint64_t value = 0;
  for (int shift = 0;; shift += 7) {
    if (*p >= end) return 0;
    uint8_t byte = *(*p)++;
    if (shift == 63 && byte > 1) return -1; /* bit 63 is the last one, and the number ends here */
    value |= (uint64_t)(byte & 0x7f) << shift;
    if (!(byte & 0x80)) {
      *out = value;
      return 1;
    }
  }
}

static int decode_sleb(const uint8_t **p, const uint8_t *end, int64_t *out) {
  uint64_t value = 0;
  for (int shift = 0;; shift += 7) {
    if (*p >= end) return 0;
    uint8_t byte = *(*p)++;
    if (shift == 63) { /* bit 63 and the sign: 0x00 or 0x7f, and the number ends here */
      if (byte != 0x00 && byte != 0x7f) return -1;
      *out = (int64_t)(value | (uint64_t)(byte & 1) << 63);
      return 1;
    }
    value |= (uint64_t)(byte & 0x7f) << shift;
    if (!(byte & 0x80)) {
      if (byte & 0x40) value |= ~0ull << (shift + 7); /* sign-extend (shift + 7 ≤ 63 here) */
      *out = (int64_t)value;
      return 1;
    }
  }
}

static int read_leb(cd_reader *r, const uint8_t **p, uint64_t *out) {
  int status = decode_leb(p, r->end, out);
  if (status > 0) return 1;
  return set_error(r, status ? "LEB128 number does not fit 64 bits%s%s" : "truncated LEB128 number%s%s", "", "");
}

static int read_sleb(cd_reader *r, const uint8_t **p, int64_t *out) {
  int status = decode_sleb(p, r->end, out);
  if (status > 0) return 1;
  return set_error(r, status ? "SLEB128 number does not fit 64 bits%s%s" : "truncated SLEB128 number%s%s", "", "");
}

/* nat and int are unbounded in Candid: a valid message may carry 2^100 in a field the canister
 * ignores, so validation only finds the end; the number readers refuse what does not fit. */
static int skip_leb(cd_reader *r, const uint8_t **p) {
  while (*p < r->end)
    if (!(*(*p)++ & 0x80)) return 1;
  return set_error(r, "truncated LEB128 number%s%s", "", "");
}

/* The decoder's work budget, one per message (cd_read_begin sets it): one step per value walked
 * and per type-table field or variant tag walked, by validation and by every reader call after it
 * (cd_field, cd_next, cd_variant, cd_arg re-walk values), so no message can cost much more than a
 * few passes over itself: not by validation (a long variant list chosen by many tags, records of
 * zero-size records), nor by a reader that looks fields up behind many skipped ones again and again. */
#define STEPS_PER_BYTE 8
#define STEPS_BASE 65536

static int step(cd_reader *r, uint64_t n) {
  if (n > r->steps_left) {
    r->steps_left = 0;
    return set_error(r, "message too costly to decode (nested empty values or long type walks)%s%s", "", "");
  }
  r->steps_left -= n;
  return 1;
}

static int need(cd_reader *r, const uint8_t *p, uint64_t n) {
  if (n > (uint64_t)(r->end - p)) return set_error(r, "value runs past the end of the message%s%s", "", "");
  return 1;
}

static int read_type_ref(cd_reader *r, const uint8_t **p, int32_t *out) {
  int64_t t;
  if (!read_sleb(r, p, &t)) return 0;
  if (t >= 0 ? (uint64_t)t >= r->n_types : !cd_is_primitive(t)) return set_error(r, "bad type reference in the type table%s%s", "", "");
  *out = (int32_t)t;
  return 1;
}

/* Opcode of a type (primitive code, or the opcode of its table entry) and where its body starts. */
static int32_t kind_of(const cd_reader *r, int32_t t, const uint8_t **body) {
  if (t < 0) return t;
  const uint8_t *p = r->types[t];
  int32_t op = (int8_t)(*p & 0x7f) | ((*p & 0x40) ? ~0x7f : 0); /* one-byte SLEB: every composite opcode */
  *body = p + 1;
  return op;
}

static int check_utf8(cd_reader *r, const uint8_t *s, uint64_t n) {
  static const uint32_t minimum[] = {0, 0x80, 0x800, 0x10000};
  for (uint64_t i = 0; i < n;) {
    uint8_t c = s[i];
    if (c < 0x80) { /* ASCII: take 16 bytes at a time while they stay ASCII (no high bit set) */
      if (i + 16 <= n && !wasm_i8x16_bitmask(wasm_v128_load(s + i))) i += 16;
      else i++;
      continue;
    }
    int extra = (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : -1;
    if (extra < 0 || i + extra >= n) return set_error(r, "text is not valid UTF-8%s%s", "", "");
    uint32_t cp = c & (0x3f >> extra);
    for (int k = 1; k <= extra; k++) {
      if ((s[i + k] & 0xc0) != 0x80) return set_error(r, "text is not valid UTF-8%s%s", "", "");
      cp = cp << 6 | (s[i + k] & 0x3f);
    }
    if (cp < minimum[extra] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
      return set_error(r, "text is not valid UTF-8%s%s", "", "");
    i += 1 + extra;
  }
  return 1;
}

static int fixed_size(int32_t t) {
  switch (t) {
    case CD_NULL: case CD_RESERVED: return 0;
    case CD_NAT8: case CD_INT8: return 1;
    case CD_NAT16: case CD_INT16: return 2;
    case CD_NAT32: case CD_INT32: case CD_FLOAT32: return 4;
    case CD_NAT64: case CD_INT64: case CD_FLOAT64: return 8;
    default: return -1;
  }
}

/* Advance *p past one value of type t. */
static int skip(cd_reader *r, int32_t t, const uint8_t **p, int depth) {
  if (depth > MAX_DEPTH) return set_error(r, "value nested deeper than 64 levels%s%s", "", "");
  if (!step(r, 1)) return 0;
  int size = fixed_size(t);
  if (size >= 0) {
    if (!need(r, *p, (uint64_t)size)) return 0;
    *p += size;
    return 1;
  }
  uint64_t n;
  const uint8_t *body;
  switch (kind_of(r, t, &body)) {
    case CD_BOOL:
      if (!need(r, *p, 1)) return 0;
      if (**p > 1) return set_error(r, "bool must be 0 or 1%s%s", "", "");
      (*p)++;
      return 1;
    case CD_NAT: case CD_INT: return skip_leb(r, p);
    case CD_TEXT: /* UTF-8 is checked once, by validation: re-walks jump over the bytes */
      if (!read_leb(r, p, &n) || !need(r, *p, n) || (!r->validated && !check_utf8(r, *p, n))) return 0;
      *p += n;
      return 1;
    case CD_EMPTY: return set_error(r, "a value of type empty cannot exist%s%s", "", "");
    case CD_PRINCIPAL:
      if (!need(r, *p, 1)) return 0;
      if (**p != 1) return set_error(r, "opaque principal references are not supported%s%s", "", "");
      (*p)++;
      if (!read_leb(r, p, &n) || !need(r, *p, n)) return 0;
      if (n > 29) return set_error(r, "principal longer than 29 bytes%s%s", "", "");
      *p += n;
      return 1;
    case CD_OPT: {
      int32_t inner;
      if (!read_type_ref(r, &body, &inner) || !need(r, *p, 1)) return 0;
      uint8_t flag = *(*p)++;
      if (flag > 1) return set_error(r, "opt flag must be 0 or 1%s%s", "", "");
      return flag ? skip(r, inner, p, depth + 1) : 1;
    }
    case CD_VEC: {
      int32_t element;
      if (!read_type_ref(r, &body, &element) || !read_leb(r, p, &n)) return 0;
      int element_size = fixed_size(element);
      if (element_size > 0) {
        if (n > (uint64_t)(r->end - *p) / (uint64_t)element_size) return set_error(r, "vector runs past the end of the message%s%s", "", "");
        *p += n * element_size;
        return 1;
      }
      if (element_size == 0) return step(r, n); /* vec null / vec reserved: nothing to skip */
      /* Every element takes a byte, except records of null/reserved/empty records (bounded by the budget). */
      const uint8_t *element_body;
      if (n > (uint64_t)(r->end - *p) && kind_of(r, element, &element_body) != CD_RECORD)
        return set_error(r, "vector runs past the end of the message%s%s", "", "");
      if (element == CD_NAT || element == CD_INT) { /* common and cheap: no call per element */
        if (!step(r, n)) return 0;
        const uint8_t *q = *p, *end = r->end; /* locals, not reloaded through the pointers */
        for (uint64_t i = 0; i < n; i++) {
          while (q < end && (*q & 0x80)) q++;
          if (q++ >= end) return set_error(r, "truncated LEB128 number%s%s", "", "");
        }
        *p = q;
        return 1;
      }
      for (uint64_t i = 0; i < n; i++)
        if (!skip(r, element, p, depth + 1)) return 0;
      return 1;
    }
    case CD_RECORD: {
      if (!read_leb(r, &body, &n)) return 0;
      for (uint64_t i = 0; i < n; i++) {
        uint64_t id;
        int32_t field;
        if (!read_leb(r, &body, &id) || !read_type_ref(r, &body, &field) || !skip(r, field, p, depth + 1)) return 0;
      }
      return 1;
    }
    case CD_VARIANT: {
      uint64_t count, index, id;
      int32_t field = 0;
      if (!read_leb(r, &body, &count) || !read_leb(r, p, &index)) return 0;
      if (index >= count) return set_error(r, "variant tag index out of range%s%s", "", "");
      if (!step(r, index)) return 0;
      for (uint64_t i = 0; i <= index; i++)
        if (!read_leb(r, &body, &id) || !read_type_ref(r, &body, &field)) return 0;
      return skip(r, field, p, depth + 1);
    }
    default: return set_error(r, "values of type %s are not supported%s", cd_type_name(kind_of(r, t, &body)), "");
  }
}

/* Check one type-table entry and advance past it. */
static int parse_entry(cd_reader *r, const uint8_t **p) {
  int64_t op;
  uint64_t n, id, previous = 0;
  int32_t t;
  if (!read_sleb(r, p, &op)) return 0;
  switch (op) {
    case CD_OPT: case CD_VEC: return read_type_ref(r, p, &t);
    case CD_RECORD: case CD_VARIANT:
      if (!read_leb(r, p, &n)) return 0;
      for (uint64_t i = 0; i < n; i++) {
        if (!read_leb(r, p, &id) || !read_type_ref(r, p, &t)) return 0;
        if (id > 0xffffffffu || (i && id <= previous)) return set_error(r, "field ids must be 32-bit and strictly increasing%s%s", "", "");
        previous = id;
      }
      return 1;
    case CD_FUNC:
      for (int part = 0; part < 2; part++) {
        if (!read_leb(r, p, &n)) return 0;
        for (uint64_t i = 0; i < n; i++)
          if (!read_type_ref(r, p, &t)) return 0;
      }
      if (!read_leb(r, p, &n) || !need(r, *p, n)) return 0;
      *p += n; /* annotations */
      return 1;
    case CD_SERVICE:
      if (!read_leb(r, p, &n)) return 0;
      for (uint64_t i = 0; i < n; i++) {
        uint64_t len;
        if (!read_leb(r, p, &len) || !need(r, *p, len) || !check_utf8(r, *p, len)) return 0;
        *p += len;
        if (!read_type_ref(r, p, &t)) return 0;
      }
      return 1;
    default: return set_error(r, "unknown type opcode in the type table%s%s", "", "");
  }
}

static int validate_message(cd_reader *r, size_t size) {
  const uint8_t *p = r->data;
  if (size < 4 || memcmp(p, "DIDL", 4)) return set_error(r, "not Candid (no DIDL header)%s%s", "", "");
  p += 4;
  uint64_t n;
  if (!read_leb(r, &p, &n)) return 0;
  if (n > (uint64_t)(r->end - p) / 2) return set_error(r, "type table longer than the message%s%s", "", ""); /* entries take ≥ 2 bytes */
  if ((n + 1) * sizeof *r->types + 256 > rt_scratch_free()) /* + the argument index */
    return set_error(r, "type table too large for the canister's scratch memory%s%s", "", "");
  r->n_types = (uint32_t)n;
  r->types = rt_scratch((n ? n : 1) * sizeof *r->types, 8);
  for (uint32_t i = 0; i < r->n_types; i++) {
    r->types[i] = p;
    if (!need(r, p, 1)) return 0;
    int64_t op;
    const uint8_t *q = p;
    if (!read_sleb(r, &q, &op)) return 0;
    if (q != p + 1) return set_error(r, "unknown type opcode in the type table%s%s", "", "");
    if (!parse_entry(r, &p)) return 0;
  }
  if (!read_leb(r, &p, &n)) return 0;
  if (n > (uint64_t)(r->end - p)) return set_error(r, "more arguments than bytes%s%s", "", "");
  r->n_args = (uint32_t)n;
  r->arg_types = p;
  uint32_t indexed = r->n_args < CD_INDEXED_ARGS ? r->n_args : CD_INDEXED_ARGS;
  r->args = rt_scratch((indexed ? indexed : 1) * sizeof *r->args, 8);
  for (uint32_t i = 0; i < r->n_args; i++) {
    int32_t t;
    if (!read_type_ref(r, &p, &t)) return 0;
    if (i < indexed) r->args[i].type = t;
  }
  const uint8_t *types = r->arg_types; /* second walk over the (now checked) argument types */
  for (uint32_t i = 0; i < r->n_args; i++) {
    int32_t t;
    read_type_ref(r, &types, &t);
    if (i < indexed) r->args[i].at = p;
    if (!skip(r, t, &p, 0)) return 0;
  }
  if (p != r->end) return set_error(r, "trailing bytes after the arguments%s%s", "", "");
  return 1;
}

int cd_read_begin(cd_reader *r, const uint8_t *data, size_t size) {
  memset(r, 0, sizeof *r);
  r->data = data;
  r->end = data + size;
  r->steps_left = STEPS_BASE + (uint64_t)STEPS_PER_BYTE * size;
  r->validated = validate_message(r, size);
  return r->validated;
}

int cd_arg(cd_reader *r, uint32_t index, cd_val *out) {
  if (r->error) return 0;
  if (index >= r->n_args) return set_error(r, "missing argument%s%s", "", "");
  r->field = 0;
  if (index < CD_INDEXED_ARGS) {
    *out = r->args[index];
    return 1;
  }
  /* past the indexed ones: walk from the last indexed argument (rare; the message is valid) */
  cd_val v = r->args[CD_INDEXED_ARGS - 1];
  const uint8_t *types = r->arg_types;
  int32_t t;
  for (uint32_t i = 0; i < CD_INDEXED_ARGS; i++) read_type_ref(r, &types, &t);
  for (uint32_t i = CD_INDEXED_ARGS; i <= index; i++) {
    skip(r, v.type, &v.at, 0);
    read_type_ref(r, &types, &v.type);
  }
  *out = v;
  return !r->error;
}

int cd_read_arg(cd_reader *r, cd_val *arg) {
  size_t size;
  const uint8_t *data = rt_arg(&size);
  if (cd_read_begin(r, data, size) && cd_arg(r, 0, arg)) return 1;
  rt_rejectf("invalid argument: %s", r->error);
  return 0;
}

int cd_read_no_args(void) {
  size_t size;
  const uint8_t *data = rt_arg(&size);
  cd_reader r;
  if (cd_read_begin(&r, data, size)) return 1;
  rt_rejectf("invalid argument: %s", r.error);
  return 0;
}

static int mismatch(cd_reader *r, const char *expected, cd_val v) {
  const uint8_t *body;
  char where[80] = "";
  if (r->field) rt_format(where, sizeof where, " at field `%s`", r->field);
  char text[120];
  rt_format(text, sizeof text, "expected %s%s", expected, where);
  return set_error(r, "%s, got %s", text, cd_type_name(kind_of(r, v.type, &body)));
}

static uint64_t load_le(const uint8_t *p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
  return v;
}

/* A handle moved past the last value (cd_next once too often) must not read past the message. */
static int fixed_ok(cd_reader *r, cd_val v) {
  int size = fixed_size(v.type);
  return size <= 0 || need(r, v.at, (uint64_t)size);
}

static int too_large(cd_reader *r, const char *name) {
  char where[80] = "";
  if (r->field) rt_format(where, sizeof where, " at field `%s`", r->field);
  return set_error(r, "number too large for %s%s", name, where);
}

static int read_unsigned(cd_reader *r, cd_val v, uint64_t max, const char *name, uint64_t *out) {
  if (r->error || !fixed_ok(r, v)) return 0;
  const uint8_t *p = v.at;
  int size = fixed_size(v.type);
  if (v.type == CD_NAT) {
    int status = decode_leb(&p, r->end, out);
    if (status < 0) return too_large(r, name);
    if (!status) return set_error(r, "truncated LEB128 number%s%s", "", "");
  } else if ((v.type == CD_NAT8 || v.type == CD_NAT16 || v.type == CD_NAT32 || v.type == CD_NAT64) &&
             size <= (max == 0xffffffffu ? 4 : 8)) {
    *out = load_le(p, size);
  } else {
    return mismatch(r, name, v);
  }
  return *out > max ? too_large(r, name) : 1;
}

int cd_nat32(cd_reader *r, cd_val v, uint32_t *out) {
  uint64_t x;
  if (!read_unsigned(r, v, 0xffffffffu, "nat32", &x)) return 0;
  *out = (uint32_t)x;
  return 1;
}
int cd_nat64(cd_reader *r, cd_val v, uint64_t *out) { return read_unsigned(r, v, ~0ull, "nat64", out); }

int cd_int64(cd_reader *r, cd_val v, int64_t *out) {
  if (r->error || !fixed_ok(r, v)) return 0;
  const uint8_t *p = v.at;
  uint64_t u;
  switch (v.type) {
    case CD_INT: {
      int status = decode_sleb(&p, r->end, out);
      if (status < 0) return too_large(r, "int64");
      return status ? 1 : set_error(r, "truncated SLEB128 number%s%s", "", "");
    }
    case CD_INT8: *out = (int8_t)p[0]; return 1;
    case CD_INT16: *out = (int16_t)load_le(p, 2); return 1;
    case CD_INT32: *out = (int32_t)load_le(p, 4); return 1;
    case CD_INT64: *out = (int64_t)load_le(p, 8); return 1;
    case CD_NAT: case CD_NAT8: case CD_NAT16: case CD_NAT32: case CD_NAT64:
      if (!read_unsigned(r, v, 0x7fffffffffffffffull, "int64", &u)) return 0;
      *out = (int64_t)u;
      return 1;
    default: return mismatch(r, "int64", v);
  }
}

int cd_float64(cd_reader *r, cd_val v, double *out) {
  if (r->error || !fixed_ok(r, v)) return 0;
  if (v.type == CD_FLOAT64) {
    uint64_t bits = load_le(v.at, 8);
    __builtin_memcpy(out, &bits, 8);
  } else if (v.type == CD_FLOAT32) {
    uint32_t bits = (uint32_t)load_le(v.at, 4);
    float f;
    __builtin_memcpy(&f, &bits, 4);
    *out = f;
  } else {
    return mismatch(r, "float64", v);
  }
  return 1;
}
int cd_float32(cd_reader *r, cd_val v, float *out) {
  double d;
  if (v.type != CD_FLOAT32 && v.type != CD_FLOAT64) return mismatch(r, "float32", v);
  if (!cd_float64(r, v, &d)) return 0;
  *out = (float)d;
  return 1;
}

int cd_bool(cd_reader *r, cd_val v, int *out) {
  if (r->error) return 0;
  if (v.type != CD_BOOL) return mismatch(r, "bool", v);
  if (!need(r, v.at, 1)) return 0;
  *out = *v.at;
  return 1;
}

static int sized(cd_reader *r, cd_val v, const uint8_t **out, size_t *size) {
  const uint8_t *p = v.at;
  uint64_t n;
  if (!read_leb(r, &p, &n)) return 0;
  *out = p;
  *size = (size_t)n;
  return 1;
}

int cd_text(cd_reader *r, cd_val v, const char **out, size_t *size) {
  if (r->error) return 0;
  if (v.type != CD_TEXT) return mismatch(r, "text", v);
  return sized(r, v, (const uint8_t **)out, size);
}

static int vec_element(const cd_reader *r, int32_t t, int32_t *element) {
  const uint8_t *body;
  if (kind_of(r, t, &body) != CD_VEC) return 0;
  int64_t e;
  cd_reader scratch = *r;
  if (!read_sleb(&scratch, &body, &e)) return 0;
  *element = (int32_t)e;
  return 1;
}

int cd_blob(cd_reader *r, cd_val v, const uint8_t **out, size_t *size) {
  if (r->error) return 0;
  int32_t element;
  if (!vec_element(r, v.type, &element) || element != CD_NAT8) return mismatch(r, "blob", v);
  return sized(r, v, out, size);
}

int cd_principal(cd_reader *r, cd_val v, const uint8_t **out, size_t *size) {
  if (r->error) return 0;
  if (v.type != CD_PRINCIPAL) return mismatch(r, "principal", v);
  cd_val rest = {v.type, v.at + 1};
  return sized(r, rest, out, size);
}

int cd_vec(cd_reader *r, cd_val v, size_t *count, cd_val *first) {
  if (r->error) return 0;
  int32_t element;
  if (!vec_element(r, v.type, &element)) return mismatch(r, "vec", v);
  const uint8_t *p = v.at;
  uint64_t n;
  if (!read_leb(r, &p, &n)) return 0;
  *count = (size_t)n;
  first->type = element;
  first->at = p;
  return 1;
}

int cd_next(cd_reader *r, cd_val *element) {
  if (r->error) return 0;
  return skip(r, element->type, &element->at, 0);
}

int cd_vec_nat32(cd_reader *r, cd_val v, uint32_t *out, size_t max, size_t *count) {
  cd_val e;
  if (!cd_vec(r, v, count, &e)) return 0;
  if (*count > max) {
    char limit[24];
    rt_format(limit, sizeof limit, "%llu", (unsigned long long)max);
    return set_error(r, "vector longer than the limit of %s elements%s", limit, "");
  }
  if (e.type == CD_NAT32) {
    memcpy(out, e.at, *count * 4); /* wasm32 is little-endian, like Candid */
    return 1;
  }
  for (size_t i = 0; i < *count; i++) {
    if (!cd_nat32(r, e, &out[i]) || !cd_next(r, &e)) return 0;
  }
  return 1;
}

int cd_field(cd_reader *r, cd_val record, const char *name, cd_val *out) {
  if (r->error) return 0;
  const uint8_t *body;
  if (kind_of(r, record.type, &body) != CD_RECORD) return mismatch(r, "record", record);
  uint32_t want = cd_hash(name);
  uint64_t n, id;
  int32_t t;
  const uint8_t *p = record.at;
  read_leb(r, &body, &n);
  for (uint64_t i = 0; i < n; i++) {
    if (!step(r, 1)) return 0;
    read_leb(r, &body, &id);
    read_type_ref(r, &body, &t);
    if (id == want) {
      out->type = t;
      out->at = p;
      r->field = name;
      return 1;
    }
    if (id > want || !skip(r, t, &p, 0)) return 0;
  }
  return 0;
}

int cd_opt(cd_reader *r, cd_val v, cd_val *inner) {
  if (r->error) return 0;
  const uint8_t *body;
  int32_t kind = kind_of(r, v.type, &body);
  if (kind == CD_NULL || kind == CD_RESERVED) return 0;
  if (kind != CD_OPT) { /* Candid lets a plain value stand for `opt` of it */
    *inner = v;
    return 1;
  }
  if (!need(r, v.at, 1) || !*v.at) return 0;
  read_type_ref(r, &body, &inner->type);
  inner->at = v.at + 1;
  return 1;
}

int cd_variant(cd_reader *r, cd_val v, uint32_t *tag_hash, cd_val *payload) {
  if (r->error) return 0;
  const uint8_t *body, *p = v.at;
  if (kind_of(r, v.type, &body) != CD_VARIANT) return mismatch(r, "variant", v);
  uint64_t count, index, id = 0;
  int32_t t = CD_NULL;
  read_leb(r, &body, &count);
  read_leb(r, &p, &index);
  if (!step(r, index)) return 0;
  for (uint64_t i = 0; i <= index; i++) {
    read_leb(r, &body, &id);
    read_type_ref(r, &body, &t);
  }
  *tag_hash = (uint32_t)id;
  payload->type = t;
  payload->at = p;
  return 1;
}
