/* candid_writer.c: writing Candid messages, see candid_writer.h. */
#include "candid_writer.h"

#define MAX_TYPES 64
#define MAX_FIELDS 32
#define MAX_FRAMES 16
#define MAX_ARGS 16

typedef struct {
  int32_t kind, inner;           /* CD_OPT / CD_VEC: inner; records and variants: fields */
  size_t offset;                 /* where its entry starts in w->types */
  uint32_t n;
  uint32_t ids[MAX_FIELDS];      /* in declaration order */
  int32_t field_types[MAX_FIELDS];
} declared_type;

typedef struct {
  int32_t type, kind;
  size_t remaining;              /* vec elements still to write */
  uint32_t next;                 /* record: next field (declaration order) */
  int32_t variant_type;          /* variant: the chosen payload type */
  size_t start, ends[MAX_FIELDS];
} frame;

typedef struct {
  declared_type types[MAX_TYPES];
  int32_t args[MAX_ARGS];
  uint32_t args_written;
  frame frames[MAX_FRAMES];
  int depth;
  uint8_t *room_end;             /* cd_w_reserve: the values start here, after `room` free bytes */
  size_t room;
} writer_state;

static writer_state *state_of(cd_writer *w) { return w->internal; }

void cd_writer_init(cd_writer *w) {
  memset(w, 0, sizeof *w);
  w->internal = rt_scratch(sizeof(writer_state), 8);
}

static void check_type(cd_writer *w, int32_t t) {
  if (t >= 0 ? (uint32_t)t >= w->n_types : !cd_is_primitive(t)) rt_trapf("candid writer: unknown type %d", t);
}

/* Start a table entry in the next slot; finish_type keeps it, or drops it for an equal earlier one. */
static declared_type *declare_type(cd_writer *w, int32_t kind) {
  if (w->n_types >= MAX_TYPES) rt_trap("candid writer: too many types");
  declared_type *d = &state_of(w)->types[w->n_types];
  d->kind = kind;
  d->offset = w->types.size;
  rt_buf_sleb128(&w->types, kind);
  return d;
}

/* Entries refer only to earlier ones, so equal bytes mean equal types: `vec nat32` declared twice
 * is one entry. */
static int32_t finish_type(cd_writer *w) {
  writer_state *s = state_of(w);
  size_t start = s->types[w->n_types].offset, size = w->types.size - start;
  for (uint32_t i = 0; i < w->n_types; i++) {
    size_t begin = s->types[i].offset, end = i + 1 < w->n_types ? s->types[i + 1].offset : start;
    if (end - begin == size && !memcmp(w->types.data + begin, w->types.data + start, size)) {
      w->types.size = start;
      return (int32_t)i;
    }
  }
  return (int32_t)w->n_types++;
}

int32_t cd_t_opt(cd_writer *w, int32_t inner) {
  check_type(w, inner);
  declare_type(w, CD_OPT)->inner = inner;
  rt_buf_sleb128(&w->types, inner);
  return finish_type(w);
}
int32_t cd_t_vec(cd_writer *w, int32_t element) {
  check_type(w, element);
  declare_type(w, CD_VEC)->inner = element;
  rt_buf_sleb128(&w->types, element);
  return finish_type(w);
}

static int32_t fields_type(cd_writer *w, int32_t kind, size_t n, const cd_field_type *fields) {
  if (n > MAX_FIELDS) rt_trap("candid writer: too many fields");
  for (size_t i = 0; i < n; i++) check_type(w, fields[i].type);
  declared_type *d = declare_type(w, kind);
  d->n = (uint32_t)n;
  for (size_t i = 0; i < n; i++) {
    d->ids[i] = cd_hash(fields[i].name);
    d->field_types[i] = fields[i].type;
  }
  rt_buf_leb128(&w->types, n);
  uint32_t last = 0;
  for (size_t k = 0; k < n; k++) { /* emit in id order */
    size_t best = n;
    for (size_t i = 0; i < n; i++)
      if ((!k || d->ids[i] > last) && (best == n || d->ids[i] < d->ids[best])) best = i;
    if (best == n || (k && d->ids[best] == last)) rt_trap("candid writer: duplicate field");
    last = d->ids[best];
    rt_buf_leb128(&w->types, last);
    rt_buf_sleb128(&w->types, d->field_types[best]);
  }
  return finish_type(w);
}
int32_t cd_t_record(cd_writer *w, size_t n, const cd_field_type *fields) { return fields_type(w, CD_RECORD, n, fields); }
int32_t cd_t_variant(cd_writer *w, size_t n, const cd_field_type *fields) { return fields_type(w, CD_VARIANT, n, fields); }

int32_t cd_t_func(cd_writer *w, size_t n_args, const int32_t *args, size_t n_results, const int32_t *results,
                  int query) {
  for (size_t i = 0; i < n_args; i++) check_type(w, args[i]);
  for (size_t i = 0; i < n_results; i++) check_type(w, results[i]);
  declare_type(w, CD_FUNC);
  rt_buf_leb128(&w->types, n_args);
  for (size_t i = 0; i < n_args; i++) rt_buf_sleb128(&w->types, args[i]);
  rt_buf_leb128(&w->types, n_results);
  for (size_t i = 0; i < n_results; i++) rt_buf_sleb128(&w->types, results[i]);
  rt_buf_leb128(&w->types, query ? 1 : 0);
  if (query) rt_buf_byte(&w->types, 1); /* annotation 1: query */
  return finish_type(w);
}

void cd_w_arg(cd_writer *w, int32_t type) {
  check_type(w, type);
  if (w->n_args >= MAX_ARGS) rt_trap("candid writer: too many arguments");
  state_of(w)->args[w->n_args++] = type;
  rt_buf_sleb128(&w->arg_types, type);
}

static int32_t kind(cd_writer *w, int32_t t) { return t < 0 ? t : state_of(w)->types[t].kind; }

/* The type the next value must have. */
static int32_t expected(cd_writer *w) {
  writer_state *s = state_of(w);
  if (!s->depth) {
    if (s->args_written >= w->n_args) rt_trap("candid writer: more values than declared arguments");
    return s->args[s->args_written];
  }
  frame *f = &s->frames[s->depth - 1];
  declared_type *d = &s->types[f->type];
  switch (f->kind) {
    case CD_VEC:
      if (!f->remaining) rt_trap("candid writer: more vector elements than declared");
      return d->inner;
    case CD_OPT: return d->inner;
    case CD_VARIANT: return f->variant_type;
    default:
      if (f->next >= d->n) rt_trap("candid writer: more record fields than declared");
      return d->field_types[f->next];
  }
}

static void expect_kind(cd_writer *w, int32_t want_kind, const char *name) {
  int32_t t = expected(w);
  if (kind(w, t) != want_kind) rt_trapf("candid writer: expected %s, got %s", cd_type_name(kind(w, t)), name);
}

static void done(cd_writer *w);

static void push(cd_writer *w, int32_t type, int32_t k) {
  writer_state *s = state_of(w);
  if (s->depth >= MAX_FRAMES) rt_trap("candid writer: values nested too deeply");
  frame *f = &s->frames[s->depth++];
  memset(f, 0, sizeof *f);
  f->type = type;
  f->kind = k;
  f->start = w->values.size;
}

/* A value at the current level is complete. */
static void done(cd_writer *w) {
  writer_state *s = state_of(w);
  if (!s->depth) {
    s->args_written++;
    return;
  }
  frame *f = &s->frames[s->depth - 1];
  switch (f->kind) {
    case CD_VEC: f->remaining--; return;
    case CD_OPT: case CD_VARIANT: s->depth--; done(w); return;
    default: f->ends[f->next++] = w->values.size; return;
  }
}

void cd_w_null(cd_writer *w) { expect_kind(w, CD_NULL, "null"); done(w); }
void cd_w_bool(cd_writer *w, int value) {
  expect_kind(w, CD_BOOL, "bool");
  rt_buf_byte(&w->values, value ? 1 : 0);
  done(w);
}
void cd_w_nat(cd_writer *w, uint64_t value) {
  expect_kind(w, CD_NAT, "nat");
  rt_buf_leb128(&w->values, value);
  done(w);
}
static void fixed(cd_writer *w, int32_t t, const char *name, uint64_t bits, int size) {
  expect_kind(w, t, name);
  for (int i = 0; i < size; i++) rt_buf_byte(&w->values, (uint8_t)(bits >> (8 * i)));
  done(w);
}
void cd_w_nat8(cd_writer *w, uint8_t value) { fixed(w, CD_NAT8, "nat8", value, 1); }
void cd_w_int(cd_writer *w, int64_t value) {
  expect_kind(w, CD_INT, "int");
  rt_buf_sleb128(&w->values, value);
  done(w);
}
void cd_w_nat16(cd_writer *w, uint16_t value) { fixed(w, CD_NAT16, "nat16", value, 2); }
void cd_w_nat32(cd_writer *w, uint32_t value) { fixed(w, CD_NAT32, "nat32", value, 4); }
void cd_w_nat64(cd_writer *w, uint64_t value) { fixed(w, CD_NAT64, "nat64", value, 8); }
void cd_w_int64(cd_writer *w, int64_t value) { fixed(w, CD_INT64, "int64", (uint64_t)value, 8); }
void cd_w_float32(cd_writer *w, float value) {
  uint32_t bits;
  __builtin_memcpy(&bits, &value, 4);
  fixed(w, CD_FLOAT32, "float32", bits, 4);
}
void cd_w_float64(cd_writer *w, double value) {
  uint64_t bits;
  __builtin_memcpy(&bits, &value, 8);
  fixed(w, CD_FLOAT64, "float64", bits, 8);
}
void cd_w_text(cd_writer *w, const char *text, size_t size) {
  expect_kind(w, CD_TEXT, "text");
  rt_buf_leb128(&w->values, size);
  rt_buf_append(&w->values, text, size);
  done(w);
}
void cd_w_cstr(cd_writer *w, const char *text) { cd_w_text(w, text, strlen(text)); }
void cd_w_principal(cd_writer *w, const uint8_t *id, size_t size) {
  expect_kind(w, CD_PRINCIPAL, "principal");
  rt_buf_byte(&w->values, 1);
  rt_buf_leb128(&w->values, size);
  rt_buf_append(&w->values, id, size);
  done(w);
}

/* A public method reference: i8(1), the service (i8(1) + principal bytes), the method name. */
void cd_w_func(cd_writer *w, const uint8_t *service, size_t size, const char *method) {
  expect_kind(w, CD_FUNC, "func");
  rt_buf_byte(&w->values, 1);
  rt_buf_byte(&w->values, 1);
  rt_buf_leb128(&w->values, size);
  rt_buf_append(&w->values, service, size);
  size_t n = strlen(method);
  rt_buf_leb128(&w->values, n);
  rt_buf_append(&w->values, method, n);
  done(w);
}

static void raw_vec(cd_writer *w, int32_t element, const char *name, const void *data, size_t count, size_t size) {
  int32_t t = expected(w);
  if (kind(w, t) != CD_VEC || state_of(w)->types[t].inner != element) rt_trapf("candid writer: expected %s, got vec %s", cd_type_name(kind(w, t)), name);
  rt_buf_leb128(&w->values, count);
  rt_buf_append(&w->values, data, count * size); /* wasm32 is little-endian, like Candid */
  done(w);
}
void cd_w_blob(cd_writer *w, const void *data, size_t size) { raw_vec(w, CD_NAT8, "nat8", data, size, 1); }
uint8_t *cd_w_blob_space(cd_writer *w, size_t size) {
  int32_t t = expected(w);
  if (kind(w, t) != CD_VEC || state_of(w)->types[t].inner != CD_NAT8) rt_trapf("candid writer: expected %s, got vec nat8", cd_type_name(kind(w, t)));
  rt_buf_leb128(&w->values, size);
  rt_buf_reserve(&w->values, size);
  uint8_t *space = w->values.data + w->values.size;
  w->values.size += size;
  done(w);
  return space;
}
void cd_w_vec_nat32(cd_writer *w, const uint32_t *values, size_t count) { raw_vec(w, CD_NAT32, "nat32", values, count, 4); }
void cd_w_vec_nat64(cd_writer *w, const uint64_t *values, size_t count) { raw_vec(w, CD_NAT64, "nat64", values, count, 8); }
void cd_w_vec_float32(cd_writer *w, const float *values, size_t count) { raw_vec(w, CD_FLOAT32, "float32", values, count, 4); }

void cd_w_opt_none(cd_writer *w) {
  expect_kind(w, CD_OPT, "opt");
  rt_buf_byte(&w->values, 0);
  done(w);
}
void cd_w_opt_some(cd_writer *w) {
  int32_t t = expected(w);
  expect_kind(w, CD_OPT, "opt");
  rt_buf_byte(&w->values, 1);
  push(w, t, CD_OPT);
}

void cd_w_vec_begin(cd_writer *w, size_t count) {
  int32_t t = expected(w);
  expect_kind(w, CD_VEC, "vec");
  rt_buf_leb128(&w->values, count);
  push(w, t, CD_VEC);
  state_of(w)->frames[state_of(w)->depth - 1].remaining = count;
}
void cd_w_vec_end(cd_writer *w) {
  writer_state *s = state_of(w);
  if (!s->depth || s->frames[s->depth - 1].kind != CD_VEC) rt_trap("candid writer: vec_end without vec_begin");
  if (s->frames[s->depth - 1].remaining) rt_trap("candid writer: fewer vector elements than declared");
  s->depth--;
  done(w);
}

void cd_w_record_begin(cd_writer *w) {
  int32_t t = expected(w);
  expect_kind(w, CD_RECORD, "record");
  push(w, t, CD_RECORD);
}
void cd_w_record_end(cd_writer *w) {
  writer_state *s = state_of(w);
  if (!s->depth || s->frames[s->depth - 1].kind != CD_RECORD) rt_trap("candid writer: record_end without record_begin");
  frame *f = &s->frames[s->depth - 1];
  declared_type *d = &s->types[f->type];
  if (f->next != d->n) rt_trap("candid writer: fewer record fields than declared");
  /* fields were written in declaration order; the wire wants them by id (declared in id order,
   * they already are: nothing to move, which matters for a record carrying megabytes) */
  uint32_t in_order = 1;
  for (uint32_t i = 1; i < d->n; i++) in_order &= d->ids[i - 1] < d->ids[i];
  if (in_order) {
    s->depth--;
    done(w);
    return;
  }
  size_t total = w->values.size - f->start;
  size_t mark = rt_mark();
  uint8_t *sorted = rt_scratch(total ? total : 1, 8), *out = sorted;
  uint32_t last = 0;
  for (uint32_t k = 0; k < d->n; k++) {
    uint32_t best = d->n;
    for (uint32_t i = 0; i < d->n; i++)
      if ((!k || d->ids[i] > last) && (best == d->n || d->ids[i] < d->ids[best])) best = i;
    last = d->ids[best];
    size_t begin = best ? f->ends[best - 1] : f->start;
    memcpy(out, w->values.data + begin, f->ends[best] - begin);
    out += f->ends[best] - begin;
  }
  memcpy(w->values.data + f->start, sorted, total);
  rt_release(mark);
  s->depth--;
  done(w);
}

void cd_w_variant(cd_writer *w, const char *tag) {
  int32_t t = expected(w);
  expect_kind(w, CD_VARIANT, "variant");
  declared_type *d = &state_of(w)->types[t];
  uint32_t id = cd_hash(tag), index = 0;
  int32_t payload = CD_NULL;
  int found = 0;
  for (uint32_t i = 0; i < d->n; i++) {
    if (d->ids[i] == id) {
      payload = d->field_types[i];
      found = 1;
    }
  }
  if (!found) rt_trapf("candid writer: variant has no tag `%s`", tag);
  for (uint32_t i = 0; i < d->n; i++) index += d->ids[i] < id; /* wire index: position by id */
  rt_buf_leb128(&w->values, index);
  push(w, t, CD_VARIANT);
  state_of(w)->frames[state_of(w)->depth - 1].variant_type = payload;
}

void cd_w_finish(cd_writer *w, rt_buf *out) {
  writer_state *s = state_of(w);
  if (s->depth || s->args_written != w->n_args) rt_trap("candid writer: unfinished values");
  /* one block for the whole message: a reply of megabytes grown by doubling would abandon as
   * much again in scratch memory (magic + two LEB128 counts of at most 10 bytes each) */
  rt_buf_reserve(out, 24 + w->types.size + w->arg_types.size + w->values.size);
  rt_buf_append(out, "DIDL", 4);
  rt_buf_leb128(out, w->n_types);
  rt_buf_append(out, w->types.data, w->types.size);
  rt_buf_leb128(out, w->n_args);
  rt_buf_append(out, w->arg_types.data, w->arg_types.size);
  rt_buf_append(out, w->values.data, w->values.size);
}

void cd_reply(cd_writer *w) {
  rt_buf out = {0};
  cd_w_finish(w, &out);
  rt_reply(out.data, out.size);
}

void cd_reply_empty(void) {
  cd_writer w;
  cd_writer_init(&w);
  cd_reply(&w);
}

void cd_w_reserve(cd_writer *w, size_t size) {
  writer_state *s = state_of(w);
  if (w->values.size || w->values.data) { /* already writing: plain room at the end */
    rt_buf_reserve(&w->values, size);
    return;
  }
  rt_buf block = {0};
  rt_buf_reserve(&block, CD_HEAD_ROOM + size);
  w->values.data = block.data + CD_HEAD_ROOM;
  w->values.capacity = block.capacity - CD_HEAD_ROOM;
  s->room_end = w->values.data;
  s->room = CD_HEAD_ROOM;
}

void cd_reply_in_place(cd_writer *w) {
  writer_state *s = state_of(w);
  if (s->depth || s->args_written != w->n_args) rt_trap("candid writer: unfinished values");
  rt_buf head = {0};
  rt_buf_reserve(&head, 24 + w->types.size + w->arg_types.size);
  rt_buf_append(&head, "DIDL", 4);
  rt_buf_leb128(&head, w->n_types);
  rt_buf_append(&head, w->types.data, w->types.size);
  rt_buf_leb128(&head, w->n_args);
  rt_buf_append(&head, w->arg_types.data, w->arg_types.size);
  if (s->room_end == w->values.data && head.size <= s->room) { /* the header in the room: one piece */
    uint8_t *start = w->values.data - head.size;
    memcpy(start, head.data, head.size);
    ic0_msg_reply_data_append(start, head.size + w->values.size);
  } else {
    ic0_msg_reply_data_append(head.data, head.size);
    ic0_msg_reply_data_append(w->values.data, w->values.size);
  }
  ic0_msg_reply();
}
