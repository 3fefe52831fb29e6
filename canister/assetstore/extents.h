/* extents.h: space in stable memory, handed out as extents and freed back to a free list.
 *
 * Byte 0 .. EX_RESERVED-1 belong to the caller (a superblock); extents start above it, aligned to
 * EX_ALIGN bytes. Free extents are kept sorted by offset and merged with their neighbours, so
 * freed space is reused (first fit) before stable memory grows. The free list lives in the heap
 * and is not persisted: after an upgrade ex_rebuild derives it from the extents still in use.
 */
#ifndef EXTENTS_H
#define EXTENTS_H

#include <stddef.h>
#include <stdint.h>

#define EX_RESERVED 65536ull
#define EX_ALIGN 64ull

typedef struct {
  uint64_t offset, size; /* size as asked; the extent occupies it rounded up to EX_ALIGN */
} ex_extent;

/* An extent of `size` bytes (> 0), growing stable memory if needed; traps if it cannot grow. */
ex_extent ex_alloc(uint64_t size);
void ex_free(ex_extent e);
/* Forget all state and mark exactly `used` (any order, not overlapping) as taken. */
void ex_rebuild(const ex_extent *used, size_t n);
uint64_t ex_end(void);        /* first byte past the highest extent in use */
uint64_t ex_free_bytes(void); /* bytes on the free list (below ex_end) */

#endif /* EXTENTS_H */
