/* candid.c: what the Candid reader and writer share, see candid.h. */
#include "candid.h"

uint32_t cd_hash(const char *name) {
  /* A name of digits is a numeric id, as in Candid's text syntax (`record { 0 : text; 1 : text }`
   * is the tuple `record { text; text }`), so tuple fields can be named "0", "1", ... */
  const char *p = name;
  uint64_t id = 0;
  while (*p >= '0' && *p <= '9' && id <= 0xffffffffu) id = id * 10 + (uint64_t)(*p++ - '0');
  if (p != name && !*p && id <= 0xffffffffu) return (uint32_t)id;
  uint32_t h = 0;
  while (*name) h = h * 223 + (uint8_t)*name++;
  return h;
}

const char *cd_type_name(int32_t t) {
  static const char *const primitive[] = {"?", "null", "bool", "nat", "int", "nat8", "nat16", "nat32", "nat64",
                                          "int8", "int16", "int32", "int64", "float32", "float64", "text",
                                          "reserved", "empty", "opt", "vec", "record", "variant", "func", "service",
                                          "principal"};
  return t < 0 && t >= -24 ? primitive[-t] : "?";
}

