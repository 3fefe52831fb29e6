/* principal.h: principals as the canisters keep them (the caller of a message, the owner of a KV
 * slot, an allow-listed or budgeted principal, a canister called) and as people read them
 * (textual form). */
#ifndef ACCESS_PRINCIPAL_H
#define ACCESS_PRINCIPAL_H

#include <stddef.h>
#include <stdint.h>

#define PRINCIPAL_MAX_BYTES 29
#define PRINCIPAL_TEXT_BYTES 64 /* 29 bytes: 53 base32 characters + 10 dashes + NUL */

typedef struct {
  uint8_t bytes[PRINCIPAL_MAX_BYTES];
  size_t size;
} principal_id;

principal_id caller_id(void);
int is_anonymous(const principal_id *p);
int same_principal(const principal_id *a, const principal_id *b);
/* The textual form ("2vxsx-fae" for the anonymous principal): CRC-32 of the bytes in front of
 * them, base32 (lowercase, no padding), dashes every five characters. */
void principal_text(const principal_id *p, char out[PRINCIPAL_TEXT_BYTES]);

#endif
