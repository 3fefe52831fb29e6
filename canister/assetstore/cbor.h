/* cbor.h: the few CBOR (RFC 8949) writers hash trees and IC-Certificate headers need. */
#ifndef CBOR_H
#define CBOR_H

#include <stddef.h>
#include <stdint.h>

#include "rt.h"

enum { CBOR_UINT = 0, CBOR_BYTES = 2, CBOR_TEXT = 3, CBOR_ARRAY = 4, CBOR_TAG = 6 };

void cbor_head(rt_buf *out, unsigned major, uint64_t value); /* a major type with its argument, shortest form */
void cbor_bytes(rt_buf *out, const void *data, size_t size);
void cbor_text(rt_buf *out, const void *text, size_t size);
void cbor_self_describe(rt_buf *out);                        /* tag 55799: d9 d9 f7 */

#endif /* CBOR_H */
