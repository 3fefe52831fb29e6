/* runtime_probe.c: a test canister for the C runtime (canister/runtime): SHA-256 split at given
 * offsets and its cost, a Candid echo that reads a rich argument with the reader and writes it
 * back with the typed writer (type in ECHO_DID of tests/runtime/test_runtime_candid.py), allocator and
 * formatter probes, the caller, and writer misuse. Raw (non-Candid) arguments are little-endian. */
#include "candid_reader.h"
#include "candid_writer.h"
#include "rt.h"
#include "sha256.h"

static uint32_t u32_at(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t u64_at(const uint8_t *p) { return u32_at(p) | (uint64_t)u32_at(p + 4) << 32; }
static void put_u64(rt_buf *b, uint64_t v) {
  for (int i = 0; i < 8; i++) rt_buf_byte(b, (uint8_t)(v >> (8 * i)));
}

/* arg: u32 count | u32 offsets[count] (ascending) | data; reply: SHA-256 of data, fed in pieces cut there. */
__attribute__((export_name("canister_query sha256"))) void sha256_pieces(void) {
  rt_message_begin();
  size_t size;
  const uint8_t *arg = rt_arg(&size);
  uint32_t count = size >= 4 ? u32_at(arg) : 0;
  if (size < 4 || count > (size - 4) / 4) {
    rt_reject("sha256: bad argument");
    return;
  }
  const uint8_t *data = arg + 4 + 4 * count;
  size_t n = size - 4 - 4 * count, at = 0;
  sha256_ctx ctx;
  sha256_init(&ctx);
  for (uint32_t i = 0; i < count; i++) {
    size_t cut = u32_at(arg + 4 + 4 * i);
    if (cut < at || cut > n) {
      rt_reject("sha256: offsets must ascend within the data");
      return;
    }
    sha256_update(&ctx, data + at, cut - at);
    at = cut;
  }
  sha256_update(&ctx, data + at, n - at);
  uint8_t digest[32];
  sha256_final(&ctx, digest);
  rt_reply(digest, 32);
}

/* arg: u32 n; hashes n bytes (byte i = i * 7 + 3) in one sha256() call.
 * reply: digest | u64 instructions of that call (ic0.performance_counter). */
__attribute__((export_name("canister_query sha256_cost"))) void sha256_cost(void) {
  rt_message_begin();
  size_t size;
  const uint8_t *arg = rt_arg(&size);
  uint32_t n = size == 4 ? u32_at(arg) : 0;
  if (size != 4 || n > (8u << 20)) {
    rt_reject("sha256_cost: expected u32 n <= 8 MiB");
    return;
  }
  uint8_t *data = rt_scratch(n ? n : 1, 64);
  for (uint32_t i = 0; i < n; i++) data[i] = (uint8_t)(i * 7 + 3);
  uint8_t digest[32];
  uint64_t before = ic0_performance_counter(0);
  sha256(data, n, digest);
  uint64_t used = ic0_performance_counter(0) - before;
  rt_buf out = {0};
  rt_buf_append(&out, digest, 32);
  put_u64(&out, used);
  rt_reply(out.data, out.size);
}

/* arg: any Candid message. reply: u64 message size | u64 instructions of rt_arg | u64 of
 * cd_read_begin (the whole validation) | if the first argument is a blob, its SHA-256 (so a test
 * sees the reader found the right bytes). */
__attribute__((export_name("canister_query decode_cost"))) void decode_cost(void) {
  rt_message_begin();
  uint64_t t0 = ic0_performance_counter(0);
  size_t size;
  const uint8_t *arg = rt_arg(&size);
  uint64_t t1 = ic0_performance_counter(0);
  cd_reader r;
  int ok = cd_read_begin(&r, arg, size);
  uint64_t t2 = ic0_performance_counter(0);
  if (!ok) {
    rt_rejectf("invalid argument: %s", r.error);
    return;
  }
  rt_buf out = {0};
  put_u64(&out, size);
  put_u64(&out, t1 - t0);
  put_u64(&out, t2 - t1);
  cd_val v;
  const uint8_t *blob;
  size_t blob_size;
  if (cd_arg(&r, 0, &v) && cd_blob(&r, v, &blob, &blob_size)) {
    uint8_t digest[32];
    sha256(blob, blob_size, digest);
    rt_buf_append(&out, digest, 32);
  }
  rt_reply(out.data, out.size);
}

/* A reader that looks fields up again and again. arg: (record { ...; wanted : nat }, nat32 n).
 * Looks field `wanted` up n times. reply: u64 instructions of cd_read_begin | u64 of the n
 * lookups | u64 the value. A refusal (the decoder's budget spent): "invalid argument: ...". An
 * update, so a walk that costs billions of instructions is measured rather than cut at 5B. */
__attribute__((export_name("canister_update field_lookups"))) void field_lookups(void) {
  rt_message_begin();
  size_t size;
  const uint8_t *arg = rt_arg(&size);
  uint64_t t0 = ic0_performance_counter(0);
  cd_reader r;
  cd_val record, count_val, f;
  uint32_t n = 0;
  uint64_t value = 0;
  int ok = cd_read_begin(&r, arg, size);
  uint64_t t1 = ic0_performance_counter(0);
  ok = ok && cd_arg(&r, 0, &record) && cd_arg(&r, 1, &count_val) && cd_nat32(&r, count_val, &n);
  for (uint32_t i = 0; ok && i < n; i++) ok = cd_field(&r, record, "wanted", &f) && cd_nat64(&r, f, &value);
  uint64_t t2 = ic0_performance_counter(0);
  if (!ok) {
    rt_rejectf("invalid argument: %s", r.error ? r.error : "no field `wanted`");
    return;
  }
  rt_buf out = {0};
  put_u64(&out, t1 - t0);
  put_u64(&out, t2 - t1);
  put_u64(&out, value);
  rt_reply(out.data, out.size);
}

/* Allocator probe. arg: u32 triples (op, a, b):
 *   op 0: rt_scratch(a, b)   op 1: rt_alloc(a, b)   op 2: rt_mark()   op 3: rt_release(result of op #a)
 *   op 4: rt_heap_used()     op 5: rt_buf of a bytes appended one at a time (result: data pointer)
 * reply: per op, u64 result (address, mark, bytes) | u64 1 if the new memory was all zero. Each
 * allocation is then filled with 0xa5, so reusing it without zeroing would show. */
__attribute__((export_name("canister_update alloc"))) void alloc(void) {
  rt_message_begin();
  size_t size;
  const uint8_t *arg = rt_arg(&size);
  if (size % 12) {
    rt_reject("alloc: expected u32 triples");
    return;
  }
  size_t n = size / 12;
  /* results go to persistent memory so the probe's own scratch use does not move the marks */
  uint64_t *results = rt_alloc(n * 16 + 16, 8);
  for (size_t i = 0; i < n; i++) {
    uint32_t op = u32_at(arg + 12 * i), a = u32_at(arg + 12 * i + 4), b = u32_at(arg + 12 * i + 8);
    uint8_t *block = 0;
    size_t block_size = a;
    if (op == 0) block = rt_scratch(a, b);
    else if (op == 1) block = rt_alloc(a, b);
    else if (op == 2) results[2 * i] = rt_mark();
    else if (op == 3 && a < i) rt_release((size_t)results[2 * a]);
    else if (op == 4) results[2 * i] = rt_heap_used();
    else if (op == 5) {
      rt_buf buf = {0};
      for (uint32_t k = 0; k < a; k++) rt_buf_byte(&buf, (uint8_t)k);
      int same = buf.size == a;
      for (uint32_t k = 0; k < a; k++) same &= buf.data[k] == (uint8_t)k;
      results[2 * i] = (size_t)buf.data;
      results[2 * i + 1] = same;
      continue;
    } else {
      rt_reject("alloc: unknown op");
      return;
    }
    if (block) {
      int zero = 1;
      for (size_t k = 0; k < block_size; k++) zero &= block[k] == 0;
      memset(block, 0xa5, block_size);
      results[2 * i] = (size_t)block;
      results[2 * i + 1] = zero;
    }
  }
  rt_reply(results, n * 16);
}

/* arg: u32 op | u32 size. Traps on purpose: op 0 rt_alloc(size, 16), op 1 rt_scratch(size, 16),
 * op 2 rt_alloc(16, size) (alignment), op 3 a buffer of size bytes. */
__attribute__((export_name("canister_update exhaust"))) void exhaust(void) {
  rt_message_begin();
  size_t size;
  const uint8_t *arg = rt_arg(&size);
  if (size != 8) {
    rt_reject("exhaust: expected u32 op | u32 size");
    return;
  }
  uint32_t op = u32_at(arg), n = u32_at(arg + 4);
  if (op == 0) rt_alloc(n, 16);
  if (op == 1) rt_scratch(n, 16);
  if (op == 2) rt_alloc(16, n);
  if (op == 3) {
    rt_buf b = {0};
    rt_buf_reserve(&b, n);
  }
  rt_reply("survived", 8);
}

/* arg: u32 capacity (<= 1024) | i32 d | u32 u | u32 x | i64 lld | u64 llu | u64 llx | s (rest).
 * reply: u32 rt_format's result | the capacity bytes of the buffer (NUL terminator included). */
__attribute__((export_name("canister_query format"))) void format(void) {
  rt_message_begin();
  size_t size;
  const uint8_t *arg = rt_arg(&size);
  if (size < 40 || u32_at(arg) > 1024) {
    rt_reject("format: bad argument");
    return;
  }
  uint32_t capacity = u32_at(arg);
  char *text = rt_scratch(size - 40 + 1, 1); /* zeroed: the NUL */
  memcpy(text, arg + 40, size - 40);
  char out[1024 + 4];
  memset(out, 0x7e, sizeof out); /* '~' shows bytes rt_format did not write */
  size_t n = rt_format(out, capacity, "%d|%u|%x|%lld|%llu|%llx|%s|%%", (int32_t)u32_at(arg + 4), u32_at(arg + 8),
                       u32_at(arg + 12), (long long)u64_at(arg + 16), (unsigned long long)u64_at(arg + 24),
                       (unsigned long long)u64_at(arg + 32), text);
  rt_buf reply = {0};
  uint8_t length[4] = {(uint8_t)n, (uint8_t)(n >> 8), (uint8_t)(n >> 16), (uint8_t)(n >> 24)};
  rt_buf_append(&reply, length, 4);
  rt_buf_append(&reply, out, capacity);
  rt_reply(reply.data, reply.size);
}

/* reply: u8 rt_caller_is_controller() | the caller's principal bytes. */
__attribute__((export_name("canister_query whoami"))) void whoami(void) {
  rt_message_begin();
  uint8_t reply[30];
  reply[0] = (uint8_t)rt_caller_is_controller();
  size_t n = rt_caller(reply + 1);
  rt_reply(reply, n + 1);
}

/* rt_rejectf with every directive, and an early reject after scratch use (the next message starts clean). */
__attribute__((export_name("canister_query rejectf"))) void rejectf(void) {
  rt_message_begin();
  rt_scratch(1000, 8);
  rt_rejectf("n=%d u=%u x=%x lld=%lld llu=%llu llx=%llx s=%s %%", -42, 42u, 0xbeefu, -(1ll << 40),
             18446744073709551615ull, 0x123456789abcdefull, "text");
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

/* Any Candid message. reply: u32 types | u32 arguments | for each text argument: u32 index | u32
 * length | bytes (cd_arg past CD_INDEXED_ARGS walks). A malformed message: "invalid argument: ..." */
__attribute__((export_name("canister_query validate"))) void validate(void) {
  rt_message_begin();
  size_t size;
  const uint8_t *arg = rt_arg(&size);
  cd_reader r;
  if (!cd_read_begin(&r, arg, size)) {
    rt_rejectf("invalid argument: %s", r.error);
    return;
  }
  rt_buf out = {0};
  uint32_t header[2] = {r.n_types, r.n_args};
  rt_buf_append(&out, header, 8);
  for (uint32_t i = 0; i < r.n_args; i++) {
    cd_val v;
    const char *text;
    size_t n;
    if (!cd_arg(&r, i, &v) || v.type != CD_TEXT) continue;
    if (!cd_text(&r, v, &text, &n)) break;
    uint32_t entry[2] = {i, (uint32_t)n};
    rt_buf_append(&out, entry, 8);
    rt_buf_append(&out, text, n);
  }
  if (r.error) {
    rt_rejectf("invalid argument: %s", r.error);
    return;
  }
  rt_reply(out.data, out.size);
}

/* Writer type-table sharing: `vec nat32` and `opt text` declared twice. reply: Candid
 * (record { a : vec nat32; b : vec nat32; c : opt text; d : opt text }). */
__attribute__((export_name("canister_query shared_types"))) void shared_types(void) {
  rt_message_begin();
  cd_writer w;
  cd_writer_init(&w);
  int32_t a = cd_t_vec(&w, CD_NAT32), b = cd_t_vec(&w, CD_NAT32);
  int32_t c = cd_t_opt(&w, CD_TEXT), d = cd_t_opt(&w, CD_TEXT);
  cd_field_type fields[] = {{"a", a}, {"b", b}, {"c", c}, {"d", d}};
  cd_w_arg(&w, cd_t_record(&w, 4, fields));
  uint32_t values[] = {1, 2, 3};
  cd_w_record_begin(&w);
  cd_w_vec_nat32(&w, values, 3);
  cd_w_vec_nat32(&w, values, 0);
  cd_w_opt_some(&w);
  cd_w_cstr(&w, "some");
  cd_w_opt_none(&w);
  cd_w_record_end(&w);
  cd_reply(&w);
}

/* A writer misuse (a canister bug) traps with the writer's reason. arg: u8 case (none: case 0). */
__attribute__((export_name("canister_query misuse"))) void misuse(void) {
  rt_message_begin();
  size_t size;
  const uint8_t *arg = rt_arg(&size);
  cd_writer w;
  cd_writer_init(&w);
  cd_field_type one[] = {{"a", CD_NAT32}};
  switch (size ? arg[0] : 0) {
    case 0: /* expected nat32, got text */
      cd_w_arg(&w, CD_NAT32);
      cd_w_cstr(&w, "not a number");
      break;
    case 1: /* more vector elements than declared */
      cd_w_arg(&w, cd_t_vec(&w, CD_TEXT));
      cd_w_vec_begin(&w, 1);
      cd_w_cstr(&w, "one");
      cd_w_cstr(&w, "two");
      break;
    case 2: /* fewer record fields than declared */
      cd_w_arg(&w, cd_t_record(&w, 1, one));
      cd_w_record_begin(&w);
      cd_w_record_end(&w);
      break;
    case 3: /* a variant tag that was not declared */
      cd_w_arg(&w, cd_t_variant(&w, 1, one));
      cd_w_variant(&w, "b");
      break;
    case 4: /* reply before the declared arguments are written */
      cd_w_arg(&w, CD_NAT32);
      cd_reply(&w);
      break;
    case 5: /* a type index that was never declared */
      cd_w_arg(&w, 7);
      break;
  }
  rt_reply("no trap", 7);
}
