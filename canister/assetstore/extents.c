/* extents.c: stable memory extents with a sorted, merging free list (see extents.h). */
#include "extents.h"

#include "alloc.h"
#include "rt.h"

#define PAGE 65536ull

typedef struct {
  uint64_t offset, size; /* both multiples of EX_ALIGN */
} span;

static span *spans;            /* free spans, sorted by offset, never adjacent */
static size_t n_spans, cap_spans;
static uint64_t end = EX_RESERVED; /* everything at and above `end` is free */

static uint64_t rounded(uint64_t size) { return (size + EX_ALIGN - 1) & ~(EX_ALIGN - 1); }

static void ensure_stable(uint64_t bytes) {
  uint64_t have = ic0_stable64_size();
  uint64_t need = (bytes + PAGE - 1) / PAGE;
  if (need > have && ic0_stable64_grow(need - have) < 0)
    rt_trapf("cannot grow stable memory to %llu bytes", (unsigned long long)bytes);
}

static void insert_span(size_t at, span s) {
  if (n_spans == cap_spans) {
    cap_spans = cap_spans ? 2 * cap_spans : 64;
    spans = rt_realloc(spans, cap_spans * sizeof *spans);
  }
  memmove(spans + at + 1, spans + at, (n_spans - at) * sizeof *spans);
  spans[at] = s;
  n_spans++;
}

static void remove_span(size_t at) {
  memmove(spans + at, spans + at + 1, (n_spans - at - 1) * sizeof *spans);
  n_spans--;
}

ex_extent ex_alloc(uint64_t size) {
  uint64_t need = rounded(size ? size : 1);
  ex_extent e = {0, size};
  for (size_t i = 0; i < n_spans; i++) {
    if (spans[i].size < need) continue;
    e.offset = spans[i].offset;
    spans[i].offset += need;
    spans[i].size -= need;
    if (!spans[i].size) remove_span(i);
    return e;
  }
  e.offset = end;
  end += need;
  ensure_stable(end);
  return e;
}

void ex_free(ex_extent e) {
  span s = {e.offset, rounded(e.size ? e.size : 1)};
  size_t at = 0;
  while (at < n_spans && spans[at].offset < s.offset) at++;
  if (at > 0 && spans[at - 1].offset + spans[at - 1].size == s.offset) { /* merge left */
    at--;
    s.offset = spans[at].offset;
    s.size += spans[at].size;
    remove_span(at);
  }
  if (at < n_spans && s.offset + s.size == spans[at].offset) { /* merge right */
    s.size += spans[at].size;
    remove_span(at);
  }
  if (s.offset + s.size == end) {
    end = s.offset; /* the top shrinks back; stable memory stays allocated for reuse */
    return;
  }
  insert_span(at, s);
}

static int by_offset(const ex_extent *a, const ex_extent *b) { return a->offset < b->offset ? -1 : a->offset > b->offset; }

void ex_rebuild(const ex_extent *used, size_t n) {
  n_spans = 0;
  end = EX_RESERVED;
  if (!n) return;
  ex_extent *sorted = rt_malloc(n * sizeof *sorted);
  memcpy(sorted, used, n * sizeof *sorted);
  for (size_t i = 1; i < n; i++) { /* insertion sort: the index lists extents mostly in order */
    ex_extent x = sorted[i];
    size_t j = i;
    while (j > 0 && by_offset(&sorted[j - 1], &x) > 0) {
      sorted[j] = sorted[j - 1];
      j--;
    }
    sorted[j] = x;
  }
  uint64_t at = EX_RESERVED;
  for (size_t i = 0; i < n; i++) {
    if (sorted[i].offset < at) rt_trap("stable memory index: extents overlap");
    if (sorted[i].offset > at) insert_span(n_spans, (span){at, sorted[i].offset - at});
    at = sorted[i].offset + rounded(sorted[i].size ? sorted[i].size : 1);
  }
  end = at;
  rt_free(sorted);
}

uint64_t ex_end(void) { return end; }

uint64_t ex_free_bytes(void) {
  uint64_t total = 0;
  for (size_t i = 0; i < n_spans; i++) total += spans[i].size;
  return total;
}
