/* candid.h: Candid (https://github.com/dfinity/candid/blob/master/spec/Candid.md) for C canisters:
 * what the reader (candid_reader.h) and the writer (candid_writer.h) share — the type codes, field
 * ids and type names (candid.c). A canister includes the half it uses, or both.
 */
#ifndef CANDID_H
#define CANDID_H

#include <stddef.h>
#include <stdint.h>

/* Primitive type codes (negative, as on the wire); composite types are type-table indices ≥ 0. */
enum {
  CD_NULL = -1, CD_BOOL = -2, CD_NAT = -3, CD_INT = -4,
  CD_NAT8 = -5, CD_NAT16 = -6, CD_NAT32 = -7, CD_NAT64 = -8,
  CD_INT8 = -9, CD_INT16 = -10, CD_INT32 = -11, CD_INT64 = -12,
  CD_FLOAT32 = -13, CD_FLOAT64 = -14, CD_TEXT = -15, CD_RESERVED = -16, CD_EMPTY = -17,
  CD_PRINCIPAL = -24,
};
/* Composite type opcodes in the type table. */
enum { CD_OPT = -18, CD_VEC = -19, CD_RECORD = -20, CD_VARIANT = -21, CD_FUNC = -22, CD_SERVICE = -23 };

uint32_t cd_hash(const char *name); /* Candid field id of a name; a name of digits ("0", "1") is that numeric id (tuple fields) */
const char *cd_type_name(int32_t t); /* "nat32", "record", ... for a type code or opcode; "?" for others */
/* A primitive type code (what a type reference may name besides a table entry). */
static inline int cd_is_primitive(int64_t t) { return (t <= -1 && t >= -17) || t == CD_PRINCIPAL; }

#endif /* CANDID_H */
