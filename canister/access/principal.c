/* principal.c: the caller and principals' textual form (principal.h). */
#include "principal.h"

#include "rt.h"

principal_id caller_id(void) {
  principal_id p;
  p.size = rt_caller(p.bytes);
  return p;
}

int is_anonymous(const principal_id *p) { return p->size == 1 && p->bytes[0] == 0x04; }

int same_principal(const principal_id *a, const principal_id *b) {
  return a->size == b->size && !memcmp(a->bytes, b->bytes, a->size);
}

/* CRC-32 (IEEE, reflected), bit by bit: a refusal formats one principal, no table needed. */
static uint32_t crc32(const uint8_t *data, size_t n) {
  uint32_t crc = 0xffffffffu;
  for (size_t i = 0; i < n; i++) {
    crc ^= data[i];
    for (int bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >> 1) ^ 0xedb88320u : crc >> 1;
  }
  return ~crc;
}

void principal_text(const principal_id *p, char out[PRINCIPAL_TEXT_BYTES]) {
  uint8_t raw[4 + PRINCIPAL_MAX_BYTES];
  uint32_t crc = crc32(p->bytes, p->size);
  raw[0] = (uint8_t)(crc >> 24), raw[1] = (uint8_t)(crc >> 16), raw[2] = (uint8_t)(crc >> 8), raw[3] = (uint8_t)crc;
  memcpy(raw + 4, p->bytes, p->size);
  size_t n = 4 + p->size, written = 0, chars = 0;
  uint32_t buffer = 0;
  int bits = 0;
  for (size_t i = 0; i <= n; i++) {
    if (i < n) buffer = buffer << 8 | raw[i], bits += 8;
    else if (bits) buffer <<= 5 - bits, bits = 5; /* the last partial group, padded with zero bits */
    while (bits >= 5) {
      bits -= 5;
      if (chars && chars % 5 == 0) out[written++] = '-';
      out[written++] = "abcdefghijklmnopqrstuvwxyz234567"[(buffer >> bits) & 31];
      chars++;
    }
  }
  out[written] = 0;
}
