/* http_cert.c: tree paths, expressions, response hashes and IC-Certificate headers (http_cert.h). */
#include "http_cert.h"

#include "cbor.h"
#include "sha256.h"

static const char EXPR_PREFIX[] = "http_expr", EXACT[] = "<$>", WILDCARD[] = "<*>", ASSETS[] = "http_assets";
static const ct_label EMPTY_LABEL = {(const uint8_t *)"", 0};

static ct_label label_of(const char *s, size_t n) {
  ct_label l = {(const uint8_t *)s, (uint32_t)n};
  return l;
}

/* The request path's segments (gateway_v2.request_segments, without the prefix) into
 * labels[0..max); returns their count, or max + 1 if they do not fit. */
static size_t segments(const char *url_path, ct_label *labels, size_t max) {
  size_t n = 0, len = strlen(url_path);
  for (size_t i = 0; i < len;) {
    if (url_path[i] == '/') {
      i++;
      continue;
    }
    size_t start = i;
    while (i < len && url_path[i] != '/') i++;
    if (n == max) return max + 1;
    labels[n++] = label_of(url_path + start, i - start);
    if (i - start == 3 && url_path[start] == '<' && url_path[start + 2] == '>' &&
        (url_path[start + 1] == '$' || url_path[start + 1] == '*'))
      return max + 1; /* a segment "<$>" or "<*>": verifiers refuse such expression paths */
  }
  if (len && url_path[len - 1] == '/') {
    if (n == max) return max + 1;
    labels[n++] = EMPTY_LABEL;
  }
  return n;
}

size_t hc_expr_path(const char *url_path, int wildcard, ct_label *labels, size_t max) {
  if (max < 2) return 0;
  size_t n = segments(url_path, labels + 1, max - 2);
  if (n > max - 2) return 0;
  labels[0] = ct_str(EXPR_PREFIX);
  labels[n + 1] = ct_str(wildcard ? WILDCARD : EXACT);
  return n + 2;
}

size_t hc_expr_candidate(const char *url_path, size_t i, ct_label *labels, size_t max) {
  if (i == 0) return hc_expr_path(url_path, 0, labels, max);
  if (max < 2) return 0;
  ct_label *seg = labels + 1;
  size_t n = segments(url_path, seg, max - 2);
  if (n > max - 2) return 0;
  if (!n) seg[n++] = EMPTY_LABEL; /* "" is the root */
  for (size_t step = 1; step < i; step++) { /* a/b -> a/ -> a -> / : drop "", else end in "" */
    if (n == 1 && seg[0].size == 0) return 0; /* past the root wildcard */
    if (seg[n - 1].size == 0) n--;
    else seg[n - 1] = EMPTY_LABEL;
  }
  labels[0] = ct_str(EXPR_PREFIX);
  labels[n + 1] = ct_str(WILDCARD);
  return n + 2;
}

size_t hc_v2_leaf_path(const ct_label *expr_path, size_t depth, const uint8_t expr_hash[32],
                       const uint8_t response_hash[32], ct_label *out, size_t max) {
  if (depth + 3 > max) return 0;
  for (size_t i = 0; i < depth; i++) out[i] = expr_path[i];
  out[depth] = (ct_label){expr_hash, 32};
  out[depth + 1] = EMPTY_LABEL;
  out[depth + 2] = (ct_label){response_hash, 32};
  return depth + 3;
}

void hc_v1_path(const char *url_path, ct_label labels[2]) {
  labels[0] = ct_str(ASSETS);
  labels[1] = ct_str(url_path);
}

/* ---- expression ---- */

static const char EXPRESSION_HEAD[] =
    "default_certification(ValidationArgs{certification:Certification{no_request_certification:Empty{},"
    "response_certification:ResponseCertification{certified_response_headers:ResponseHeaderList{headers:[";
static const char EXPRESSION_TAIL[] = "]}}}})";

size_t hc_expression(const char *const *certified_headers, size_t n, char *out, size_t capacity) {
  size_t size = 0;
  int fits = 1;
#define EMIT(s, len)                                       \
  do {                                                     \
    size_t len_ = (len);                                   \
    if (size + len_ >= capacity) fits = 0;                 \
    else memcpy(out + size, (s), len_);                    \
    size += len_;                                          \
  } while (0)
  EMIT(EXPRESSION_HEAD, sizeof EXPRESSION_HEAD - 1);
  for (size_t i = 0; i < n; i++) {
    if (i) EMIT(",", 1);
    EMIT("\"", 1);
    EMIT(certified_headers[i], strlen(certified_headers[i]));
    EMIT("\"", 1);
  }
  EMIT(EXPRESSION_TAIL, sizeof EXPRESSION_TAIL - 1);
#undef EMIT
  if (!fits) {
    if (capacity) out[0] = 0;
    return 0;
  }
  out[size] = 0;
  return size;
}

void hc_sha256_text(const char *text, uint8_t out[32]) { sha256(text, strlen(text), out); }

/* ---- response hash: rih over (name, value) pairs, names lower-cased ---- */

static void sha256_lower(const char *s, uint8_t out[32]) {
  sha256_ctx ctx;
  sha256_init(&ctx);
  char piece[64];
  size_t n = 0;
  for (; *s; s++) {
    char c = *s;
    piece[n++] = c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
    if (n == sizeof piece) {
      sha256_update(&ctx, piece, n);
      n = 0;
    }
  }
  sha256_update(&ctx, piece, n);
  sha256_final(&ctx, out);
}

void hc_response_hash(uint16_t status, const hc_header *headers, size_t n, const uint8_t body_sha256[32],
                      uint8_t out[32]) {
  uint8_t (*pairs)[64] = rt_scratch((n + 1) * 64, 8);
  for (size_t i = 0; i < n; i++) {
    sha256_lower(headers[i].name, pairs[i]);
    hc_sha256_text(headers[i].value, pairs[i] + 32);
  }
  uint8_t leb[3];
  size_t nleb = 0;
  uint32_t v = status;
  do {
    leb[nleb] = v & 0x7f;
    v >>= 7;
    if (v) leb[nleb] |= 0x80;
    nleb++;
  } while (v);
  hc_sha256_text(":ic-cert-status", pairs[n]);
  sha256(leb, nleb, pairs[n] + 32);
  for (size_t i = 1; i <= n; i++) { /* insertion sort: a handful of headers */
    uint8_t x[64];
    memcpy(x, pairs[i], 64);
    size_t j = i;
    for (; j > 0 && memcmp(pairs[j - 1], x, 64) > 0; j--) memcpy(pairs[j], pairs[j - 1], 64);
    memcpy(pairs[j], x, 64);
  }
  uint8_t headers_hash[32];
  sha256(pairs, (n + 1) * 64, headers_hash);
  sha256_ctx ctx;
  sha256_init(&ctx);
  sha256_update(&ctx, headers_hash, 32);
  sha256_update(&ctx, body_sha256, 32);
  sha256_final(&ctx, out);
}

/* ---- the IC-Certificate header ---- */

int hc_data_certificate(rt_buf *out) {
  if (!ic0_data_certificate_present()) return 0;
  size_t size = ic0_data_certificate_size();
  rt_buf_reserve(out, size);
  ic0_data_certificate_copy(out->data + out->size, 0, size);
  out->size += size;
  return 1;
}

void hc_base64(const uint8_t *data, size_t size, rt_buf *out) {
  static const char table[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  rt_buf_reserve(out, (size + 2) / 3 * 4);
  char *o = (char *)out->data + out->size;
  size_t i = 0;
  for (; i + 3 <= size; i += 3) {
    uint32_t v = (uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8 | data[i + 2];
    *o++ = table[v >> 18];
    *o++ = table[v >> 12 & 63];
    *o++ = table[v >> 6 & 63];
    *o++ = table[v & 63];
  }
  if (i < size) {
    uint32_t v = (uint32_t)data[i] << 16 | (i + 1 < size ? (uint32_t)data[i + 1] << 8 : 0);
    *o++ = table[v >> 18];
    *o++ = table[v >> 12 & 63];
    *o++ = i + 1 < size ? table[v >> 6 & 63] : '=';
    *o++ = '=';
  }
  out->size = (size_t)((uint8_t *)o - out->data);
}

void hc_certificate_header(const uint8_t *certificate, size_t cert_size, const uint8_t *tree_cbor,
                           size_t tree_size, const ct_label *expr_path, size_t depth, rt_buf *out) {
  rt_buf_append(out, "certificate=:", 13);
  hc_base64(certificate, cert_size, out);
  rt_buf_append(out, ":, tree=:", 9);
  hc_base64(tree_cbor, tree_size, out);
  rt_buf_append(out, ":", 1);
  if (!expr_path || !depth) return;
  rt_buf path = {0};
  cbor_head(&path, CBOR_ARRAY, depth);
  for (size_t i = 0; i < depth; i++) cbor_text(&path, expr_path[i].data, expr_path[i].size);
  rt_buf_append(out, ", expr_path=:", 13);
  hc_base64(path.data, path.size, out);
  rt_buf_append(out, ":, version=2", 12);
}
