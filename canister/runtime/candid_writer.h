/* candid_writer.h: writing Candid messages and replies (candid_writer.c); the shared part is
 * candid.h.
 *
 * Declare types, then the top-level argument types, then write values in order. The
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
#ifndef CANDID_WRITER_H
#define CANDID_WRITER_H

#include "candid.h"
#include "rt.h"

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
  void *internal;      /* declared types and the open frames; owned by candid_writer.c */
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
void cd_reply_empty(void);                      /* the reply `()` of a method without results */
/* The same reply, the values sent from where they were written (a reply of megabytes is not
 * copied once more inside the heap): in one ic0.msg_reply_data_append when cd_w_reserve left room
 * for the header in front of them, else in two (header, values). */
void cd_reply_in_place(cd_writer *w);
/* Before the first value: room for `size` bytes of values, with CD_HEAD_ROOM bytes in front for the
 * header cd_reply_in_place writes there (a reply in one piece reaches the replica in one copy). */
#define CD_HEAD_ROOM 1024u
void cd_w_reserve(cd_writer *w, size_t size);

#endif /* CANDID_WRITER_H */
