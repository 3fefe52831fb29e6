/* alloc.h: a heap that can be freed, for long-lived data that changes (hash trees, asset
 * tables): size-class free lists on top of rt_alloc (rt.h).
 *
 * Every block has a 16-byte header before its payload (class, capacity, a live/free mark), so
 * payloads are 16-byte aligned. Small requests (≤ 64 KiB) round up to one of 4 classes per
 * doubling and reuse freed blocks of their class; larger ones take whole 64 KiB runs from a
 * free list of runs (best fit, split, adjacent runs merged on free). Memory never goes back to
 * rt_alloc, but nothing freed is lost: it is reused by later requests.
 * Misuse (freeing a pointer twice or one rt_malloc did not return) traps with the reason.
 */
#ifndef ALLOC_H
#define ALLOC_H

#include <stddef.h>

void *rt_malloc(size_t size);                 /* 16-byte aligned, NOT zeroed; size 0 gives a unique block */
void *rt_calloc(size_t count, size_t size);   /* zeroed; traps if count * size overflows */
void rt_free(void *p);                        /* NULL is a no-op */
void *rt_realloc(void *p, size_t size);       /* keeps min(old, new) bytes; NULL acts as rt_malloc */
size_t rt_malloc_usable(const void *p);       /* payload bytes the block really has (≥ what was asked) */
size_t rt_malloc_live(void);                  /* payload capacity of all live blocks, for stats/tests */

#endif /* ALLOC_H */
