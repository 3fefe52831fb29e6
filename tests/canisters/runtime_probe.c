/* runtime_probe.c: a test canister for the C runtime (canister/runtime): SHA-256 split at given
 * offsets, and a Candid echo that reads a rich argument with the reader and writes it back with
 * the typed writer (type in ECHO_DID of tests/runtime/test_runtime.py). */
#include "candid.h"
#include "rt.h"
#include "sha256.h"

/* arg: u32 count | u32 offsets[count] | data; reply: SHA-256 of data, fed in pieces cut there. */
__attribute__((export_name("canister_query sha256"))) void sha256_pieces(void) {
  rt_message_begin();
  size_t size;
  const uint8_t *arg = rt_arg(&size);
  uint32_t count = arg[0] | arg[1] << 8 | arg[2] << 16 | (uint32_t)arg[3] << 24;
  const uint8_t *data = arg + 4 + 4 * count;
  size_t n = size - 4 - 4 * count, at = 0;
  sha256_ctx ctx;
  sha256_init(&ctx);
  for (uint32_t i = 0; i < count; i++) {
    const uint8_t *p = arg + 4 + 4 * i;
    size_t cut = p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
    sha256_update(&ctx, data + at, cut - at);
    at = cut;
  }
  sha256_update(&ctx, data + at, n - at);
  uint8_t digest[32];
  sha256_final(&ctx, digest);
  rt_reply(digest, 32);
}

typedef struct {
  int32_t item, items, opt_text, blob, state, top;
} echo_types;

static echo_types declare(cd_writer *w) {
  echo_types t;
  cd_field_type states[] = {{"On", CD_NULL}, {"Off", CD_NAT64}};
  t.state = cd_t_variant(w, 2, states);
  cd_field_type item[] = {{"x", CD_FLOAT32}, {"y", t.state}};
  t.item = cd_t_record(w, 2, item);
  t.items = cd_t_vec(w, t.item);
  t.opt_text = cd_t_opt(w, CD_TEXT);
  t.blob = cd_t_vec(w, CD_NAT8);
  cd_field_type top[] = {{"a", CD_NAT32}, {"b", t.opt_text}, {"c", t.items}, {"d", t.blob},
                         {"e", CD_PRINCIPAL}, {"f", CD_INT64}, {"g", CD_BOOL}};
  t.top = cd_t_record(w, 7, top);
  return t;
}

__attribute__((export_name("canister_query echo"))) void echo(void) {
  rt_message_begin();
  size_t size, count = 0;
  const uint8_t *arg = rt_arg(&size);
  cd_reader r;
  cd_val top, f, inner, item, field;
  if (!cd_read_begin(&r, arg, size) || !cd_arg(&r, 0, &top)) {
    rt_rejectf("invalid argument: %s", r.error);
    return;
  }
  uint32_t a = 0;
  int64_t e_int = 0;
  int g = 0, has_b = 0;
  const char *b = 0;
  const uint8_t *d = 0, *principal = 0;
  size_t b_size = 0, d_size = 0, principal_size = 0;
  if (cd_field(&r, top, "a", &f)) cd_nat32(&r, f, &a);
  if (cd_field(&r, top, "b", &f) && cd_opt(&r, f, &inner)) has_b = cd_text(&r, inner, &b, &b_size);
  if (cd_field(&r, top, "d", &f)) cd_blob(&r, f, &d, &d_size);
  if (cd_field(&r, top, "e", &f)) cd_principal(&r, f, &principal, &principal_size);
  if (cd_field(&r, top, "f", &f)) cd_int64(&r, f, &e_int);
  if (cd_field(&r, top, "g", &f)) cd_bool(&r, f, &g);
  if (cd_field(&r, top, "c", &f)) cd_vec(&r, f, &count, &item);
  if (r.error) {
    rt_rejectf("invalid argument: %s", r.error);
    return;
  }
  cd_writer w;
  cd_writer_init(&w);
  echo_types t = declare(&w);
  cd_w_arg(&w, t.top);
  cd_w_record_begin(&w);
  cd_w_nat32(&w, a);
  if (has_b) {
    cd_w_opt_some(&w);
    cd_w_text(&w, b, b_size);
  } else {
    cd_w_opt_none(&w);
  }
  cd_w_vec_begin(&w, count);
  for (size_t i = 0; i < count; i++, cd_next(&r, &item)) {
    float x = 0;
    uint32_t tag = 0;
    uint64_t off = 0;
    if (cd_field(&r, item, "x", &field)) cd_float32(&r, field, &x);
    if (cd_field(&r, item, "y", &field)) cd_variant(&r, field, &tag, &inner);
    cd_w_record_begin(&w);
    cd_w_float32(&w, x);
    if (tag == cd_hash("Off")) {
      cd_nat64(&r, inner, &off);
      cd_w_variant(&w, "Off");
      cd_w_nat64(&w, off);
    } else {
      cd_w_variant(&w, "On");
      cd_w_null(&w);
    }
    cd_w_record_end(&w);
  }
  if (r.error) {
    rt_rejectf("invalid argument: %s", r.error);
    return;
  }
  cd_w_vec_end(&w);
  cd_w_blob(&w, d, d_size);
  cd_w_principal(&w, principal, principal_size);
  cd_w_int64(&w, e_int);
  cd_w_bool(&w, g);
  cd_w_record_end(&w);
  cd_reply(&w);
}

/* A writer misuse (a canister bug) traps with the writer's reason. */
__attribute__((export_name("canister_query misuse"))) void misuse(void) {
  rt_message_begin();
  cd_writer w;
  cd_writer_init(&w);
  cd_w_arg(&w, CD_NAT32);
  cd_w_cstr(&w, "not a number");
}
