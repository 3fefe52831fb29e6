/* http.c: http_request and streaming callbacks over the asset store, certified (see http.h). */
#include "http.h"

#include "alloc.h"
#include "candid_reader.h"
#include "candid_writer.h"
#include "certtree.h"
#include "http_cert.h"
#include "rt.h"
#include "sha256.h"
#include "store.h"

#define MAX_RESPONSE_HEADERS (AS_MAX_HEADERS + 8)
#define MAX_LABELS 72
#define FALLBACK_KEY "/index.html"

static ct_tree *tree;

/* 0 when equal, like strcmp (no libc here) */
static int streq_not(const char *a, const char *b) {
  while (*a && *a == *b) a++, b++;
  return *a != *b;
}
static const char NOT_FOUND_BODY[] = "404 Not Found\n";

/* ================================ response headers ================================ */

/* The headers an answer carries, IC-CertificateExpression last (certified, and the names it lists
 * are all the others: what is served is what is certified). Strings live in scratch. */
typedef struct {
  hc_header h[MAX_RESPONSE_HEADERS + 1];
  size_t n;
  char expression[4096 + 64 * MAX_RESPONSE_HEADERS];
} response_headers;

static char *scratch_text(const char *s, size_t n) {
  char *out = rt_scratch(n + 1, 1);
  memcpy(out, s, n);
  return out;
}

static char *lower(const char *s) {
  size_t n = strlen(s);
  char *out = scratch_text(s, n);
  for (size_t i = 0; i < n; i++)
    if (out[i] >= 'A' && out[i] <= 'Z') out[i] = (char)(out[i] + 32);
  return out;
}

static void set_header(response_headers *r, const char *name, const char *value) {
  for (size_t i = 0; i < r->n; i++) {
    if (!streq_not(r->h[i].name, name)) { /* a later header of the same name replaces the earlier */
      r->h[i].value = value;
      return;
    }
  }
  if (r->n < MAX_RESPONSE_HEADERS) r->h[r->n++] = (hc_header){name, value};
}

static void hex(const uint8_t *bytes, size_t n, char *out) {
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = "0123456789abcdef"[bytes[i] >> 4];
    out[2 * i + 1] = "0123456789abcdef"[bytes[i] & 15];
  }
  out[2 * n] = 0;
}

static char *etag_of(const as_encoding *e) {
  char *out = rt_scratch(67, 1);
  out[0] = '"';
  hex(e->sha256, 32, out + 1);
  out[65] = '"';
  return out;
}

/* Headers for `e` of `a` with `status` 200 or 304 (no Content-Encoding: there is no body). */
static void asset_headers(const as_asset *a, const as_encoding *e, int status, response_headers *r) {
  r->n = 0;
  set_header(r, "content-type", a->content_type);
  if (status == 200 && streq_not(e->name, "identity")) set_header(r, "content-encoding", e->name);
  if (a->has_max_age) {
    char *cc = rt_scratch(32, 1);
    rt_format(cc, 32, "max-age=%llu", (unsigned long long)a->max_age);
    set_header(r, "cache-control", cc);
  }
  set_header(r, "etag", etag_of(e));
  for (uint32_t i = 0; i < a->n_headers; i++) {
    const char *name = lower(a->headers[i].name);
    if (!streq_not(name, "content-encoding") || !streq_not(name, "etag") || !streq_not(name, "ic-certificate") ||
        !streq_not(name, "ic-certificateexpression"))
      continue; /* the store decides these */
    set_header(r, name, a->headers[i].value);
  }
}

static void not_found_headers(response_headers *r) {
  r->n = 0;
  set_header(r, "content-type", "text/plain; charset=utf-8");
}

/* Append IC-CertificateExpression (over every header so far) to r. */
static void add_expression(response_headers *r) {
  const char *names[MAX_RESPONSE_HEADERS];
  for (size_t i = 0; i < r->n; i++) names[i] = r->h[i].name;
  if (!hc_expression(names, r->n, r->expression, sizeof r->expression)) rt_trap("certificate expression too long");
  r->h[r->n++] = (hc_header){"ic-certificateexpression", r->expression};
}

typedef struct {
  uint8_t expr_hash[32], response_hash[32];
} v2_hashes;

static void v2_hashes_of(response_headers *r, uint16_t status, const uint8_t body_sha[32], v2_hashes *out) {
  hc_sha256_text(r->expression, out->expr_hash);
  hc_response_hash(status, r->h, r->n, body_sha, out->response_hash);
}

static const uint8_t *empty_sha256(void) {
  static uint8_t digest[32];
  static int done;
  if (!done) {
    sha256("", 0, digest);
    done = 1;
  }
  return digest;
}

static const uint8_t *not_found_sha256(void) {
  static uint8_t digest[32];
  static int done;
  if (!done) {
    sha256(NOT_FOUND_BODY, sizeof NOT_FOUND_BODY - 1, digest);
    done = 1;
  }
  return digest;
}

/* ================================ the certification tree ================================ */

static void put_leaf(const ct_label *expr, size_t depth, const v2_hashes *h) {
  ct_label path[MAX_LABELS];
  size_t n = hc_v2_leaf_path(expr, depth, h->expr_hash, h->response_hash, path, MAX_LABELS);
  if (!n) rt_trap("certification path too deep");
  ct_put(tree, (ct_path){path, n}, "", 0);
}

/* Put the 200 and 304 answers of every encoding of `a` under the expression path `expr`. */
static void put_asset_answers(const as_asset *a, const ct_label *expr, size_t depth) {
  for (uint32_t k = 0; k < a->n_encodings; k++) {
    const as_encoding *e = &a->encodings[k];
    size_t mark = rt_mark();
    response_headers *r = rt_scratch(sizeof *r, 8);
    v2_hashes h;
    asset_headers(a, e, 200, r);
    add_expression(r);
    v2_hashes_of(r, 200, e->sha256, &h);
    put_leaf(expr, depth, &h);
    asset_headers(a, e, 304, r);
    add_expression(r);
    v2_hashes_of(r, 304, empty_sha256(), &h);
    put_leaf(expr, depth, &h);
    rt_release(mark);
  }
}

/* The fallback wildcard: the root-most candidate, ["http_expr", "", "<*>"]. */
static size_t fallback_path(ct_label *labels) {
  size_t depth = 0, d;
  for (size_t i = 0; (d = hc_expr_candidate("/", i, labels, MAX_LABELS)); i++) depth = d;
  if (!depth) rt_trap("no fallback expression path");
  return depth;
}

static void certify_fallback(void) {
  ct_label expr[MAX_LABELS];
  size_t depth = fallback_path(expr);
  ct_remove(tree, (ct_path){expr, depth});
  size_t mark = rt_mark();
  response_headers *r = rt_scratch(sizeof *r, 8);
  not_found_headers(r);
  add_expression(r);
  v2_hashes h;
  v2_hashes_of(r, 404, not_found_sha256(), &h);
  put_leaf(expr, depth, &h);
  rt_release(mark);
  as_asset *index = as_find(FALLBACK_KEY, sizeof FALLBACK_KEY - 1);
  if (index) put_asset_answers(index, expr, depth);
}

static const as_encoding *v1_encoding(as_asset *a) {
  const as_encoding *e = as_encoding_of(a, "identity", 8);
  return e ? e : (a->n_encodings ? &a->encodings[0] : 0);
}

static void certify_key(const char *key) {
  ct_label v1[2], expr[MAX_LABELS];
  hc_v1_path(key, v1);
  ct_remove(tree, (ct_path){v1, 2});
  size_t depth = hc_expr_path(key, 0, expr, MAX_LABELS);
  if (depth) ct_remove(tree, (ct_path){expr, depth});
  as_asset *a = as_find(key, strlen(key));
  if (a && a->n_encodings) {
    ct_put(tree, (ct_path){v1, 2}, v1_encoding(a)->sha256, 32);
    if (depth) put_asset_answers(a, expr, depth);
  }
  if (!streq_not(key, FALLBACK_KEY)) certify_fallback();
}

static void publish(void) {
  uint8_t root[32];
  ct_root_hash(tree, root);
  ic0_certified_data_set(root, 32);
}

static void on_change(const char *key, size_t size) {
  if (!key) {
    if (tree) ct_delete(tree);
    tree = ct_new();
    for (size_t i = 0; i < as_count(); i++) certify_key(as_at(i)->key);
    certify_fallback();
  } else {
    certify_key(scratch_text(key, size));
  }
  publish();
}

void ah_init(void) {
  as_on_change = on_change;
  on_change(0, 0);
}

void ah_asset_witness(const char *key, rt_buf *out) {
  ct_label v1[2] = {{(const uint8_t *)"http_assets", 11}, {(const uint8_t *)key, (uint32_t)strlen(key)}};
  ct_path path = {v1, 2};
  ct_witness(tree, &path, 1, out);
}

/* ================================ requests ================================ */

static int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* The URL's path, percent-decoded; the raw path if decoding would give a NUL or bad escape. */
static char *request_path(const char *url, size_t n) {
  size_t end = 0;
  while (end < n && url[end] != '?' && url[end] != '#') end++;
  char *out = rt_scratch(end + 2, 1);
  size_t m = 0;
  int ok = 1;
  for (size_t i = 0; i < end; i++) {
    if (url[i] == '%' && i + 2 < end) {
      int hi = hex_digit(url[i + 1]), lo = hex_digit(url[i + 2]);
      if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) ok = 0;
      else {
        out[m++] = (char)(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    if (url[i] == 0) ok = 0;
    out[m++] = url[i];
  }
  if (!ok) {
    m = 0;
    for (size_t i = 0; i < end; i++) out[m++] = url[i] ? url[i] : '?';
  }
  if (!m) out[m++] = '/';
  out[m] = 0;
  return out;
}

static int ieq(const char *a, size_t na, const char *b) {
  size_t nb = strlen(b);
  if (na != nb) return 0;
  for (size_t i = 0; i < na; i++) {
    char x = a[i] >= 'A' && a[i] <= 'Z' ? (char)(a[i] + 32) : a[i];
    if (x != b[i]) return 0;
  }
  return 1;
}

static int is_space(char c) { return c == ' ' || c == '\t'; }

/* Whether a comma-separated header (Accept-Encoding) accepts `coding`: listed (or "*") without q=0. */
static int accepts(const char *value, size_t n, const char *coding) {
  size_t i = 0;
  while (i < n) {
    while (i < n && (is_space(value[i]) || value[i] == ',')) i++;
    size_t start = i;
    while (i < n && value[i] != ',' && value[i] != ';' && !is_space(value[i])) i++;
    size_t len = i - start;
    int zero = 0;
    while (i < n && value[i] != ',') { /* parameters: look for q=0 */
      if (value[i] == 'q' && i + 1 < n && value[i + 1] == '=') {
        size_t j = i + 2;
        while (j < n && is_space(value[j])) j++;
        zero = j < n && value[j] == '0';
        for (j++; zero && j < n && value[j] != ',' && value[j] != ';' && !is_space(value[j]); j++)
          if (value[j] != '0' && value[j] != '.') zero = 0;
      }
      i++;
    }
    if (len && !zero && (ieq(value + start, len, coding) || (len == 1 && value[start] == '*'))) return 1;
  }
  return 0;
}

/* Whether If-None-Match lists `etag` (weak or strong) or "*". */
static int matches_etag(const char *value, size_t n, const char *etag) {
  size_t i = 0, elen = strlen(etag);
  while (i < n) {
    while (i < n && (is_space(value[i]) || value[i] == ',')) i++;
    if (i + 2 <= n && value[i] == 'W' && value[i + 1] == '/') i += 2;
    size_t start = i;
    while (i < n && value[i] != ',' && !is_space(value[i])) i++;
    size_t len = i - start;
    if ((len == 1 && value[start] == '*') || (len == elen && !memcmp(value + start, etag, elen))) return 1;
  }
  return 0;
}

/* The encoding to serve: gzip if the client accepts it, then identity, then whatever exists. */
static const as_encoding *choose_encoding(as_asset *a, const char *accept, size_t accept_size) {
  const as_encoding *gzip = as_encoding_of(a, "gzip", 4), *identity = as_encoding_of(a, "identity", 8);
  if (gzip && accept && accepts(accept, accept_size, "gzip")) return gzip;
  if (identity) return identity;
  return a->n_encodings ? &a->encodings[0] : 0;
}

/* An app route: the last segment has no '.' (so "/chat/settings" gets the page, "/x.js" a 404). */
static int is_app_route(const char *path) {
  const char *last = path;
  for (const char *p = path; *p; p++)
    if (*p == '/') last = p + 1;
  for (const char *p = last; *p; p++)
    if (*p == '.') return 0;
  return 1;
}

/* ================================ Candid of HttpResponse ================================ */

typedef struct {
  int32_t response, token, callback_response;
} http_types;

static http_types declare_types(cd_writer *w) {
  http_types t;
  int32_t blob = cd_t_vec(w, CD_NAT8), opt_blob = cd_t_opt(w, blob);
  cd_field_type token_fields[] = {{"key", CD_TEXT}, {"content_encoding", CD_TEXT}, {"index", CD_NAT}, {"sha256", opt_blob}};
  t.token = cd_t_record(w, 4, token_fields);
  int32_t opt_token = cd_t_opt(w, t.token);
  /* Records carrying a body are declared in field-id order (token < body; body < headers <
   * upgrade < streaming_strategy < status_code) and written in that order, so the Candid writer
   * never moves the megabytes of a body to sort the fields. */
  cd_field_type callback_fields[] = {{"token", opt_token}, {"body", blob}};
  t.callback_response = cd_t_record(w, 2, callback_fields);
  /* the official asset canister's callback answers the bare record (its .did says opt, which
   * Candid's opt rule accepts for it); the HTTP gateway protocol wants the bare record */
  int32_t func = cd_t_func(w, 1, &t.token, 1, &t.callback_response, 1);
  cd_field_type strategy_fields[] = {{"callback", func}, {"token", t.token}};
  int32_t callback = cd_t_record(w, 2, strategy_fields);
  cd_field_type variant_fields[] = {{"Callback", callback}};
  int32_t strategy = cd_t_variant(w, 1, variant_fields);
  cd_field_type header_fields[] = {{"0", CD_TEXT}, {"1", CD_TEXT}};
  int32_t headers = cd_t_vec(w, cd_t_record(w, 2, header_fields));
  int32_t opt_strategy = cd_t_opt(w, strategy), opt_bool = cd_t_opt(w, CD_BOOL);
  cd_field_type response_fields[] = {{"body", blob}, {"headers", headers}, {"upgrade", opt_bool},
                                     {"streaming_strategy", opt_strategy}, {"status_code", CD_NAT16}};
  t.response = cd_t_record(w, 5, response_fields);
  return t;
}

static void write_token(cd_writer *w, const as_asset *a, const as_encoding *e, uint64_t index) {
  cd_w_record_begin(w);
  cd_w_text(w, a->key, a->key_size);
  cd_w_cstr(w, e->name);
  cd_w_nat(w, index);
  cd_w_opt_some(w);
  cd_w_blob(w, e->sha256, 32);
  cd_w_record_end(w);
}

/* ================================ http_request ================================ */

typedef struct {
  const char *accept, *if_none_match, *host, *url;
  size_t accept_size, if_none_match_size, host_size, url_size;
  int version;
  char *path;
} request;

static int read_request(request *q) {
  size_t size;
  const uint8_t *data = rt_arg(&size);
  cd_reader r;
  cd_val arg, f, headers, e, k, v, inner;
  if (!cd_read_begin(&r, data, size) || !cd_arg(&r, 0, &arg)) goto bad;
  const char *url = 0;
  size_t url_size = 0;
  if (!cd_field(&r, arg, "url", &f) || !cd_text(&r, f, &url, &url_size)) goto bad;
  memset(q, 0, sizeof *q);
  q->version = 1;
  if (cd_field(&r, arg, "certificate_version", &f) && cd_opt(&r, f, &inner)) {
    uint32_t version;
    if (!cd_nat32(&r, inner, &version)) goto bad;
    q->version = version >= 2 ? 2 : 1;
  }
  size_t n;
  if (cd_field(&r, arg, "headers", &headers) && cd_vec(&r, headers, &n, &e)) {
    for (size_t i = 0; i < n; i++) {
      const char *name, *value;
      size_t name_size, value_size;
      if (!cd_field(&r, e, "0", &k) || !cd_field(&r, e, "1", &v) || !cd_text(&r, k, &name, &name_size) ||
          !cd_text(&r, v, &value, &value_size))
        goto bad;
      if (ieq(name, name_size, "accept-encoding")) {
        q->accept = value;
        q->accept_size = value_size;
      } else if (ieq(name, name_size, "if-none-match")) {
        q->if_none_match = value;
        q->if_none_match_size = value_size;
      } else if (ieq(name, name_size, "host")) {
        q->host = value;
        q->host_size = value_size;
      }
      if (i + 1 < n && !cd_next(&r, &e)) goto bad;
    }
  }
  if (r.error) goto bad;
  q->url = url;
  q->url_size = url_size;
  q->path = request_path(url, url_size);
  return 1;
bad:
  rt_rejectf("invalid argument: %s", r.error ? r.error : "expected an HttpRequest record");
  return 0;
}

typedef struct {
  ct_path paths[MAX_LABELS + 4];
  size_t n;
  ct_label labels[(MAX_LABELS + 4) * MAX_LABELS];
  size_t used;
} witness_paths;

static ct_label *path_slot(witness_paths *w) { return w->labels + w->used; }
static void add_path(witness_paths *w, size_t depth) {
  w->paths[w->n++] = (ct_path){w->labels + w->used, depth};
  w->used += depth;
}

static void write_certificate(response_headers *r, witness_paths *wp, const ct_label *expr, size_t depth, int v2,
                              hc_header *out_header) {
  rt_buf cert = {0};
  if (!hc_data_certificate(&cert)) return; /* no certificate in replicated mode: serve uncertified */
  rt_buf witness = {0};
  ct_witness(tree, wp->paths, wp->n, &witness);
  rt_buf header = {0};
  hc_certificate_header(cert.data, cert.size, witness.data, witness.size, v2 ? expr : 0, v2 ? depth : 0, &header);
  rt_buf_byte(&header, 0);
  *out_header = (hc_header){"ic-certificate", (const char *)header.data};
  (void)r;
}

/* body NULL: the first window of `e` (body_size bytes), read from stable memory straight into the reply. */
static void reply_response(uint16_t status, response_headers *r, hc_header *cert, const uint8_t *body, size_t body_size,
                           const as_asset *a, const as_encoding *e, int stream) {
  cd_writer w;
  cd_writer_init(&w);
  cd_w_reserve(&w, body_size + 65536);
  http_types t = declare_types(&w);
  cd_w_arg(&w, t.response);
  cd_w_record_begin(&w); /* fields in declaration (= id) order: body, headers, upgrade, streaming_strategy, status_code */
  if (body) cd_w_blob(&w, body, body_size);
  else as_read_window_into(e, 0, cd_w_blob_space(&w, body_size)); /* the content's first window */
  cd_w_vec_begin(&w, r->n + (cert->name ? 1 : 0));
  for (size_t i = 0; i < r->n; i++) {
    cd_w_record_begin(&w);
    cd_w_cstr(&w, r->h[i].name);
    cd_w_cstr(&w, r->h[i].value);
    cd_w_record_end(&w);
  }
  if (cert->name) {
    cd_w_record_begin(&w);
    cd_w_cstr(&w, cert->name);
    cd_w_cstr(&w, cert->value);
    cd_w_record_end(&w);
  }
  cd_w_vec_end(&w);
  cd_w_opt_none(&w); /* upgrade */
  if (stream) {
    cd_w_opt_some(&w);
    cd_w_variant(&w, "Callback");
    cd_w_record_begin(&w);
    uint8_t self[29];
    size_t self_size = ic0_canister_self_size();
    ic0_canister_self_copy(self, 0, self_size);
    cd_w_func(&w, self, self_size, "http_request_streaming_callback");
    write_token(&w, a, e, 1);
    cd_w_record_end(&w);
  } else {
    cd_w_opt_none(&w);
  }
  cd_w_nat16(&w, status);
  cd_w_record_end(&w);
  cd_reply_in_place(&w);
}

/* ================================ raw domains ================================ */

/* A gateway serves `<id>.raw.<domain>` without verifying the canister's certificate. An asset whose
 * allow_raw_access is false is not served there: the request is redirected (308, as the official
 * asset canister does) to the same path and query on the certified domain, `<id>.<domain>`. The
 * official canister recognises the IC's raw domains (Host holding ".raw.ic": raw.icp0.io,
 * raw.ic0.app); the local gateway's `<id>.raw.localhost[:port]` is one too. */
static const struct {
  const char *suffix, *scheme;
} RAW_DOMAINS[] = {{".raw.icp0.io", "https"}, {".raw.ic0.app", "https"}, {".raw.localhost", "http"}};

static int is_host_char(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.'; }

/* The certified URL for a request on a raw domain, in scratch memory (NUL-terminated), or NULL
 * when the Host is not `<label>.raw.<domain>[:port]` for a raw domain above. */
static char *certified_location(const request *q) {
  if (!q->host) return 0;
  size_t name_size = 0; /* the host name, without the port */
  while (name_size < q->host_size && q->host[name_size] != ':') name_size++;
  char *name = scratch_text(q->host, name_size);
  for (size_t i = 0; i < name_size; i++) {
    if (name[i] >= 'A' && name[i] <= 'Z') name[i] = (char)(name[i] + 32);
    if (!is_host_char(name[i])) return 0;
  }
  for (size_t i = name_size + 1; i < q->host_size; i++) /* the port: digits only */
    if (q->host[i] < '0' || q->host[i] > '9') return 0;
  for (size_t d = 0; d < sizeof RAW_DOMAINS / sizeof RAW_DOMAINS[0]; d++) {
    size_t n = strlen(RAW_DOMAINS[d].suffix);
    if (name_size <= n || memcmp(name + name_size - n, RAW_DOMAINS[d].suffix, n)) continue;
    /* scheme :// label . domain-without-".raw" :port url, with the URL's unsafe bytes escaped */
    size_t label = name_size - n, capacity = 16 + q->host_size + 3 * q->url_size + 2;
    char *out = rt_scratch(capacity, 1);
    size_t m = rt_format(out, capacity, "%s://", RAW_DOMAINS[d].scheme);
    memcpy(out + m, name, label);
    m += label;
    const char *domain = RAW_DOMAINS[d].suffix + 4; /* ".raw.icp0.io" -> ".icp0.io" */
    memcpy(out + m, domain, strlen(domain));
    m += strlen(domain);
    memcpy(out + m, q->host + name_size, q->host_size - name_size); /* ":port" or nothing */
    m += q->host_size - name_size;
    if (!q->url_size || q->url[0] != '/') out[m++] = '/';
    for (size_t i = 0; i < q->url_size; i++) { /* a header value stays one printable line */
      unsigned char c = (unsigned char)q->url[i];
      if (c > ' ' && c < 127) {
        out[m++] = (char)c;
      } else {
        out[m++] = '%';
        out[m++] = "0123456789ABCDEF"[c >> 4];
        out[m++] = "0123456789ABCDEF"[c & 15];
      }
    }
    out[m] = 0;
    return out;
  }
  return 0;
}

void ah_http_request(void) {
  request q;
  if (!read_request(&q)) return;
  as_asset *a = as_find(q.path, strlen(q.path));
  int fallback = 0;
  if (!a || !a->n_encodings) {
    as_asset *index = as_find(FALLBACK_KEY, sizeof FALLBACK_KEY - 1);
    if (index && index->n_encodings && (q.version == 1 || is_app_route(q.path))) {
      a = index;
      fallback = 1;
    } else {
      a = 0;
    }
  }
  witness_paths *wp = rt_scratch(sizeof *wp, 8);
  response_headers *r = rt_scratch(sizeof *r, 8);
  hc_header cert = {0, 0};
  /* On a raw domain, an asset with allow_raw_access false (the one asked for, else the page that
   * stands in for missing paths) is only answered with a redirect to the certified domain. */
  const as_asset *decides = a ? a : as_find(FALLBACK_KEY, sizeof FALLBACK_KEY - 1);
  char *location = decides && decides->allow_raw_access == 0 ? certified_location(&q) : 0;
  if (location) {
    r->n = 0;
    set_header(r, "location", location);
    reply_response(308, r, &cert, (const uint8_t *)"", 0, 0, 0, 0);
    return;
  }
  ct_label expr[MAX_LABELS];
  size_t depth = 0;
  if (q.version == 2 && (fallback || !a)) { /* prove the more specific paths absent */
    ct_label candidate[MAX_LABELS];
    size_t d, last = 0;
    for (size_t i = 0; (d = hc_expr_candidate(q.path, i, candidate, MAX_LABELS)); i++) {
      memcpy(path_slot(wp), candidate, d * sizeof *candidate);
      add_path(wp, d);
      last = d;
    }
    if (last) wp->n--, wp->used -= last; /* the last candidate is the fallback itself */
    depth = fallback_path(expr);
  } else if (q.version == 2) {
    depth = hc_expr_path(a->key, 0, expr, MAX_LABELS);
  }
  v2_hashes h; /* the witness paths point at these hashes until the reply is written */
  if (!a) { /* 404 */
    not_found_headers(r);
    if (q.version == 2) {
      add_expression(r);
      v2_hashes_of(r, 404, not_found_sha256(), &h);
      size_t n = hc_v2_leaf_path(expr, depth, h.expr_hash, h.response_hash, path_slot(wp), MAX_LABELS);
      add_path(wp, n);
    } else {
      ct_label *v1 = path_slot(wp);
      hc_v1_path(q.path, v1);
      add_path(wp, 2);
    }
    write_certificate(r, wp, expr, depth, q.version == 2, &cert);
    reply_response(404, r, &cert, (const uint8_t *)NOT_FOUND_BODY, sizeof NOT_FOUND_BODY - 1, 0, 0, 0);
    return;
  }
  const as_encoding *e = choose_encoding(a, q.accept, q.accept_size);
  int not_modified = q.version == 2 && q.if_none_match && matches_etag(q.if_none_match, q.if_none_match_size, etag_of(e));
  uint16_t status = not_modified ? 304 : 200;
  asset_headers(a, e, status, r);
  if (q.version == 2) {
    add_expression(r);
    v2_hashes_of(r, status, not_modified ? empty_sha256() : e->sha256, &h);
    size_t n = hc_v2_leaf_path(expr, depth, h.expr_hash, h.response_hash, path_slot(wp), MAX_LABELS);
    add_path(wp, n);
  } else {
    ct_label *v1 = path_slot(wp);
    hc_v1_path(a->key, v1);
    add_path(wp, 2);
  }
  write_certificate(r, wp, expr, depth, q.version == 2, &cert);
  if (not_modified) {
    reply_response(304, r, &cert, (const uint8_t *)"", 0, 0, 0, 0);
    return;
  }
  reply_response(200, r, &cert, 0, as_window_size(e, 0), a, e, as_windows(e) > 1);
}

/* ================================ the streaming callback ================================ */

void ah_streaming_callback(void) {
  size_t size;
  const uint8_t *data = rt_arg(&size);
  cd_reader r;
  cd_val arg, f, inner;
  const char *key = 0, *encoding = 0;
  size_t key_size = 0, encoding_size = 0;
  const uint8_t *sha = 0;
  size_t sha_size = 0;
  uint64_t index = 0;
  if (!cd_read_begin(&r, data, size) || !cd_arg(&r, 0, &arg) || !cd_field(&r, arg, "key", &f) ||
      !cd_text(&r, f, &key, &key_size) || !cd_field(&r, arg, "content_encoding", &f) ||
      !cd_text(&r, f, &encoding, &encoding_size) || !cd_field(&r, arg, "index", &f) || !cd_nat64(&r, f, &index)) {
    rt_rejectf("invalid argument: %s", r.error ? r.error : "expected a StreamingCallbackToken record");
    return;
  }
  if (cd_field(&r, arg, "sha256", &f) && cd_opt(&r, f, &inner) && !cd_blob(&r, inner, &sha, &sha_size)) {
    rt_rejectf("invalid argument: %s", r.error);
    return;
  }
  if (r.error) {
    rt_rejectf("invalid argument: %s", r.error);
    return;
  }
  as_asset *a = as_find(key, key_size);
  as_encoding *e = a ? as_encoding_of(a, encoding, encoding_size) : 0;
  if (!e) {
    rt_reject("streaming: no such asset or encoding (it was deleted or changed)");
    return;
  }
  if (sha && (sha_size != 32 || memcmp(sha, e->sha256, 32))) {
    rt_reject("streaming: the asset changed since the stream began (sha256 mismatch)");
    return;
  }
  if (index >= as_windows(e)) {
    rt_reject("streaming: chunk index out of bounds");
    return;
  }
  uint64_t n = as_window_size(e, index);
  cd_writer w;
  cd_writer_init(&w);
  cd_w_reserve(&w, n + 4096);
  http_types t = declare_types(&w);
  cd_w_arg(&w, t.callback_response);
  cd_w_record_begin(&w); /* token, then body (id order) */
  if (index + 1 < as_windows(e)) {
    cd_w_opt_some(&w);
    write_token(&w, a, e, index + 1);
  } else {
    cd_w_opt_none(&w);
  }
  as_read_window_into(e, index, cd_w_blob_space(&w, n)); /* straight from stable memory into the reply */
  cd_w_record_end(&w);
  cd_reply_in_place(&w);
}
