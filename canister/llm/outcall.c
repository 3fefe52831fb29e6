/* outcall.c: http_request to the route's endpoint, and the transform's Candid (outcall.h). */
#include "outcall.h"

#include "candid_reader.h"
#include "candid_writer.h"
#include "route.h"
#include "sha256.h"

static uint64_t outcalls_made; /* with the time and the caller: every idempotency key differs */
static char line[300];

uint64_t outcall_cycles(uint64_t request_bytes, uint64_t max_response_bytes) {
  return OUTCALL_BASE_CYCLES + OUTCALL_REQUEST_BYTE_CYCLES * request_bytes +
         OUTCALL_RESPONSE_BYTE_CYCLES * max_response_bytes;
}

/* ---- types ---- */

static int32_t header_vec_type(cd_writer *w) {
  cd_field_type header[] = {{"name", CD_TEXT}, {"value", CD_TEXT}};
  return cd_t_vec(w, cd_t_record(w, 2, header));
}

static int32_t result_type(cd_writer *w) {
  cd_field_type fields[] = {{"status", CD_NAT}, {"headers", header_vec_type(w)}, {"body", cd_t_vec(w, CD_NAT8)}};
  return cd_t_record(w, 3, fields);
}

static int32_t args_type(cd_writer *w) {
  int32_t result = result_type(w);
  cd_field_type transform_args[] = {{"response", result}, {"context", cd_t_vec(w, CD_NAT8)}};
  int32_t args = cd_t_record(w, 2, transform_args);
  cd_field_type transform[] = {{"function", cd_t_func(w, 1, &args, 1, &result, 1)}, {"context", cd_t_vec(w, CD_NAT8)}};
  cd_field_type methods[] = {{"get", CD_NULL}, {"head", CD_NULL}, {"post", CD_NULL}};
  cd_field_type fields[] = {{"url", CD_TEXT}, {"max_response_bytes", cd_t_opt(w, CD_NAT64)},
                            {"method", cd_t_variant(w, 3, methods)}, {"headers", header_vec_type(w)},
                            {"body", cd_t_opt(w, cd_t_vec(w, CD_NAT8))},
                            {"transform", cd_t_opt(w, cd_t_record(w, 2, transform))},
                            {"is_replicated", cd_t_opt(w, CD_BOOL)}};
  return cd_t_record(w, 7, fields);
}

/* ---- the request ---- */

static void write_header(cd_writer *w, const char *name, const char *value) {
  cd_w_record_begin(w);
  cd_w_cstr(w, name);
  cd_w_cstr(w, value);
  cd_w_record_end(w);
}

/* 32 hex digits of SHA-256(this canister, the count of outcalls, the IC's time, the caller). */
static void idempotency_key(const principal_id *caller, char out[33]) {
  static const char HEX[] = "0123456789abcdef";
  uint8_t self[PRINCIPAL_MAX_BYTES], digest[32];
  size_t self_size = ic0_canister_self_size();
  ic0_canister_self_copy(self, 0, self_size);
  uint64_t now = ic0_time();
  sha256_ctx ctx;
  sha256_init(&ctx);
  sha256_update(&ctx, self, self_size);
  sha256_update(&ctx, &outcalls_made, sizeof outcalls_made);
  sha256_update(&ctx, &now, sizeof now);
  sha256_update(&ctx, caller->bytes, caller->size);
  sha256_final(&ctx, digest);
  for (int i = 0; i < 16; i++) {
    out[2 * i] = HEX[digest[i] >> 4];
    out[2 * i + 1] = HEX[digest[i] & 15];
  }
  out[32] = 0;
}

/* The http_request argument for c into out. */
static void write_args(rt_buf *out, const conversation *c, const principal_id *caller) {
  rt_buf body = {0};
  openai_request_body(&body, c, route.model, route.max_tokens);
  char key[33], authorization[ROUTE_KEY_MAX + 8];
  idempotency_key(caller, key);
  uint8_t self[PRINCIPAL_MAX_BYTES];
  size_t self_size = ic0_canister_self_size();
  ic0_canister_self_copy(self, 0, self_size);
  cd_writer w;
  cd_writer_init(&w);
  cd_w_arg(&w, args_type(&w));
  cd_w_record_begin(&w);
  cd_w_cstr(&w, route.url);
  cd_w_opt_some(&w);
  cd_w_nat64(&w, route.max_response_bytes);
  cd_w_variant(&w, "post");
  cd_w_null(&w);
  cd_w_vec_begin(&w, route.api_key[0] ? 3 : 2);
  write_header(&w, "content-type", "application/json");
  write_header(&w, "idempotency-key", key);
  if (route.api_key[0]) {
    rt_format(authorization, sizeof authorization, "Bearer %s", route.api_key);
    write_header(&w, "authorization", authorization);
  }
  cd_w_vec_end(&w);
  cd_w_opt_some(&w);
  cd_w_blob(&w, body.data, body.size);
  cd_w_opt_some(&w);
  cd_w_record_begin(&w);
  cd_w_func(&w, self, self_size, "transform_chat");
  cd_w_blob(&w, "", 0);
  cd_w_record_end(&w);
  cd_w_opt_none(&w); /* is_replicated: the default, every replica makes it */
  cd_w_record_end(&w);
  cd_w_finish(&w, out);
}

uint64_t outcall_estimate(const conversation *c, uint64_t *request_bytes) {
  size_t mark = rt_mark();
  rt_buf args = {0};
  principal_id nobody = {.size = 0};
  write_args(&args, c, &nobody);
  *request_bytes = args.size + 12 /* "http_request" */;
  uint64_t cycles = outcall_cycles(*request_bytes, route.max_response_bytes);
  rt_release(mark);
  return cycles;
}

uint32_t outcall_start(const conversation *c, const principal_id *caller, call_callbacks callbacks, uint64_t *cycles) {
  rt_buf args = {0};
  write_args(&args, c, caller);
  outcalls_made++;
  *cycles = outcall_cycles(args.size + 12 /* "http_request" */, route.max_response_bytes);
  uint32_t failed = call_perform(&MANAGEMENT_CANISTER, "http_request", args.data, args.size, *cycles, callbacks);
  if (failed) *cycles = 0;
  return failed;
}

/* ---- results ---- */

/* An http_request_result at `v` into out (the transform's input or the outcall's result). */
static int read_result(cd_reader *r, cd_val v, uint64_t *status, const uint8_t **body, size_t *size) {
  cd_val f;
  return cd_field(r, v, "status", &f) && cd_nat64(r, f, status) && cd_field(r, v, "body", &f) &&
         cd_blob(r, f, body, size);
}

const char *outcall_read_transform_args(uint64_t *status, const uint8_t **body, size_t *size) {
  size_t n;
  const uint8_t *data = rt_arg(&n);
  cd_reader r;
  cd_val arg, response;
  if (!cd_read_begin(&r, data, n) || !cd_arg(&r, 0, &arg) || !cd_field(&r, arg, "response", &response) ||
      !read_result(&r, response, status, body, size)) {
    rt_format(line, sizeof line, "invalid argument: %s", r.error ? r.error : "transform_args needs `response`");
    return line;
  }
  return 0;
}

void outcall_reply_canonical(const canonical_response *c) {
  cd_writer w;
  cd_writer_init(&w);
  cd_w_arg(&w, result_type(&w));
  cd_w_record_begin(&w);
  cd_w_nat(&w, c->status);
  cd_w_vec_begin(&w, 1);
  cd_w_record_begin(&w);
  cd_w_cstr(&w, c->header);
  cd_w_text(&w, (const char *)c->value.data, c->value.size);
  cd_w_record_end(&w);
  cd_w_vec_end(&w);
  cd_w_blob(&w, c->body.data, c->body.size);
  cd_w_record_end(&w);
  cd_reply(&w);
}

const char *outcall_result(canonical_response *out) {
  size_t n;
  const uint8_t *data = rt_arg(&n), *body;
  cd_reader r;
  cd_val arg, f, header, field;
  size_t count = 0, size;
  const char *s;
  *out = (canonical_response){0};
  if (!cd_read_begin(&r, data, n) || !cd_arg(&r, 0, &arg) || !read_result(&r, arg, &out->status, &body, &size))
    return "the outcall's result is not an http_request_result";
  rt_buf_append(&out->body, body, size);
  if (cd_field(&r, arg, "headers", &f) && cd_vec(&r, f, &count, &header) && count == 1 &&
      cd_field(&r, header, "name", &field) && cd_text(&r, field, &s, &n)) {
    out->header = n == sizeof FINISH_REASON_HEADER - 1 && !memcmp(s, FINISH_REASON_HEADER, n) ? FINISH_REASON_HEADER
                  : n == sizeof ERROR_HEADER - 1 && !memcmp(s, ERROR_HEADER, n)               ? ERROR_HEADER
                                                                                               : 0;
    if (cd_field(&r, header, "value", &field) && cd_text(&r, field, &s, &n)) rt_buf_append(&out->value, s, n);
  }
  return 0;
}
