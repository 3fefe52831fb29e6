/* candid.h: Candid (https://github.com/dfinity/candid/blob/master/spec/Candid.md) for C canisters.
 *
 * Reading: cd_read_begin parses the "DIDL" header and type table and walks every argument once,
 * so a malformed message (bad magic, truncated LEB128, type index out of range, invalid UTF-8,
 * a vector longer than the message, trailing bytes, ...) is refused up front with a readable
 * reason in r->error, before the canister looks at any value. Values are then read through
 * handles (cd_val: wire type + position), in any order; record fields are found by name (their
 * Candid hash), absent fields read as "absent" and optional fields as none, following Candid's
 * subtyping (extra fields in the message are skipped). Skipping a `vec nat8` (blob) is O(1).
 * Every reader returns 1 on success and 0 on failure; the first failure is kept in r->error
 * ("expected nat32 at field `max_new_tokens`, got text"), so a method can read everything and
 * check once. One work budget covers the whole message (validation and every lookup after it:
 * a reader re-walking skipped fields again and again is refused "message too costly to decode"):
 *
 *     cd_reader r; cd_val arg, f;
 *     if (!cd_read_begin(&r, data, size) || !cd_arg(&r, 0, &arg)) rt_rejectf("invalid argument: %s", r.error);
 *     uint32_t n = 16;                                   // default when the field is absent
 *     if (cd_field(&r, arg, "max_new_tokens", &f)) cd_nat32(&r, f, &n);
 *     if (r.error) rt_rejectf("invalid argument: %s", r.error);
 *
 * Writing: declare types, then the top-level argument types, then write values in order. The
 * writer knows the declared types and traps on a value that does not match them (a bug in the
 * canister, never in user input). Record fields are written in the order they were declared in
 * cd_t_record; the writer sorts them by hash on the wire.
 *
 *     cd_writer w; cd_writer_init(&w);
 *     cd_field_type fields[] = {{"tokens", cd_t_vec(&w, CD_NAT32)}, {"instructions", CD_NAT64}};
 *     int32_t result = cd_t_record(&w, 2, fields);
 *     cd_w_arg(&w, result);
 *     cd_w_record_begin(&w); cd_w_vec_nat32(&w, tokens, n); cd_w_nat64(&w, used); cd_w_record_end(&w);
 *     cd_reply(&w);
 */
#ifndef CANDID_H
#define CANDID_H

#include <stddef.h>
#include <stdint.h>

#include "rt.h"

/* Primitive type codes (negative, as on the wire); composite types are type-table indices ≥ 0. */
enum {
  CD_NULL = -1, CD_BOOL = -2, CD_NAT = -3, CD_INT = -4,
  CD_NAT8 = -5, CD_NAT16 = -6, CD_NAT32 = -7, CD_NAT64 = -8,
  CD_INT8 = -9, CD_INT16 = -10, CD_INT32 = -11, CD_INT64 = -12,
  CD_FLOAT32 = -13, CD_FLOAT64 = -14, CD_TEXT = -15, CD_RESERVED = -16, CD_EMPTY = -17,
  CD_PRINCIPAL = -24,
};
/* Composite type opcodes in the type table. */
enum { CD_OPT = -18, CD_VEC = -19, CD_RECORD = -20, CD_VARIANT = -21, CD_FUNC = -22, CD_SERVICE = -23 };

uint32_t cd_hash(const char *name); /* Candid field id of a name; a name of digits ("0", "1") is that numeric id (tuple fields) */

/* ---- reading ---- */

typedef struct {
  int32_t type;        /* wire type: primitive code or type-table index */
  const uint8_t *at;   /* first byte of the value in the message */
} cd_val;

/* Arguments past the first CD_INDEXED_ARGS are found by walking (a message may carry any number
 * of extra arguments; indexing them all could exhaust scratch memory). */
#define CD_INDEXED_ARGS 16

typedef struct {
  const uint8_t *data, *end;
  const uint8_t **types;  /* start of each type-table entry (scratch) */
  uint32_t n_types;
  cd_val *args;           /* the first CD_INDEXED_ARGS top-level arguments (scratch) */
  uint32_t n_args;
  const uint8_t *arg_types; /* the argument type list in the message */
  const char *field;      /* the last field found by cd_field, named in type errors */
  const char *error;      /* NULL, or the first failure */
  char error_text[192];
  uint64_t steps_left;    /* the message's decoding budget (candid.c), spent by validation and every read after it */
  int validated;          /* cd_read_begin succeeded: re-walks skip checks already made */
} cd_reader;

int cd_read_begin(cd_reader *r, const uint8_t *data, size_t size);
int cd_arg(cd_reader *r, uint32_t index, cd_val *out); /* a missing argument is an error */

/* Numbers: the wire type must be the same type, or nat/int whose value fits (nat8..64 from nat,
 * int8..64 from int or nat). Floats: float32 from float32 or float64 (rounded), float64 from either. */
int cd_bool(cd_reader *r, cd_val v, int *out);
int cd_nat32(cd_reader *r, cd_val v, uint32_t *out);
int cd_nat64(cd_reader *r, cd_val v, uint64_t *out);
int cd_int64(cd_reader *r, cd_val v, int64_t *out);
int cd_float32(cd_reader *r, cd_val v, float *out);
int cd_float64(cd_reader *r, cd_val v, double *out);
int cd_text(cd_reader *r, cd_val v, const char **out, size_t *size);     /* points into the message; not NUL-terminated */
int cd_blob(cd_reader *r, cd_val v, const uint8_t **out, size_t *size);  /* vec nat8 */
int cd_principal(cd_reader *r, cd_val v, const uint8_t **out, size_t *size);

/* Vectors: count and the first element; cd_next advances an element handle past its value. */
int cd_vec(cd_reader *r, cd_val v, size_t *count, cd_val *first);
int cd_next(cd_reader *r, cd_val *element);
/* Fast path: vec nat32 (or vec nat / nat8 / nat16 with values that fit) into `out` (capacity max);
 * more than max elements is an error naming the limit. */
int cd_vec_nat32(cd_reader *r, cd_val v, uint32_t *out, size_t max, size_t *count);

/* Records: 1 and the field's handle if present, 0 if absent (no error), 0 with r->error set if
 * `record` is not a record. An absent field of opt type is simply none for the caller. */
int cd_field(cd_reader *r, cd_val record, const char *name, cd_val *out);
/* Options: 1 and the inner value if some; 0 if none, null or reserved (no error). */
int cd_opt(cd_reader *r, cd_val v, cd_val *inner);
/* Variants: the tag's hash (compare with cd_hash("Ok")) and its payload. */
int cd_variant(cd_reader *r, cd_val v, uint32_t *tag_hash, cd_val *payload);

/* ---- writing ---- */

typedef struct {
  const char *name;
  int32_t type;
} cd_field_type;

typedef struct {
  rt_buf types;        /* encoded type table entries */
  uint32_t n_types;
  rt_buf arg_types;    /* encoded argument type list */
  uint32_t n_args;
  rt_buf values;
  void *internal;      /* declared types and the open frames; owned by candid.c */
} cd_writer;

void cd_writer_init(cd_writer *w);
int32_t cd_t_opt(cd_writer *w, int32_t inner);
int32_t cd_t_vec(cd_writer *w, int32_t element);
int32_t cd_t_record(cd_writer *w, size_t n, const cd_field_type *fields);
int32_t cd_t_variant(cd_writer *w, size_t n, const cd_field_type *fields);
/* func (args) -> (results) [query]: e.g. a streaming callback's type in an HttpResponse. */
int32_t cd_t_func(cd_writer *w, size_t n_args, const int32_t *args, size_t n_results, const int32_t *results,
                  int query);
void cd_w_arg(cd_writer *w, int32_t type); /* declare the next top-level value's type */

void cd_w_null(cd_writer *w);
void cd_w_bool(cd_writer *w, int value);
void cd_w_nat(cd_writer *w, uint64_t value);
void cd_w_nat8(cd_writer *w, uint8_t value);
void cd_w_int(cd_writer *w, int64_t value);
void cd_w_nat16(cd_writer *w, uint16_t value);
void cd_w_nat32(cd_writer *w, uint32_t value);
void cd_w_nat64(cd_writer *w, uint64_t value);
void cd_w_int64(cd_writer *w, int64_t value);
void cd_w_float32(cd_writer *w, float value);
void cd_w_float64(cd_writer *w, double value);
void cd_w_text(cd_writer *w, const char *text, size_t size);
void cd_w_cstr(cd_writer *w, const char *text);
void cd_w_blob(cd_writer *w, const void *data, size_t size);
/* A blob of `size` bytes the caller fills in place (before writing anything else): a large body
 * read straight into the message instead of copied into it. */
uint8_t *cd_w_blob_space(cd_writer *w, size_t size);
void cd_w_principal(cd_writer *w, const uint8_t *id, size_t size);
void cd_w_func(cd_writer *w, const uint8_t *service, size_t size, const char *method); /* public method reference */
void cd_w_opt_none(cd_writer *w);
void cd_w_opt_some(cd_writer *w);               /* then write the inner value */
void cd_w_vec_begin(cd_writer *w, size_t count); /* then exactly count elements */
void cd_w_vec_end(cd_writer *w);
void cd_w_vec_nat32(cd_writer *w, const uint32_t *values, size_t count);
void cd_w_vec_nat64(cd_writer *w, const uint64_t *values, size_t count);
void cd_w_vec_float32(cd_writer *w, const float *values, size_t count);
void cd_w_record_begin(cd_writer *w);           /* then each field, in cd_t_record's order */
void cd_w_record_end(cd_writer *w);
void cd_w_variant(cd_writer *w, const char *tag); /* then the payload (cd_w_null for none) */

void cd_w_finish(cd_writer *w, rt_buf *out);    /* "DIDL" + type table + argument types + values */
void cd_reply(cd_writer *w);                    /* finish and rt_reply */
/* The same reply, the values sent from where they were written (a reply of megabytes is not
 * copied once more inside the heap): in one ic0.msg_reply_data_append when cd_w_reserve left room
 * for the header in front of them, else in two (header, values). */
void cd_reply_in_place(cd_writer *w);
/* Before the first value: room for `size` bytes of values, with CD_HEAD_ROOM bytes in front for the
 * header cd_reply_in_place writes there (a reply in one piece reaches the replica in one copy). */
#define CD_HEAD_ROOM 1024u
void cd_w_reserve(cd_writer *w, size_t size);

#endif /* CANDID_H */
