/* candid_reader.h: reading Candid messages (candid_reader.c); the shared part is candid.h.
 *
 * cd_read_begin parses the "DIDL" header and type table and walks every argument once,
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
 */
#ifndef CANDID_READER_H
#define CANDID_READER_H

#include "candid.h"

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
  uint64_t steps_left;    /* the message's decoding budget (candid_reader.c), spent by validation and every read after it */
  int validated;          /* cd_read_begin succeeded: re-walks skip checks already made */
} cd_reader;

int cd_read_begin(cd_reader *r, const uint8_t *data, size_t size);
int cd_arg(cd_reader *r, uint32_t index, cd_val *out); /* a missing argument is an error */

/* The message's argument, as cd_reply is its reply: rt_arg, cd_read_begin and cd_arg(0). On a
 * malformed message it rejects with "invalid argument: <why>" and returns 0. */
int cd_read_arg(cd_reader *r, cd_val *arg);
/* The same for a method without parameters: the message must still be Candid (extra values are
 * allowed, as Candid subtyping says). */
int cd_read_no_args(void);

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

#endif /* CANDID_READER_H */
