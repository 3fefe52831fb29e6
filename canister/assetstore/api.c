/* api.c: the asset store's Candid methods (canister/assets.did, the official assetstorage
 * interface), linked by every canister that serves files: the asset canister (canister/assets/) and
 * the gpt2 canister (its model bundle under /model/). The canister supplies its own lifecycle
 * (canister_init / canister_post_upgrade: ah_init() then as_load()).
 *
 * Every method starts with rt_message_begin(); an update checks the caller's permission first
 * (before its argument is even copied, so a refused call is cheap whatever its size), then reads
 * its whole argument before changing anything: a malformed argument, a missing permission or a
 * failed check is a reject with a one-line reason and leaves the canister as it was. Writes are for
 * controllers and authorized principals ("Commit permission"); reads are public. The same
 * permission table answers canister_inspect_message (as_inspect_message, api.h). The store and its serving live in
 * canister/assetstore/ (store.h, http.h).
 */
#include "api.h"

#include "alloc.h"
#include "candid_reader.h"
#include "candid_writer.h"
#include "http.h"
#include "rt.h"
#include "store.h"

/* exported as `name`, named api_<name> in C so the linking canister's own functions never clash */
#define EXPORT(kind, name) __attribute__((export_name(kind " " #name))) void api_##name(void)
#define API_VERSION 1
#define MAX_NAME 64          /* header names and content encodings */
#define MAX_VALUE 8192       /* header values and content types */
#define MAX_SEGMENTS 60

/* ================================ argument helpers ================================ */

static const char *bad; /* the first argument problem found by the checks below */
static char bad_text[256];

static int refuse(const char *format, const char *field, const char *detail) {
  if (!bad) {
    rt_format(bad_text, sizeof bad_text, format, field, detail);
    bad = bad_text;
  }
  return 0;
}

static int is_token_char(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return 1;
  for (const char *p = "!#$%&'*+-.^_`|~"; *p; p++)
    if (*p == c) return 1;
  return 0;
}

static int check_token(as_text t, const char *what) {
  if (!t.size || t.size > MAX_NAME) return refuse("%s must be 1 to 64 characters%s", what, "");
  for (size_t i = 0; i < t.size; i++)
    if (!is_token_char(t.data[i])) return refuse("%s must be an HTTP token (letters, digits, !#$%%&'*+-.^_`|~)%s", what, "");
  return 1;
}

static int check_value(as_text t, const char *what) {
  if (t.size > MAX_VALUE) return refuse("%s is longer than 8192 bytes%s", what, "");
  for (size_t i = 0; i < t.size; i++) {
    unsigned char c = (unsigned char)t.data[i];
    if ((c < 32 && c != '\t') || c == 127) return refuse("%s holds a control character (CR, LF, NUL ...)%s", what, "");
  }
  return 1;
}

static int check_key(as_text key) {
  if (!key.size || key.data[0] != '/') return refuse("key must start with '/'%s%s", "", "");
  if (key.size > AS_MAX_KEY) return refuse("key is longer than 4096 bytes%s%s", "", "");
  /* No control characters: a key is echoed in reject messages and logs, which stay one line. */
  for (size_t i = 0; i < key.size; i++)
    if ((unsigned char)key.data[i] < 32 || key.data[i] == 127)
      return refuse("key holds a control character (NUL, CR, LF, tab ...)%s%s", "", "");
  size_t segments = 0;
  for (size_t i = 0; i < key.size; i++) segments += key.data[i] == '/';
  if (segments > MAX_SEGMENTS) return refuse("key has more than 60 path segments%s%s", "", "");
  return 1;
}

static int text_field(cd_reader *r, cd_val record, const char *name, as_text *out) {
  cd_val f;
  if (!cd_field(r, record, name, &f)) {
    if (!r->error) refuse("missing field `%s`%s", name, "");
    return 0;
  }
  return cd_text(r, f, &out->data, &out->size);
}

static int blob_of(cd_reader *r, cd_val v, as_text *out) {
  const uint8_t *data;
  if (!cd_blob(r, v, &data, &out->size)) return 0;
  out->data = (const char *)data;
  return 1;
}

/* opt T: 1 if present (value in *inner), 0 if absent or none. */
static int optional(cd_reader *r, cd_val record, const char *name, cd_val *inner) {
  cd_val f;
  return cd_field(r, record, name, &f) && cd_opt(r, f, inner);
}

/* opt opt T: AS_KEEP (absent / none), AS_SET_NONE (some none), AS_SET (some some; value in *inner). */
static int optional2(cd_reader *r, cd_val record, const char *name, cd_val *inner) {
  cd_val outer;
  if (!optional(r, record, name, &outer)) return AS_KEEP;
  return cd_opt(r, outer, inner) ? AS_SET : AS_SET_NONE;
}

static int read_headers(cd_reader *r, cd_val v, as_op *op) {
  size_t n;
  cd_val e, k, x;
  if (!cd_vec(r, v, &n, &e)) return 0;
  if (n > AS_MAX_HEADERS) return refuse("more than 64 headers%s%s", "", "");
  op->n_headers = n;
  op->header_names = rt_scratch((n ? n : 1) * sizeof(as_text), 8);
  op->header_values = rt_scratch((n ? n : 1) * sizeof(as_text), 8);
  for (size_t i = 0; i < n; i++) {
    if (!cd_field(r, e, "0", &k) || !cd_field(r, e, "1", &x)) return r->error ? 0 : refuse("a header must be (name, value)%s%s", "", "");
    if (!cd_text(r, k, &op->header_names[i].data, &op->header_names[i].size) ||
        !cd_text(r, x, &op->header_values[i].data, &op->header_values[i].size))
      return 0;
    if (!check_token(op->header_names[i], "header name") || !check_value(op->header_values[i], "header value")) return 0;
    if (i + 1 < n && !cd_next(r, &e)) return 0;
  }
  return 1;
}

static int read_bool(cd_reader *r, cd_val v, int *out) { return cd_bool(r, v, out); }

static int read_create(cd_reader *r, cd_val v, as_op *op) {
  cd_val x;
  op->kind = AS_CREATE;
  if (!text_field(r, v, "key", &op->key) || !check_key(op->key)) return 0;
  if (!text_field(r, v, "content_type", &op->content_type) || !check_value(op->content_type, "content_type")) return 0;
  if (optional(r, v, "max_age", &x)) {
    op->max_age_op = AS_SET;
    if (!cd_nat64(r, x, &op->max_age)) return 0;
  }
  if (optional(r, v, "headers", &x)) {
    op->headers_op = AS_SET;
    if (!read_headers(r, x, op)) return 0;
  }
  if (optional(r, v, "enable_aliasing", &x)) {
    op->alias_op = AS_SET;
    if (!read_bool(r, x, &op->is_aliased)) return 0;
  }
  if (optional(r, v, "allow_raw_access", &x)) {
    op->raw_op = AS_SET;
    if (!read_bool(r, x, &op->allow_raw_access)) return 0;
  }
  return !r->error;
}

static int read_set_content(cd_reader *r, cd_val v, as_op *op) {
  cd_val f, e, x;
  op->kind = AS_SET_CONTENT;
  if (!text_field(r, v, "key", &op->key) || !check_key(op->key)) return 0;
  if (!text_field(r, v, "content_encoding", &op->encoding) || !check_token(op->encoding, "content_encoding")) return 0;
  if (!cd_field(r, v, "chunk_ids", &f)) return r->error ? 0 : refuse("missing field `chunk_ids`%s%s", "", "");
  size_t n;
  if (!cd_vec(r, f, &n, &e)) return 0;
  op->n_chunks = n;
  op->chunk_ids = rt_scratch((n ? n : 1) * sizeof(uint64_t), 8);
  for (size_t i = 0; i < n; i++) {
    if (!cd_nat64(r, e, &op->chunk_ids[i])) return 0;
    if (i + 1 < n && !cd_next(r, &e)) return 0;
  }
  if (optional(r, v, "last_chunk", &x)) {
    op->has_last_chunk = 1;
    if (!blob_of(r, x, &op->last_chunk)) return 0;
  }
  if (optional(r, v, "sha256", &x)) {
    op->has_sha256 = 1;
    if (!blob_of(r, x, &op->sha256)) return 0;
    if (op->sha256.size != 32) return refuse("sha256 must be 32 bytes%s%s", "", "");
  }
  return !r->error;
}

static int read_unset_content(cd_reader *r, cd_val v, as_op *op) {
  op->kind = AS_UNSET_CONTENT;
  return text_field(r, v, "key", &op->key) && check_key(op->key) && text_field(r, v, "content_encoding", &op->encoding) &&
         check_token(op->encoding, "content_encoding");
}

static int read_delete(cd_reader *r, cd_val v, as_op *op) {
  op->kind = AS_DELETE;
  return text_field(r, v, "key", &op->key) && check_key(op->key);
}

static int read_set_properties(cd_reader *r, cd_val v, as_op *op) {
  cd_val x;
  op->kind = AS_SET_PROPERTIES;
  if (!text_field(r, v, "key", &op->key) || !check_key(op->key)) return 0;
  if ((op->max_age_op = optional2(r, v, "max_age", &x)) == AS_SET && !cd_nat64(r, x, &op->max_age)) return 0;
  if ((op->headers_op = optional2(r, v, "headers", &x)) == AS_SET && !read_headers(r, x, op)) return 0;
  if ((op->raw_op = optional2(r, v, "allow_raw_access", &x)) == AS_SET && !read_bool(r, x, &op->allow_raw_access)) return 0;
  if ((op->alias_op = optional2(r, v, "is_aliased", &x)) == AS_SET && !read_bool(r, x, &op->is_aliased)) return 0;
  return !r->error;
}

static int read_operation(cd_reader *r, cd_val v, as_op *op) {
  uint32_t tag;
  cd_val payload;
  memset(op, 0, sizeof *op);
  if (!cd_variant(r, v, &tag, &payload)) return 0;
  if (tag == cd_hash("CreateAsset")) return read_create(r, payload, op);
  if (tag == cd_hash("SetAssetContent")) return read_set_content(r, payload, op);
  if (tag == cd_hash("UnsetAssetContent")) return read_unset_content(r, payload, op);
  if (tag == cd_hash("DeleteAsset")) return read_delete(r, payload, op);
  if (tag == cd_hash("SetAssetProperties")) return read_set_properties(r, payload, op);
  if (tag == cd_hash("Clear")) {
    op->kind = AS_CLEAR;
    return 1;
  }
  return refuse("unknown batch operation%s%s", "", "");
}

/* Reject with the reader's or the checks' reason; returns 0 so callers can `return fail_arg(&r)`. */
static int fail_arg(cd_reader *r) {
  rt_rejectf("invalid argument: %s", r->error ? r->error : bad ? bad : "unexpected value");
  return 0;
}

static void begin(void) {
  rt_message_begin();
  bad = 0;
}

static int64_t now(void) { return (int64_t)ic0_time(); }

/* ================================ permissions ================================ */

/* Who may call each store method as an update. One table serves both the methods (checked before
 * their argument is read, so a refused call costs next to nothing whatever its size) and
 * canister_inspect_message (as_inspect_message, api.h). */
typedef enum {
  FOR_QUERY,       /* a query: as an update it would run replicated, charged to the canister */
  FOR_ANYONE,      /* list_authorized */
  FOR_WRITERS,     /* controllers and principals with Commit permission (authorized) */
  FOR_CONTROLLERS, /* authorize */
} who_may_call;

static const struct {
  const char *name;
  who_may_call who;
} METHODS[] = {
    {"http_request", FOR_QUERY},      {"http_request_streaming_callback", FOR_QUERY},
    {"api_version", FOR_QUERY},       {"list", FOR_QUERY},
    {"get", FOR_QUERY},               {"get_chunk", FOR_QUERY},
    {"get_asset_properties", FOR_QUERY},
    {"list_authorized", FOR_ANYONE},
    {"create_batch", FOR_WRITERS},    {"create_chunk", FOR_WRITERS},
    {"create_chunks", FOR_WRITERS},   {"commit_batch", FOR_WRITERS},
    {"delete_batch", FOR_WRITERS},    {"create_asset", FOR_WRITERS},
    {"set_asset_content", FOR_WRITERS}, {"unset_asset_content", FOR_WRITERS},
    {"delete_asset", FOR_WRITERS},    {"clear", FOR_WRITERS},
    {"set_asset_properties", FOR_WRITERS}, {"store", FOR_WRITERS},
    /* a principal with Commit permission may remove only itself (checked once the argument is read) */
    {"deauthorize", FOR_WRITERS},
    {"authorize", FOR_CONTROLLERS},
};
#define N_METHODS (sizeof METHODS / sizeof METHODS[0])

/* The entry of `method` (not NUL-terminated), or -1 when it is not a store method. */
static int method_index(const char *method, size_t size) {
  for (size_t i = 0; i < N_METHODS; i++)
    if (strlen(METHODS[i].name) == size && !memcmp(METHODS[i].name, method, size)) return (int)i;
  return -1;
}

static int caller_has_commit(void) {
  uint8_t caller[29];
  size_t size = rt_caller(caller);
  return rt_caller_is_controller() || as_is_authorized(caller, size);
}

/* Why the caller may not call METHODS[i] as an update, in one line, or NULL if it may. */
static const char *refusal(int i) {
  static char reason[128];
  const char *name = METHODS[i].name;
  switch (METHODS[i].who) {
    case FOR_QUERY:
      rt_format(reason, sizeof reason, "%s is a query: call it as a query", name);
      return reason;
    case FOR_WRITERS:
      if (caller_has_commit()) return 0;
      rt_format(reason, sizeof reason,
                "Caller does not have Commit permission: only controllers and principals with Commit permission may call %s", name);
      return reason;
    case FOR_CONTROLLERS:
      if (rt_caller_is_controller()) return 0;
      rt_format(reason, sizeof reason, "Caller is not a controller: only controllers may call %s", name);
      return reason;
    case FOR_ANYONE:
      break;
  }
  return 0;
}

/* The first thing every update method does, before reading its argument: 0 after rejecting a
 * caller without permission. */
static int permitted(const char *method) {
  int i = method_index(method, strlen(method));
  if (i < 0) rt_trap("internal error: a store method is missing from the permission table");
  const char *reason = refusal(i);
  if (!reason) return 1;
  rt_reject(reason);
  return 0;
}

int as_inspect_message(const char *method, size_t method_len) {
  int i = method_index(method, method_len);
  if (i < 0) return 0;
  const char *reason = refusal(i);
  if (reason) rt_trap(reason);
  /* list_authorized answers anyone inside the method (the official interface), but each ingress
   * update costs the owner its message fees: by ingress only for those who manage the store */
  if (METHODS[i].who == FOR_ANYONE && !caller_has_commit())
    rt_trapf("only controllers and principals with Commit permission may call %s by ingress (each update costs "
             "the canister's owner cycles)", METHODS[i].name);
  return 1;
}

/* ================================ replies ================================ */

static void reply_or_reject(const char *error) {
  if (error) rt_reject(error);
  else cd_reply_empty();
}

static int32_t header_list_type(cd_writer *w) {
  cd_field_type fields[] = {{"0", CD_TEXT}, {"1", CD_TEXT}};
  return cd_t_vec(w, cd_t_record(w, 2, fields));
}

static void write_headers(cd_writer *w, const as_asset *a) {
  if (!a->has_headers) {
    cd_w_opt_none(w);
    return;
  }
  cd_w_opt_some(w);
  cd_w_vec_begin(w, a->n_headers);
  for (uint32_t i = 0; i < a->n_headers; i++) {
    cd_w_record_begin(w);
    cd_w_cstr(w, a->headers[i].name);
    cd_w_cstr(w, a->headers[i].value);
    cd_w_record_end(w);
  }
  cd_w_vec_end(w);
}

static void write_opt_bool(cd_writer *w, int8_t v) {
  if (v < 0) {
    cd_w_opt_none(w);
  } else {
    cd_w_opt_some(w);
    cd_w_bool(w, v);
  }
}

static void write_opt_nat64(cd_writer *w, int has, uint64_t v) {
  if (!has) {
    cd_w_opt_none(w);
  } else {
    cd_w_opt_some(w);
    cd_w_nat64(w, v);
  }
}

/* ================================ reads ================================ */

EXPORT("canister_query", http_request) {
  begin();
  ah_http_request();
}

EXPORT("canister_query", http_request_streaming_callback) {
  begin();
  ah_streaming_callback();
}

EXPORT("canister_query", api_version) {
  begin();
  cd_writer w;
  cd_writer_init(&w);
  cd_w_arg(&w, CD_NAT16);
  cd_w_nat16(&w, API_VERSION);
  cd_reply(&w);
}

EXPORT("canister_query", list) {
  begin();
  cd_reader r;
  cd_val arg, x;
  if (!cd_read_arg(&r, &arg)) return;
  uint64_t start = 0, length = UINT64_MAX;
  if (optional(&r, arg, "start", &x)) cd_nat64(&r, x, &start);
  if (optional(&r, arg, "length", &x)) cd_nat64(&r, x, &length);
  if (r.error) {
    fail_arg(&r);
    return;
  }
  size_t count = as_count();
  size_t first = start < count ? (size_t)start : count;
  size_t n = length < count - first ? (size_t)length : count - first;
  cd_writer w;
  cd_writer_init(&w);
  int32_t opt_blob = cd_t_opt(&w, cd_t_vec(&w, CD_NAT8));
  cd_field_type enc_fields[] = {{"content_encoding", CD_TEXT}, {"sha256", opt_blob}, {"length", CD_NAT}, {"modified", CD_INT}};
  int32_t encodings = cd_t_vec(&w, cd_t_record(&w, 4, enc_fields));
  cd_field_type fields[] = {{"key", CD_TEXT}, {"content_type", CD_TEXT}, {"encodings", encodings},
                            {"max_age", cd_t_opt(&w, CD_NAT64)}, {"headers", cd_t_opt(&w, header_list_type(&w))},
                            {"allow_raw_access", cd_t_opt(&w, CD_BOOL)}, {"is_aliased", cd_t_opt(&w, CD_BOOL)}};
  cd_w_arg(&w, cd_t_vec(&w, cd_t_record(&w, 7, fields)));
  cd_w_vec_begin(&w, n);
  for (size_t i = first; i < first + n; i++) {
    as_asset *a = as_at(i);
    cd_w_record_begin(&w);
    cd_w_text(&w, a->key, a->key_size);
    cd_w_cstr(&w, a->content_type);
    cd_w_vec_begin(&w, a->n_encodings);
    for (uint32_t k = 0; k < a->n_encodings; k++) {
      as_encoding *e = &a->encodings[k];
      cd_w_record_begin(&w);
      cd_w_cstr(&w, e->name);
      cd_w_opt_some(&w);
      cd_w_blob(&w, e->sha256, 32);
      cd_w_nat(&w, e->length);
      cd_w_int(&w, e->modified);
      cd_w_record_end(&w);
    }
    cd_w_vec_end(&w);
    write_opt_nat64(&w, a->has_max_age, a->max_age);
    write_headers(&w, a);
    write_opt_bool(&w, a->allow_raw_access);
    write_opt_bool(&w, a->is_aliased);
    cd_w_record_end(&w);
  }
  cd_w_vec_end(&w);
  cd_reply(&w);
}

EXPORT("canister_query", get) {
  begin();
  cd_reader r;
  cd_val arg, f, e;
  as_text key;
  if (!cd_read_arg(&r, &arg)) return;
  if (!text_field(&r, arg, "key", &key) || !cd_field(&r, arg, "accept_encodings", &f)) {
    if (!r.error && !bad) refuse("missing field `accept_encodings`%s%s", "", "");
    fail_arg(&r);
    return;
  }
  size_t n;
  if (!cd_vec(&r, f, &n, &e)) {
    fail_arg(&r);
    return;
  }
  as_asset *a = as_find(key.data, key.size);
  if (!a) {
    rt_reject("asset not found");
    return;
  }
  as_encoding *chosen = 0;
  for (size_t i = 0; i < n; i++) {
    as_text name;
    if (!cd_text(&r, e, &name.data, &name.size)) {
      fail_arg(&r);
      return;
    }
    if (!chosen) chosen = as_encoding_of(a, name.data, name.size);
    if (i + 1 < n && !cd_next(&r, &e)) {
      fail_arg(&r);
      return;
    }
  }
  if (!chosen) {
    rt_reject("no such encoding");
    return;
  }
  uint8_t *content;
  uint64_t size = as_read_window(chosen, 0, &content);
  cd_writer w;
  cd_writer_init(&w);
  rt_buf_reserve(&w.values, size + 4096);
  int32_t blob = cd_t_vec(&w, CD_NAT8);
  cd_field_type fields[] = {{"content", blob}, {"content_type", CD_TEXT}, {"content_encoding", CD_TEXT},
                            {"sha256", cd_t_opt(&w, blob)}, {"total_length", CD_NAT}};
  cd_w_arg(&w, cd_t_record(&w, 5, fields));
  cd_w_record_begin(&w);
  cd_w_blob(&w, content, size);
  cd_w_cstr(&w, a->content_type);
  cd_w_cstr(&w, chosen->name);
  cd_w_opt_some(&w);
  cd_w_blob(&w, chosen->sha256, 32);
  cd_w_nat(&w, chosen->length);
  cd_w_record_end(&w);
  cd_reply(&w);
}

EXPORT("canister_query", get_chunk) {
  begin();
  cd_reader r;
  cd_val arg, f, x;
  as_text key, encoding, sha = {0, 0};
  uint64_t index;
  if (!cd_read_arg(&r, &arg)) return;
  if (!text_field(&r, arg, "key", &key) || !text_field(&r, arg, "content_encoding", &encoding) ||
      !cd_field(&r, arg, "index", &f) || !cd_nat64(&r, f, &index)) {
    if (!r.error && !bad) refuse("missing field `index`%s%s", "", "");
    fail_arg(&r);
    return;
  }
  int has_sha = optional(&r, arg, "sha256", &x) && blob_of(&r, x, &sha);
  if (r.error) {
    fail_arg(&r);
    return;
  }
  as_asset *a = as_find(key.data, key.size);
  as_encoding *e = a ? as_encoding_of(a, encoding.data, encoding.size) : 0;
  if (!e) {
    rt_reject(a ? "no such encoding" : "asset not found");
    return;
  }
  if (has_sha && (sha.size != 32 || memcmp(sha.data, e->sha256, 32))) {
    rt_reject("sha256 mismatch");
    return;
  }
  if (index >= as_windows(e)) {
    rt_reject("chunk index out of bounds");
    return;
  }
  uint8_t *content;
  uint64_t size = as_read_window(e, index, &content);
  cd_writer w;
  cd_writer_init(&w);
  rt_buf_reserve(&w.values, size + 64);
  cd_field_type fields[] = {{"content", cd_t_vec(&w, CD_NAT8)}};
  cd_w_arg(&w, cd_t_record(&w, 1, fields));
  cd_w_record_begin(&w);
  cd_w_blob(&w, content, size);
  cd_w_record_end(&w);
  cd_reply(&w);
}

EXPORT("canister_query", get_asset_properties) {
  begin();
  cd_reader r;
  cd_val arg;
  as_text key;
  if (!cd_read_arg(&r, &arg)) return;
  if (!cd_text(&r, arg, &key.data, &key.size)) {
    fail_arg(&r);
    return;
  }
  as_asset *a = as_find(key.data, key.size);
  if (!a) {
    rt_reject("asset not found");
    return;
  }
  cd_writer w;
  cd_writer_init(&w);
  cd_field_type fields[] = {{"max_age", cd_t_opt(&w, CD_NAT64)}, {"headers", cd_t_opt(&w, header_list_type(&w))},
                            {"allow_raw_access", cd_t_opt(&w, CD_BOOL)}, {"is_aliased", cd_t_opt(&w, CD_BOOL)}};
  cd_w_arg(&w, cd_t_record(&w, 4, fields));
  cd_w_record_begin(&w);
  write_opt_nat64(&w, a->has_max_age, a->max_age);
  write_headers(&w, a);
  write_opt_bool(&w, a->allow_raw_access);
  write_opt_bool(&w, a->is_aliased);
  cd_w_record_end(&w);
  cd_reply(&w);
}

static void reply_principals(void) {
  cd_writer w;
  cd_writer_init(&w);
  cd_w_arg(&w, cd_t_vec(&w, CD_PRINCIPAL));
  cd_w_vec_begin(&w, as_authorized_count());
  for (size_t i = 0; i < as_authorized_count(); i++) {
    size_t size;
    const uint8_t *p = as_authorized_at(i, &size);
    cd_w_principal(&w, p, size);
  }
  cd_w_vec_end(&w);
  cd_reply(&w);
}

EXPORT("canister_update", list_authorized) {
  begin();
  if (!permitted("list_authorized")) return;
  reply_principals();
}

/* ================================ batches ================================ */

static int read_batch_id(cd_reader *r, cd_val arg, uint64_t *id) {
  cd_val f;
  if (cd_field(r, arg, "batch_id", &f) && cd_nat64(r, f, id)) return 1;
  if (!r->error) refuse("missing field `batch_id`%s%s", "", "");
  return 0;
}

static void reply_nat_record(const char *field, uint64_t value) {
  cd_writer w;
  cd_writer_init(&w);
  cd_field_type fields[] = {{field, CD_NAT}};
  cd_w_arg(&w, cd_t_record(&w, 1, fields));
  cd_w_record_begin(&w);
  cd_w_nat(&w, value);
  cd_w_record_end(&w);
  cd_reply(&w);
}

EXPORT("canister_update", create_batch) {
  begin();
  cd_reader r;
  cd_val arg;
  if (!permitted("create_batch") || !cd_read_arg(&r, &arg)) return;
  uint64_t id;
  const char *error = as_create_batch(now(), &id);
  if (error) rt_reject(error);
  else reply_nat_record("batch_id", id);
}

EXPORT("canister_update", create_chunk) {
  begin();
  cd_reader r;
  cd_val arg, f;
  uint64_t batch_id, chunk_id;
  as_text content;
  if (!permitted("create_chunk") || !cd_read_arg(&r, &arg)) return;
  if (!read_batch_id(&r, arg, &batch_id) || !cd_field(&r, arg, "content", &f) || !blob_of(&r, f, &content)) {
    if (!r.error && !bad) refuse("missing field `content`%s%s", "", "");
    fail_arg(&r);
    return;
  }
  const char *error = as_create_chunk(batch_id, (const uint8_t *)content.data, content.size, now(), &chunk_id);
  if (error) rt_reject(error);
  else reply_nat_record("chunk_id", chunk_id);
}

/* The argument of create_chunks / commit_batch: { batch_id; <field> : vec ... }, from a writer.
 * Returns 0 after rejecting. */
static int read_batch_vec(cd_reader *r, const char *method, const char *field, uint64_t *batch_id, size_t *n,
                          cd_val *first) {
  cd_val arg, f;
  if (!permitted(method) || !cd_read_arg(r, &arg)) return 0;
  if (read_batch_id(r, arg, batch_id) && cd_field(r, arg, field, &f) && cd_vec(r, f, n, first)) return 1;
  if (!r->error && !bad) refuse("missing field `%s`%s", field, "");
  return fail_arg(r);
}

EXPORT("canister_update", create_chunks) {
  begin();
  cd_reader r;
  cd_val e;
  uint64_t batch_id;
  size_t n;
  if (!read_batch_vec(&r, "create_chunks", "content", &batch_id, &n, &e)) return;
  as_text *contents = rt_scratch((n ? n : 1) * sizeof *contents, 8);
  for (size_t i = 0; i < n; i++) {
    if (!blob_of(&r, e, &contents[i]) || (i + 1 < n && !cd_next(&r, &e))) {
      fail_arg(&r);
      return;
    }
  }
  uint64_t *ids = rt_scratch((n ? n : 1) * sizeof *ids, 8);
  for (size_t i = 0; i < n; i++) {
    /* only the first can fail (no such batch), before anything is written */
    const char *error = as_create_chunk(batch_id, (const uint8_t *)contents[i].data, contents[i].size, now(), &ids[i]);
    if (error) {
      rt_reject(error);
      return;
    }
  }
  if (!n && !as_batch_exists(batch_id)) {
    rt_reject("batch not found");
    return;
  }
  cd_writer w;
  cd_writer_init(&w);
  cd_field_type fields[] = {{"chunk_ids", cd_t_vec(&w, CD_NAT)}};
  cd_w_arg(&w, cd_t_record(&w, 1, fields));
  cd_w_record_begin(&w);
  cd_w_vec_begin(&w, n);
  for (size_t i = 0; i < n; i++) cd_w_nat(&w, ids[i]);
  cd_w_vec_end(&w);
  cd_w_record_end(&w);
  cd_reply(&w);
}

EXPORT("canister_update", commit_batch) {
  begin();
  cd_reader r;
  cd_val e;
  uint64_t batch_id;
  size_t n;
  if (!read_batch_vec(&r, "commit_batch", "operations", &batch_id, &n, &e)) return;
  as_op *ops = rt_scratch((n ? n : 1) * sizeof *ops, 8);
  for (size_t i = 0; i < n; i++) {
    if (!read_operation(&r, e, &ops[i]) || (i + 1 < n && !cd_next(&r, &e))) {
      fail_arg(&r);
      return;
    }
  }
  reply_or_reject(as_commit(batch_id, ops, n, now()));
}

EXPORT("canister_update", delete_batch) {
  begin();
  cd_reader r;
  cd_val arg;
  uint64_t batch_id;
  if (!permitted("delete_batch") || !cd_read_arg(&r, &arg)) return;
  if (!read_batch_id(&r, arg, &batch_id)) {
    fail_arg(&r);
    return;
  }
  reply_or_reject(as_delete_batch(batch_id));
}

/* ================================ single operations ================================ */

static void single(const char *method, int (*read_op)(cd_reader *, cd_val, as_op *)) {
  cd_reader r;
  cd_val arg;
  as_op op;
  if (!permitted(method) || !cd_read_arg(&r, &arg)) return;
  memset(&op, 0, sizeof op);
  if (!read_op(&r, arg, &op)) {
    fail_arg(&r);
    return;
  }
  if (op.n_chunks) {
    rt_reject("set_asset_content: chunk ids belong to a batch; use commit_batch");
    return;
  }
  reply_or_reject(as_commit(0, &op, 1, now()));
}

static int read_clear(cd_reader *r, cd_val v, as_op *op) {
  (void)r;
  (void)v;
  op->kind = AS_CLEAR;
  return 1;
}

EXPORT("canister_update", create_asset) { begin(); single("create_asset", read_create); }
EXPORT("canister_update", set_asset_content) { begin(); single("set_asset_content", read_set_content); }
EXPORT("canister_update", unset_asset_content) { begin(); single("unset_asset_content", read_unset_content); }
EXPORT("canister_update", delete_asset) { begin(); single("delete_asset", read_delete); }
EXPORT("canister_update", clear) { begin(); single("clear", read_clear); }
EXPORT("canister_update", set_asset_properties) { begin(); single("set_asset_properties", read_set_properties); }

EXPORT("canister_update", store) {
  begin();
  cd_reader r;
  cd_val arg, f, x;
  as_text key, content_type, encoding, content, sha = {0, 0};
  if (!permitted("store") || !cd_read_arg(&r, &arg)) return;
  if (!text_field(&r, arg, "key", &key) || !check_key(key) || !text_field(&r, arg, "content_type", &content_type) ||
      !check_value(content_type, "content_type") || !text_field(&r, arg, "content_encoding", &encoding) ||
      !check_token(encoding, "content_encoding") || !cd_field(&r, arg, "content", &f) || !blob_of(&r, f, &content)) {
    if (!r.error && !bad) refuse("missing field `content`%s%s", "", "");
    fail_arg(&r);
    return;
  }
  int has_sha = optional(&r, arg, "sha256", &x) && blob_of(&r, x, &sha);
  if (r.error) {
    fail_arg(&r);
    return;
  }
  reply_or_reject(as_store(key, content_type, encoding, content, has_sha, sha, now()));
}

/* ================================ authorization ================================ */

static int read_principal(cd_reader *r, const uint8_t **p, size_t *size) {
  cd_val arg;
  if (!cd_read_arg(r, &arg)) return 0;
  if (!cd_principal(r, arg, p, size)) return fail_arg(r);
  return 1;
}

EXPORT("canister_update", authorize) {
  begin();
  cd_reader r;
  const uint8_t *p;
  size_t size;
  if (!permitted("authorize") || !read_principal(&r, &p, &size)) return;
  if (size == 1 && p[0] == 0x04) {
    rt_reject("the anonymous principal cannot be authorized");
    return;
  }
  as_authorize(p, size);
  as_persist();
  cd_reply_empty();
}

EXPORT("canister_update", deauthorize) {
  begin();
  cd_reader r;
  const uint8_t *p;
  size_t size;
  if (!permitted("deauthorize") || !read_principal(&r, &p, &size)) return;
  uint8_t caller[29];
  size_t caller_size = rt_caller(caller);
  int self = caller_size == size && !memcmp(caller, p, size);
  if (!rt_caller_is_controller() && !self) {
    rt_reject("Caller is not a controller: only controllers (or the principal itself) may deauthorize");
    return;
  }
  as_deauthorize(p, size);
  as_persist();
  cd_reply_empty();
}
