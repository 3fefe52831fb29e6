/* http_cert.h: certification of HTTP responses (HTTP Gateway Protocol spec, "Response Verification").
 *
 * v1: the tree label path ["http_assets", url_path] (url_path e.g. "/index.html", as bytes), leaf =
 *     sha256(body, identity decoded).
 * v2: `http_expr/<segments>/<$ or *>/<expr_hash>/<request hash or "">/<response hash>` -> leaf ""
 *     (empty). With no request certification the request-hash label is the empty label. Several
 *     response hashes may sit under one expression node (identity and gzip encodings, a 304), each
 *     its own label.
 */
#ifndef HTTP_CERT_H
#define HTTP_CERT_H

#include <stddef.h>
#include <stdint.h>

#include "certtree.h"
#include "rt.h"

typedef struct { const char *name; const char *value; } hc_header;   /* NUL-terminated */

/* v2 expression paths: ["http_expr", segments..., "<$>"] for an exact path ("/a/b" -> "a","b";
 * "/a/b/" -> "a","b",""; "/" -> ""), or ["http_expr", segments..., "<*>"] for a wildcard over a prefix.
 * Empty segments inside the path ("/a//b") are dropped, as the gateway does.
 * Fills labels (pointing into `url_path` and static strings) and returns the depth; 0 if more
 * than `max` labels would be needed, or if a segment is "<$>" or "<*>" (no verifier accepts it). */
size_t hc_expr_path(const char *url_path, int wildcard, ct_label *labels, size_t max);
/* The expression paths a verifier tries for a request path, most specific first (gateway_v2.py
 * validate_expression_path): i = 0 is the exact path, then wildcards ending at ["http_expr", "",
 * "<*>"], e.g. /a/b: a/b/<$>, a/b/<*>, a//<*>, a/<*>, /<*>. Serve the first one the tree holds and
 * put the ones before it in the witness (proven absent). Returns the depth, 0 past the last
 * candidate (or when more than `max` labels would be needed). */
size_t hc_expr_candidate(const char *url_path, size_t i, ct_label *labels, size_t max);
/* The v2 leaf path: expr_path + [expr_hash, "" (no request certification), response_hash], into
 * `out` (labels point at the caller's hashes). Returns depth + 3, or 0 if more than `max`. */
size_t hc_v2_leaf_path(const ct_label *expr_path, size_t depth, const uint8_t expr_hash[32],
                       const uint8_t response_hash[32], ct_label *out, size_t max);
/* The v1 path ["http_assets", url_path] into labels[2]. */
void hc_v1_path(const char *url_path, ct_label labels[2]);

/* The IC-CertificateExpression header value that certifies the listed response headers (names lower
 * case) and no request headers/query:  default_certification(ValidationArgs{certification:
 * Certification{no_request_certification: Empty{}, response_certification:
 * ResponseCertification{certified_response_headers: ResponseHeaderList{headers: ["content-type",...]}}}})
 * (written without spaces). Returns its length and NUL-terminates; 0 if it does not fit `capacity`. */
size_t hc_expression(const char *const *certified_headers, size_t n, char *out, size_t capacity);
void hc_sha256_text(const char *text, uint8_t out[32]);  /* expression hash = sha256(expression text) */
/* response hash = sha256(rih(certified response headers incl. ic-certificateexpression, :ic-cert-status) ||
 * sha256(body)) exactly as py/icchat/replica/http/gateway_v2.py computes it. `headers` are the headers
 * to certify (the caller passes exactly the certified ones plus IC-CertificateExpression); names are
 * lower-cased for hashing. */
void hc_response_hash(uint16_t status, const hc_header *headers, size_t n, const uint8_t body_sha256[32],
                      uint8_t out[32]);
/* The IC-Certificate header value: v1 "certificate=:<b64>:, tree=:<b64>:" or, with expr_path
 * (a v2 expression path, CBOR array of text), "certificate=:..:, tree=:..:, expr_path=:..:, version=2".
 * The certificate comes from ic0.data_certificate_copy (queries only; call hc_data_certificate).
 * expr_path NULL (or depth 0) gives v1. `out` is not NUL-terminated. */
int hc_data_certificate(rt_buf *out);          /* 0 if none is available (update calls) */
void hc_certificate_header(const uint8_t *certificate, size_t cert_size, const uint8_t *tree_cbor,
                           size_t tree_size, const ct_label *expr_path, size_t depth, rt_buf *out);

/* Standard base64 with padding (RFC 4648), appended to `out`. */
void hc_base64(const uint8_t *data, size_t size, rt_buf *out);

#endif /* HTTP_CERT_H */
