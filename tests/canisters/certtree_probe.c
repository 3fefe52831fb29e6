/* certtree_probe.c: a test canister for canister/assetstore (certtree, http_cert) and the free-list
 * allocator (canister/runtime/alloc.c). Raw little-endian arguments, no Candid, except for
 * `http_request`, which answers like an asset canister.
 *
 * Encodings: path = u32 depth | depth x (u32 size | bytes); bytes = u32 size | bytes.
 * Certified state (one tree, kept across messages): `apply` runs puts and removes, `serve`
 * certifies a response (v2 exact/wildcard, or v1) and stores it for `http_request`. Every update
 * sets certified_data to the root hash.
 */
#include "alloc.h"
#include "candid_reader.h"
#include "candid_writer.h"
#include "certtree.h"
#include "http_cert.h"
#include "rt.h"
#include "sha256.h"

/* ---- argument reading (bounds-checked; a short argument rejects) ---- */

typedef struct {
  const uint8_t *at, *end;
  int bad;
} reader;

static uint32_t get_u32(reader *r) {
  if (r->end - r->at < 4) {
    r->bad = 1;
    r->at = r->end;
    return 0;
  }
  const uint8_t *p = r->at;
  r->at += 4;
  return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint8_t get_u8(reader *r) {
  if (r->at == r->end) {
    r->bad = 1;
    return 0;
  }
  return *r->at++;
}
static const uint8_t *get_bytes(reader *r, uint32_t *size) {
  *size = get_u32(r);
  if ((size_t)(r->end - r->at) < *size) {
    r->bad = 1;
    *size = 0;
    return r->at = r->end;
  }
  const uint8_t *p = r->at;
  r->at += *size;
  return p;
}
static ct_path get_path(reader *r) {
  uint32_t depth = get_u32(r);
  if (depth > 64) {
    r->bad = 1;
    depth = 0;
  }
  ct_label *labels = rt_scratch((depth ? depth : 1) * sizeof *labels, 8);
  for (uint32_t i = 0; i < depth; i++) labels[i].data = get_bytes(r, &labels[i].size);
  return (ct_path){labels, depth};
}
static char *get_cstr(reader *r) { /* a NUL-terminated copy in scratch */
  uint32_t size;
  const uint8_t *p = get_bytes(r, &size);
  char *s = rt_scratch(size + 1, 1);
  memcpy(s, p, size);
  return s;
}
static reader arg_reader(void) {
  size_t size;
  const uint8_t *arg = rt_arg(&size);
  return (reader){arg, arg + size, 0};
}
static void put_u32(rt_buf *b, uint32_t v) {
  for (int i = 0; i < 4; i++) rt_buf_byte(b, (uint8_t)(v >> (8 * i)));
}
static void put_u64(rt_buf *b, uint64_t v) {
  for (int i = 0; i < 8; i++) rt_buf_byte(b, (uint8_t)(v >> (8 * i)));
}

/* ---- the certified tree ---- */

static ct_tree *tree;
static ct_tree *the_tree(void) {
  if (!tree) tree = ct_new();
  return tree;
}

static uint64_t certify(void) { /* root hash -> certified_data; returns the instructions it took */
  uint8_t root[32];
  uint64_t t0 = ic0_performance_counter(0);
  ct_root_hash(the_tree(), root);
  uint64_t used = ic0_performance_counter(0) - t0;
  ic0_certified_data_set(root, 32);
  return used;
}

/* arg: u32 n | n x (u8 0 | path | bytes value  or  u8 1 | path). A put that conflicts traps with
 * the reason (the whole batch rolls back). reply: root [32] | u64 instructions of the operations |
 * u64 of ct_root_hash | u64 rt_malloc_live. */
__attribute__((export_name("canister_update apply"))) void apply(void) {
  rt_message_begin();
  reader r = arg_reader();
  uint32_t n = get_u32(&r);
  uint64_t spent = 0;
  for (uint32_t i = 0; i < n && !r.bad; i++) {
    uint8_t kind = get_u8(&r);
    ct_path path = get_path(&r);
    uint32_t size = 0;
    const uint8_t *value = kind == 0 ? get_bytes(&r, &size) : 0;
    if (r.bad || kind > 1) break;
    uint64_t t0 = ic0_performance_counter(0);
    if (kind == 0) {
      const char *conflict = ct_put_conflict(the_tree(), path);
      if (conflict) rt_trapf("op %u: %s", i, conflict);
      ct_put(the_tree(), path, value, size);
    } else {
      ct_remove(the_tree(), path);
    }
    spent += ic0_performance_counter(0) - t0;
  }
  if (r.bad || r.at != r.end) {
    rt_trap("apply: malformed operations");
  }
  uint64_t hashing = certify();
  rt_buf out = {0};
  uint8_t root[32];
  ct_root_hash(the_tree(), root);
  rt_buf_append(&out, root, 32);
  put_u64(&out, spent);
  put_u64(&out, hashing);
  put_u64(&out, rt_malloc_live());
  rt_reply(out.data, out.size);
}

/* reply: root [32] (a query: nothing it recomputes would persist, so it reads the cache). */
__attribute__((export_name("canister_query root"))) void root(void) {
  rt_message_begin();
  uint8_t out[32];
  ct_root_hash(the_tree(), out);
  rt_reply(out, 32);
}

/* arg: path. reply: u8 contains | u8 leaf found | leaf value. */
__attribute__((export_name("canister_query lookup"))) void lookup(void) {
  rt_message_begin();
  reader r = arg_reader();
  ct_path path = get_path(&r);
  if (r.bad) {
    rt_reject("lookup: malformed path");
    return;
  }
  size_t size = 0;
  const uint8_t *value = ct_get(the_tree(), path, &size);
  rt_buf out = {0};
  rt_buf_byte(&out, (uint8_t)ct_contains(the_tree(), path));
  rt_buf_byte(&out, value != 0);
  if (value) rt_buf_append(&out, value, size);
  rt_reply(out.data, out.size);
}

/* arg: u32 n | n x path. reply: u64 instructions of ct_witness | CBOR witness. */
__attribute__((export_name("canister_query witness"))) void witness(void) {
  rt_message_begin();
  reader r = arg_reader();
  uint32_t n = get_u32(&r);
  if (n > 1024) r.bad = 1;
  ct_path *paths = rt_scratch((n ? n : 1) * sizeof *paths, 8);
  for (uint32_t i = 0; i < n && !r.bad; i++) paths[i] = get_path(&r);
  if (r.bad) {
    rt_reject("witness: malformed paths");
    return;
  }
  rt_buf cbor = {0};
  uint64_t t0 = ic0_performance_counter(0);
  ct_witness(the_tree(), paths, n, &cbor);
  uint64_t used = ic0_performance_counter(0) - t0;
  rt_buf out = {0};
  put_u64(&out, used);
  rt_buf_append(&out, cbor.data, cbor.size);
  rt_reply(out.data, out.size);
}

/* ---- http_cert pure functions ---- */

static void reply_labels(const ct_label *labels, size_t depth) {
  rt_buf out = {0};
  put_u32(&out, (uint32_t)depth);
  for (size_t i = 0; i < depth; i++) {
    put_u32(&out, labels[i].size);
    rt_buf_append(&out, labels[i].data, labels[i].size);
  }
  rt_reply(out.data, out.size);
}

/* arg: u8 mode (0 exact, 1 wildcard, 2 candidate) | u32 candidate index | u32 max | bytes url_path.
 * reply: u32 depth | labels (u32 size | bytes). */
__attribute__((export_name("canister_query expr_path"))) void expr_path(void) {
  rt_message_begin();
  reader r = arg_reader();
  uint8_t mode = get_u8(&r);
  uint32_t index = get_u32(&r), max = get_u32(&r);
  char *url = get_cstr(&r);
  if (r.bad || max > 256) {
    rt_reject("expr_path: malformed argument");
    return;
  }
  ct_label *labels = rt_scratch((max ? max : 1) * sizeof *labels, 8);
  size_t depth = mode == 2 ? hc_expr_candidate(url, index, labels, max) : hc_expr_path(url, mode, labels, max);
  reply_labels(labels, depth);
}

/* arg: u32 n | n x bytes header name | u32 capacity. reply: u32 returned length | text. */
__attribute__((export_name("canister_query expression"))) void expression(void) {
  rt_message_begin();
  reader r = arg_reader();
  uint32_t n = get_u32(&r);
  if (n > 64) r.bad = 1;
  const char **names = rt_scratch((n ? n : 1) * sizeof *names, 8);
  for (uint32_t i = 0; i < n && !r.bad; i++) names[i] = get_cstr(&r);
  uint32_t capacity = get_u32(&r);
  if (r.bad || capacity > 65536) {
    rt_reject("expression: malformed argument");
    return;
  }
  char *text = rt_scratch(capacity ? capacity : 1, 1);
  size_t size = hc_expression(names, n, text, capacity);
  rt_buf out = {0};
  put_u32(&out, (uint32_t)size);
  rt_buf_append(&out, text, size);
  rt_reply(out.data, out.size);
}

/* arg: u32 status | body sha256 [32] | u32 n | n x (bytes name | bytes value). reply: hash [32]. */
__attribute__((export_name("canister_query response_hash"))) void response_hash(void) {
  rt_message_begin();
  reader r = arg_reader();
  uint32_t status = get_u32(&r);
  const uint8_t *body = r.end - r.at >= 32 ? r.at : 0;
  r.at = body ? r.at + 32 : r.end;
  uint32_t n = get_u32(&r);
  if (n > 256 || !body) r.bad = 1;
  hc_header *headers = rt_scratch((n ? n : 1) * sizeof *headers, 8);
  for (uint32_t i = 0; i < n && !r.bad; i++) {
    headers[i].name = get_cstr(&r);
    headers[i].value = get_cstr(&r);
  }
  if (r.bad || status > 0xffff) {
    rt_reject("response_hash: malformed argument");
    return;
  }
  uint8_t out[32];
  hc_response_hash((uint16_t)status, headers, n, body, out);
  rt_reply(out, 32);
}

/* arg: bytes certificate | bytes tree | path expr_path (depth 0: v1). reply: the header value. */
__attribute__((export_name("canister_query certificate_header"))) void certificate_header(void) {
  rt_message_begin();
  reader r = arg_reader();
  uint32_t cert_size, tree_size;
  const uint8_t *cert = get_bytes(&r, &cert_size);
  const uint8_t *tree_cbor = get_bytes(&r, &tree_size);
  ct_path path = get_path(&r);
  if (r.bad) {
    rt_reject("certificate_header: malformed argument");
    return;
  }
  rt_buf out = {0};
  hc_certificate_header(cert, cert_size, tree_cbor, tree_size, path.labels, path.depth, &out);
  rt_reply(out.data, out.size);
}

/* ---- serving certified responses ---- */

#define MAX_RESPONSES 64
#define MAX_DEPTH 34

typedef struct {
  char *url;              /* the path the entry answers (exact) or covers (wildcard) */
  int mode;               /* 0 exact, 1 wildcard, 2 v1 */
  uint16_t status;
  hc_header *headers;     /* as stored, then IC-CertificateExpression (v2) */
  uint32_t n_headers;
  uint8_t *body;
  uint32_t body_size;
  char *expression;
  uint8_t expr_hash[32], response_hash[32], body_hash[32];
} response;

static response responses[MAX_RESPONSES];
static uint32_t n_responses;

static char *heap_copy(const void *data, size_t size) {
  char *p = rt_malloc(size + 1);
  memcpy(p, data, size);
  p[size] = 0;
  return p;
}

static int has_nul(const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!p[i]) return 1;
  return 0;
}

static int same_text(const char *a, const char *b) {
  while (*a && *a == *b) a++, b++;
  return *a == *b;
}

static int same_labels(const ct_label *a, size_t na, const ct_label *b, size_t nb) {
  if (na != nb) return 0;
  for (size_t i = 0; i < na; i++)
    if (a[i].size != b[i].size || memcmp(a[i].data, b[i].data, a[i].size)) return 0;
  return 1;
}

static size_t leaf_path(const response *e, ct_label *labels, size_t max) {
  if (e->mode == 2) {
    hc_v1_path(e->url, labels);
    return 2;
  }
  ct_label expr[MAX_DEPTH];
  size_t depth = hc_expr_path(e->url, e->mode, expr, MAX_DEPTH);
  return depth ? hc_v2_leaf_path(expr, depth, e->expr_hash, e->response_hash, labels, max) : 0;
}

/* arg: u8 mode (0 v2 exact, 1 v2 wildcard, 2 v1) | u32 status | bytes url_path | bytes body |
 * u32 n | n x (bytes name | bytes value): the headers, all certified in v2 (names lower case).
 * reply: u64 instructions of the certification (hashes, ct_put, root hash). */
__attribute__((export_name("canister_update serve"))) void serve(void) {
  rt_message_begin();
  reader r = arg_reader();
  uint8_t mode = get_u8(&r);
  uint32_t status = get_u32(&r), url_size, body_size;
  const uint8_t *url = get_bytes(&r, &url_size);
  const uint8_t *body = get_bytes(&r, &body_size);
  uint32_t n = get_u32(&r);
  if (n > 32) r.bad = 1;
  hc_header *headers = rt_scratch((n + 1) * sizeof *headers, 8);
  for (uint32_t i = 0; i < n && !r.bad; i++) {
    headers[i].name = get_cstr(&r);
    headers[i].value = get_cstr(&r);
  }
  if (r.bad || r.at != r.end || mode > 2 || status > 999 || has_nul(url, url_size)) {
    rt_reject("serve: malformed argument");
    return;
  }
  if (n_responses == MAX_RESPONSES) {
    rt_reject("serve: no room for more responses");
    return;
  }
  uint64_t t0 = ic0_performance_counter(0);
  response *e = &responses[n_responses];
  memset(e, 0, sizeof *e);
  e->url = heap_copy(url, url_size);
  e->mode = mode;
  e->status = (uint16_t)status;
  e->body = (uint8_t *)heap_copy(body, body_size);
  e->body_size = body_size;
  sha256(body, body_size, e->body_hash);
  e->headers = rt_malloc((n + 1) * sizeof *e->headers);
  const char **names = rt_scratch((n ? n : 1) * sizeof *names, 8);
  for (uint32_t i = 0; i < n; i++) {
    e->headers[i].name = heap_copy(headers[i].name, strlen(headers[i].name));
    e->headers[i].value = heap_copy(headers[i].value, strlen(headers[i].value));
    names[i] = e->headers[i].name;
  }
  e->n_headers = n;
  if (mode != 2) {
    char text[2048];
    size_t size = hc_expression(names, n, text, sizeof text);
    if (!size) {
      rt_reject("serve: too many certified headers");
      return;
    }
    e->expression = heap_copy(text, size);
    hc_sha256_text(e->expression, e->expr_hash);
    e->headers[n].name = "ic-certificateexpression";
    e->headers[n].value = e->expression;
    e->n_headers = n + 1;
    hc_response_hash(e->status, e->headers, e->n_headers, e->body_hash, e->response_hash);
  }
  ct_label labels[MAX_DEPTH + 3];
  size_t depth = leaf_path(e, labels, MAX_DEPTH + 3);
  if (!depth) {
    rt_reject("serve: the path has too many segments");
    return;
  }
  ct_path path = {labels, depth};
  const char *conflict = ct_put_conflict(the_tree(), path);
  if (conflict) {
    rt_rejectf("serve: %s", conflict);
    return;
  }
  if (mode == 2) ct_put(the_tree(), path, e->body_hash, 32);
  else ct_put(the_tree(), path, "", 0);
  n_responses++;
  certify();
  uint64_t used = ic0_performance_counter(0) - t0;
  rt_buf out = {0};
  put_u64(&out, used);
  rt_reply(out.data, out.size);
}

/* Which stored response answers `url` (a v1 asset at that path, else v2 candidates in the verifier's order), and the
 * witness paths that prove it the most specific one. */
static const response *route(const char *url, ct_path *paths, size_t *n_paths) {
  *n_paths = 0;
  for (uint32_t k = 0; k < n_responses; k++) { /* a v1 asset at exactly this path first */
    const response *e = &responses[k];
    if (e->mode == 2 && same_text(e->url, url)) {
      ct_label *leaf = rt_scratch(2 * sizeof *leaf, 8);
      paths[(*n_paths)++] = (ct_path){leaf, leaf_path(e, leaf, 2)};
      return e;
    }
  }
  for (size_t i = 0;; i++) {
    ct_label *labels = rt_scratch(MAX_DEPTH * sizeof *labels, 8);
    size_t depth = hc_expr_candidate(url, i, labels, MAX_DEPTH);
    if (!depth) break;
    if (ct_contains(the_tree(), (ct_path){labels, depth})) {
      for (uint32_t k = 0; k < n_responses; k++) {
        const response *e = &responses[k];
        ct_label mine[MAX_DEPTH];
        if (e->mode == 2 || !same_labels(mine, hc_expr_path(e->url, e->mode, mine, MAX_DEPTH), labels, depth)) continue;
        ct_label *leaf = rt_scratch((MAX_DEPTH + 3) * sizeof *leaf, 8);
        paths[(*n_paths)++] = (ct_path){leaf, leaf_path(e, leaf, MAX_DEPTH + 3)};
        return e;
      }
    }
    paths[(*n_paths)++] = (ct_path){labels, depth}; /* proven absent */
  }
  *n_paths = 0;
  return 0;
}

static int32_t http_response_type(cd_writer *w) {
  cd_field_type pair[] = {{"0", CD_TEXT}, {"1", CD_TEXT}};
  int32_t header = cd_t_record(w, 2, pair);
  cd_field_type fields[] = {{"status_code", CD_NAT16}, {"headers", cd_t_vec(w, header)}, {"body", cd_t_vec(w, CD_NAT8)},
                            {"upgrade", cd_t_opt(w, CD_BOOL)}};
  return cd_t_record(w, 4, fields);
}

static void write_header(cd_writer *w, const char *name, const void *value, size_t size) {
  cd_w_record_begin(w);
  cd_w_cstr(w, name);
  cd_w_text(w, value, size);
  cd_w_record_end(w);
}

/* The HTTP gateway's query: HttpRequest -> HttpResponse, certified (v2 or v1) when a stored
 * response matches, else 404 uncertified. reply headers gain x-witness-instructions. */
__attribute__((export_name("canister_query http_request"))) void http_request(void) {
  rt_message_begin();
  size_t size;
  const uint8_t *arg = rt_arg(&size);
  cd_reader r;
  cd_val request, url_val;
  const char *url_text = 0;
  size_t url_size = 0;
  if (!cd_read_begin(&r, arg, size) || !cd_arg(&r, 0, &request) || !cd_field(&r, request, "url", &url_val) ||
      !cd_text(&r, url_val, &url_text, &url_size)) {
    rt_rejectf("invalid argument: %s", r.error ? r.error : "no url");
    return;
  }
  size_t path_size = 0;
  while (path_size < url_size && url_text[path_size] != '?' && url_text[path_size] != '#') path_size++;
  char *url = rt_scratch(path_size + 1, 1);
  memcpy(url, url_text, path_size);
  ct_path *paths = rt_scratch((MAX_DEPTH + 2) * sizeof *paths, 8);
  size_t n_paths;
  const response *e = route(url, paths, &n_paths);
  cd_writer w;
  cd_writer_init(&w);
  cd_w_arg(&w, http_response_type(&w));
  cd_w_record_begin(&w);
  if (!e) {
    cd_w_nat16(&w, 404);
    cd_w_vec_begin(&w, 0);
    cd_w_vec_end(&w);
    cd_w_blob(&w, "not found", 9);
    cd_w_opt_none(&w);
    cd_w_record_end(&w);
    cd_reply(&w);
    return;
  }
  rt_buf tree_cbor = {0}, certificate = {0}, header = {0};
  uint64_t t0 = ic0_performance_counter(0);
  ct_witness(the_tree(), paths, n_paths, &tree_cbor);
  uint64_t witness_cost = ic0_performance_counter(0) - t0;
  if (!hc_data_certificate(&certificate)) rt_trap("http_request: no data certificate (call it as a query)");
  ct_label expr[MAX_DEPTH];
  size_t depth = e->mode == 2 ? 0 : hc_expr_path(e->url, e->mode, expr, MAX_DEPTH);
  hc_certificate_header(certificate.data, certificate.size, tree_cbor.data, tree_cbor.size, expr, depth, &header);
  char cost[24];
  size_t cost_size = rt_format(cost, sizeof cost, "%llu", (unsigned long long)witness_cost);
  cd_w_nat16(&w, e->status);
  cd_w_vec_begin(&w, e->n_headers + 2);
  for (uint32_t i = 0; i < e->n_headers; i++)
    write_header(&w, e->headers[i].name, e->headers[i].value, strlen(e->headers[i].value));
  write_header(&w, "ic-certificate", header.data, header.size);
  write_header(&w, "x-witness-instructions", cost, cost_size);
  cd_w_vec_end(&w);
  cd_w_blob(&w, e->body, e->body_size);
  cd_w_opt_none(&w);
  cd_w_record_end(&w);
  cd_reply(&w);
}

/* ---- allocator probe: numbered slots, each holding a block filled with a seeded pattern ---- */

#define SLOTS 256
static uint8_t *slot_ptr[SLOTS];
static uint32_t slot_size[SLOTS];
static uint8_t slot_seed[SLOTS];

static uint8_t pattern(uint8_t seed, uint32_t j) { return (uint8_t)(seed + j * 31 + (j >> 8)); }
static void fill(uint32_t s) {
  for (uint32_t j = 0; j < slot_size[s]; j++) slot_ptr[s][j] = pattern(slot_seed[s], j);
}
static uint32_t first_mismatch(uint32_t s, uint32_t n) { /* n if the first n bytes hold the pattern */
  for (uint32_t j = 0; j < n; j++)
    if (slot_ptr[s][j] != pattern(slot_seed[s], j)) return j;
  return n;
}

/* arg: u32 n | n x (u8 op | u32 slot | u32 size | u8 seed): op 0 malloc, 1 free, 2 realloc,
 * 3 calloc (malloc/calloc into a used slot free it first). realloc checks the kept prefix and
 * calloc the zeroes (trap on a mismatch); then the block is filled with the seed's pattern.
 * reply: u64 rt_heap_used | u64 rt_malloc_live | per slot: u32 address | u32 size | u32 usable. */
__attribute__((export_name("canister_update alloc_ops"))) void alloc_ops(void) {
  rt_message_begin();
  reader r = arg_reader();
  uint32_t n = get_u32(&r);
  for (uint32_t i = 0; i < n && !r.bad; i++) {
    uint8_t op = get_u8(&r);
    uint32_t s = get_u32(&r), size = get_u32(&r);
    uint8_t seed = get_u8(&r);
    if (r.bad || s >= SLOTS || op > 3 || size > (64u << 20)) rt_trap("alloc_ops: malformed operation");
    if (op == 1) {
      rt_free(slot_ptr[s]);
      slot_ptr[s] = 0;
      slot_size[s] = 0;
      continue;
    }
    if (op == 2) {
      uint32_t keep = size < slot_size[s] ? size : slot_size[s];
      slot_ptr[s] = rt_realloc(slot_ptr[s], size);
      if (first_mismatch(s, keep) != keep) rt_trapf("realloc lost byte %u of slot %u", first_mismatch(s, keep), s);
    } else {
      rt_free(slot_ptr[s]);
      slot_ptr[s] = op == 3 ? rt_calloc(size, 1) : rt_malloc(size);
      if (op == 3)
        for (uint32_t j = 0; j < size; j++)
          if (slot_ptr[s][j]) rt_trapf("calloc byte %u is not zero", j);
    }
    slot_size[s] = size;
    slot_seed[s] = seed;
    fill(s);
  }
  if (r.bad || r.at != r.end) rt_trap("alloc_ops: malformed operations");
  rt_buf out = {0};
  put_u64(&out, rt_heap_used());
  put_u64(&out, rt_malloc_live());
  for (uint32_t s = 0; s < SLOTS; s++) {
    put_u32(&out, (uint32_t)(size_t)slot_ptr[s]);
    put_u32(&out, slot_size[s]);
    put_u32(&out, slot_ptr[s] ? (uint32_t)rt_malloc_usable(slot_ptr[s]) : 0);
  }
  rt_reply(out.data, out.size);
}

/* reply: per slot: u8 seed | sha256 of its bytes [32] (the test recomputes the pattern). */
__attribute__((export_name("canister_query alloc_contents"))) void alloc_contents(void) {
  rt_message_begin();
  rt_buf out = {0};
  for (uint32_t s = 0; s < SLOTS; s++) {
    uint8_t digest[32];
    sha256(slot_ptr[s] ? slot_ptr[s] : (uint8_t *)"", slot_size[s], digest);
    rt_buf_byte(&out, slot_seed[s]);
    rt_buf_append(&out, digest, 32);
  }
  rt_reply(out.data, out.size);
}

/* arg: u8 what: 0 double free, 1 a pointer rt_malloc never returned. Traps with the reason. */
__attribute__((export_name("canister_update alloc_misuse"))) void alloc_misuse(void) {
  rt_message_begin();
  reader r = arg_reader();
  uint8_t what = get_u8(&r);
  uint8_t *p = rt_malloc(40);
  if (what == 0) {
    rt_free(p);
    rt_free(p);
  } else {
    rt_free(p + 16);
  }
  rt_reply("", 0);
}
