/* http.h: serving the asset store over HTTP (http_request, the streaming callback) with response
 * certification v1 and v2, and the certification tree that goes with it.
 *
 * Tree, for every asset key K and each of its encodings E (response headers differ per encoding):
 *   http_assets/K                                     -> sha256 of the identity content (v1)
 *   http_expr/<segments of K>/<$>/<expr>/""/<200 E>   -> ""  (v2, and the 304 answer for E's ETag)
 *   http_expr//<*>/<expr>/""/<...>                    -> ""  (v2 fallback: /index.html per encoding
 *                                                            and its 304, and the 404 page)
 * certified_data is the tree's root hash, updated whenever an asset changes (as_on_change).
 *
 * Request rules: the URL path (query dropped, percent-decoded) names the key. Unknown paths whose
 * last segment has no '.' are app routes and get /index.html (200); others get 404. Certification
 * v1 cannot certify a status, so v1 clients get /index.html for every unknown path, as from the
 * official asset canister. gzip is served when Accept-Encoding allows it; If-None-Match with the
 * ETag (the served content's SHA-256 in quotes) gets 304 (v2 only; v1 gets 200). Bodies longer
 * than AS_WINDOW come as a first piece plus streaming callbacks, AS_WINDOW bytes per answer; the
 * certified hash covers the whole body.
 */
#ifndef ASSET_HTTP_H
#define ASSET_HTTP_H

#include "rt.h"

void ah_init(void);                 /* install the change hook; call before as_load */
void ah_http_request(void);         /* query http_request: reads the argument, replies */
void ah_streaming_callback(void);   /* query http_request_streaming_callback */
/* A witness (CBOR hash tree) revealing http_assets/<key>: the SHA-256 of the asset's identity
 * content, under the root hash that is the canister's certified data. With the data certificate
 * it proves to anyone holding the IC root key what the canister serves at `key`. */
void ah_asset_witness(const char *key, rt_buf *out);

#endif /* ASSET_HTTP_H */
