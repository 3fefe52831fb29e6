/* alloc.c: rt_malloc/rt_free/rt_realloc on top of rt_alloc (see alloc.h).
 *
 * Block layout: [header 16 B][payload capacity bytes]. Small blocks (capacity ≤ 64 KiB) belong to
 * one of N_CLASSES size classes and go back to that class's free list (singly linked through the
 * payload). Large blocks are runs of whole 64 KiB units (header included); free runs sit in one
 * list sorted by address, so a freed run merges with a free neighbour on either side, and a
 * request takes the smallest run that fits, splitting off the rest.
 */
#include "alloc.h"

#include "rt.h"

#define HEADER 16u
#define LIVE 0xa110c8edu
#define FREE 0xf4eeb10cu
#define SMALL_MAX 65536u
#define RUN_UNIT 65536u
#define LARGE_CLASS 0xffffffffu
#define N_CLASSES 44 /* 8 multiples of 16 up to 128, then 4 per doubling up to 65536 */

typedef struct {
  uint32_t magic;     /* LIVE or FREE */
  uint32_t cls;       /* size class, or LARGE_CLASS */
  uint32_t capacity;  /* payload bytes */
  uint32_t pad;
} header;

typedef struct run {  /* a free large run, stored in its own first bytes */
  header h;
  struct run *next;   /* next free run by address */
} run;

static void *free_small[N_CLASSES]; /* first free payload of each class; its first word links on */
static run *free_runs;
static size_t live_bytes;

static header *header_of(const void *p) { return (header *)((uint8_t *)p - HEADER); }

/* Size class of a request: index and capacity. */
static uint32_t class_of(size_t size, uint32_t *capacity) {
  if (size <= 128) {
    uint32_t q = size ? (uint32_t)((size + 15) / 16) : 1; /* 1..8 */
    *capacity = q * 16;
    return q - 1;
  }
  uint32_t k = 31 - (uint32_t)__builtin_clz((uint32_t)(size - 1)); /* 2^k < size <= 2^(k+1), k >= 7 */
  uint32_t step = 1u << (k - 2);
  uint32_t q = (uint32_t)((size - (1u << k) + step - 1) >> (k - 2)); /* 1..4 */
  *capacity = (1u << k) + q * step;
  return 8 + (k - 7) * 4 + q - 1;
}

static void *malloc_small(size_t size) {
  uint32_t capacity, cls = class_of(size, &capacity);
  void *p = free_small[cls];
  if (p) {
    free_small[cls] = *(void **)p;
  } else {
    p = (uint8_t *)rt_alloc(HEADER + capacity, 16) + HEADER;
    header_of(p)->cls = cls;
    header_of(p)->capacity = capacity;
  }
  header_of(p)->magic = LIVE;
  live_bytes += capacity;
  return p;
}

static void *malloc_large(size_t size) {
  if (size > 0xffffffffu - HEADER - RUN_UNIT) rt_trapf("rt_malloc: %u bytes is more than a wasm32 heap holds", (unsigned)size);
  uint32_t total = (uint32_t)((size + HEADER + RUN_UNIT - 1) / RUN_UNIT * RUN_UNIT);
  run **best = 0;
  for (run **r = &free_runs; *r; r = &(*r)->next) /* best fit: the fewest bytes left over */
    if (HEADER + (*r)->h.capacity >= total && (!best || (*r)->h.capacity < (*best)->h.capacity)) best = r;
  header *h;
  if (best) {
    run *found = *best;
    uint32_t have = HEADER + found->h.capacity;
    if (have > total) { /* split: the tail stays free, at the same place in the address order */
      run *rest = (run *)((uint8_t *)found + total);
      rest->h.magic = FREE;
      rest->h.cls = LARGE_CLASS;
      rest->h.capacity = have - total - HEADER;
      rest->next = found->next;
      *best = rest;
    } else {
      *best = found->next;
    }
    h = &found->h;
  } else {
    h = rt_alloc(total, 16);
  }
  h->magic = LIVE;
  h->cls = LARGE_CLASS;
  h->capacity = total - HEADER;
  live_bytes += h->capacity;
  return (uint8_t *)h + HEADER;
}

void *rt_malloc(size_t size) { return size <= SMALL_MAX ? malloc_small(size) : malloc_large(size); }

void *rt_calloc(size_t count, size_t size) {
  if (size && count > (size_t)-1 / size) rt_trapf("rt_calloc: %u x %u bytes overflows", (unsigned)count, (unsigned)size);
  void *p = rt_malloc(count * size);
  memset(p, 0, count * size);
  return p;
}

static header *checked_header(const void *p, const char *who) {
  header *h = header_of(p);
  if (((size_t)p & 15) || h->magic != LIVE) {
    if (h->magic == FREE) rt_trapf("%s: block %x was already freed", who, (unsigned)(size_t)p);
    rt_trapf("%s: %x is not a block from rt_malloc", who, (unsigned)(size_t)p);
  }
  return h;
}

static void free_large(header *h) {
  run *block = (run *)h, *prev = 0, *next = free_runs;
  while (next && next < block) {
    prev = next;
    next = next->next;
  }
  h->magic = FREE;
  block->next = next;
  if (next && (uint8_t *)block + HEADER + block->h.capacity == (uint8_t *)next) { /* merge with the run after */
    block->h.capacity += HEADER + next->h.capacity;
    block->next = next->next;
  }
  if (prev && (uint8_t *)prev + HEADER + prev->h.capacity == (uint8_t *)block) { /* merge into the run before */
    prev->h.capacity += HEADER + block->h.capacity;
    prev->next = block->next;
  } else if (prev) {
    prev->next = block;
  } else {
    free_runs = block;
  }
}

void rt_free(void *p) {
  if (!p) return;
  header *h = checked_header(p, "rt_free");
  live_bytes -= h->capacity;
  if (h->cls == LARGE_CLASS) {
    free_large(h);
    return;
  }
  h->magic = FREE;
  *(void **)p = free_small[h->cls];
  free_small[h->cls] = p;
}

void *rt_realloc(void *p, size_t size) {
  if (!p) return rt_malloc(size);
  header *h = checked_header(p, "rt_realloc");
  /* Keep the block when it fits and is not mostly empty (small classes are within 25%). */
  if (size <= h->capacity && (h->cls != LARGE_CLASS || size > h->capacity / 2)) return p;
  void *q = rt_malloc(size);
  memcpy(q, p, size < h->capacity ? size : h->capacity);
  rt_free(p);
  return q;
}

size_t rt_malloc_usable(const void *p) { return checked_header(p, "rt_malloc_usable")->capacity; }
size_t rt_malloc_live(void) { return live_bytes; }
