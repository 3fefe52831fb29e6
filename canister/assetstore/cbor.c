/* cbor.c: CBOR heads, byte and text strings (shortest-form lengths, as RFC 8949 "preferred"). */
#include "cbor.h"

void cbor_head(rt_buf *out, unsigned major, uint64_t value) {
  uint8_t head[9];
  size_t n;
  uint8_t m = (uint8_t)(major << 5);
  if (value < 24) {
    head[0] = m | (uint8_t)value;
    n = 1;
  } else if (value < 0x100) {
    head[0] = m | 24;
    head[1] = (uint8_t)value;
    n = 2;
  } else if (value < 0x10000) {
    head[0] = m | 25;
    head[1] = (uint8_t)(value >> 8);
    head[2] = (uint8_t)value;
    n = 3;
  } else if (value < 0x100000000ull) {
    head[0] = m | 26;
    for (int i = 0; i < 4; i++) head[1 + i] = (uint8_t)(value >> (24 - 8 * i));
    n = 5;
  } else {
    head[0] = m | 27;
    for (int i = 0; i < 8; i++) head[1 + i] = (uint8_t)(value >> (56 - 8 * i));
    n = 9;
  }
  rt_buf_append(out, head, n);
}

void cbor_bytes(rt_buf *out, const void *data, size_t size) {
  cbor_head(out, CBOR_BYTES, size);
  rt_buf_append(out, data, size);
}

void cbor_text(rt_buf *out, const void *text, size_t size) {
  cbor_head(out, CBOR_TEXT, size);
  rt_buf_append(out, text, size);
}

void cbor_self_describe(rt_buf *out) { rt_buf_append(out, "\xd9\xd9\xf7", 3); }
