/* rt.c: heap, buffers, message helpers and a tiny formatter for icchat's C canisters. */
#include "rt.h"

#include <stdarg.h>

/* ---- libc pieces the compiler may call ---- */

/* memory.copy/fill cost 100 + 1 per byte on the IC, a byte loop about 10 per byte: short
 * lengths take the loop. (LLVM does not turn loops inside memcpy/memset into calls to them.) */
#define SHORT_COPY 12
void *memcpy(void *dst, const void *src, size_t n) {
  if (n < SHORT_COPY) {
    uint8_t *d = dst;
    const uint8_t *s = src;
    while (n--) *d++ = *s++;
    return dst;
  }
  __builtin_memcpy(dst, src, n); /* memory.copy: zig's wasm32 target enables bulk memory */
  return dst;
}
void *memmove(void *dst, const void *src, size_t n) {
  __builtin_memmove(dst, src, n); /* memory.copy handles overlap */
  return dst;
}
void *memset(void *dst, int c, size_t n) {
  if (n < SHORT_COPY) {
    uint8_t *d = dst;
    while (n--) *d++ = (uint8_t)c;
    return dst;
  }
  __builtin_memset(dst, c, n); /* memory.fill */
  return dst;
}
int memcmp(const void *a, const void *b, size_t n) {
  const uint8_t *x = a, *y = b;
  for (size_t i = 0; i < n; i++)
    if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
  return 0;
}
size_t strlen(const char *s) {
  size_t n = 0;
  while (s[n]) n++;
  return n;
}

/* ---- memory ---- */

extern uint8_t __heap_base;
#define PAGE 65536u

static size_t heap_top;                   /* next free byte of persistent memory; 0 until first use */
static uint8_t *scratch;                  /* RT_SCRATCH_BYTES, allocated on first use */
static size_t scratch_top, scratch_high;  /* in use; highest use since scratch was last zeroed */

static _Noreturn void out_of_memory(uint64_t more) {
  rt_trapf("out of memory: %llu more bytes needed", (unsigned long long)more);
}

void *rt_alloc(size_t size, size_t align) {
  if (!align) align = 1;
  if (align & (align - 1) || align > PAGE) rt_trapf("rt_alloc: alignment %u is not a power of two up to 65536", (unsigned)align);
  if (!heap_top) heap_top = (size_t)&__heap_base;
  /* 64-bit arithmetic: a wasm32 memory of 65536 pages is 2^32 bytes, one more than size_t holds */
  uint64_t start = ((uint64_t)heap_top + align - 1) & ~(uint64_t)(align - 1);
  uint64_t end = start + size;
  uint64_t have = (uint64_t)__builtin_wasm_memory_size(0) * PAGE;
  if (end > have) {
    uint64_t pages = (end - have + PAGE - 1) / PAGE;
    if (end > (1ull << 32) - 1 || __builtin_wasm_memory_grow(0, (size_t)pages) == (size_t)-1) out_of_memory(end - have);
  }
  heap_top = (size_t)end; /* fresh pages are zero */
  return (void *)(size_t)start;
}

/* Scratch from [scratch_top, ...); `zero` says whether reused bytes must be cleared. */
static void *take_scratch(size_t size, size_t align, int zero) {
  if (!align) align = 1;
  if (align & (align - 1) || align > PAGE) rt_trapf("rt_scratch: alignment %u is not a power of two up to 65536", (unsigned)align);
  if (!scratch) scratch = rt_alloc(RT_SCRATCH_BYTES, PAGE); /* so offset alignment is address alignment */
  uint64_t start = ((uint64_t)scratch_top + align - 1) & ~(uint64_t)(align - 1);
  uint64_t end = start + size;
  if (end > RT_SCRATCH_BYTES)
    rt_trapf("scratch memory exhausted: a message needs more than %u bytes", RT_SCRATCH_BYTES);
  if (zero && start < scratch_high) memset(scratch + start, 0, (end < scratch_high ? end : scratch_high) - start);
  scratch_top = (size_t)end;
  if (end > scratch_high) scratch_high = (size_t)end;
  return scratch + start;
}

void *rt_scratch(size_t size, size_t align) { return take_scratch(size, align, 1); }

void rt_message_begin(void) { scratch_top = 0; }
size_t rt_mark(void) { return scratch_top; }
void rt_release(size_t mark) {
  if (mark <= scratch_top) scratch_top = mark;
}
size_t rt_scratch_free(void) { return RT_SCRATCH_BYTES - scratch_top; }
size_t rt_heap_used(void) { return heap_top ? heap_top - (size_t)&__heap_base : 0; }

/* ---- buffers ---- */

void rt_buf_reserve(rt_buf *b, size_t extra) {
  if (extra <= b->capacity - b->size) return;
  if (extra > RT_SCRATCH_BYTES - b->size)
    rt_trapf("scratch memory exhausted: a message needs more than %u bytes", RT_SCRATCH_BYTES);
  size_t capacity = b->capacity ? b->capacity : 64;
  while (capacity < b->size + extra) capacity *= 2;
  if (capacity > RT_SCRATCH_BYTES) capacity = b->size + extra; /* the last doubling must not overshoot */
  uint8_t *data = take_scratch(capacity, 8, 0); /* bytes past size are never read */
  if (b->size) memcpy(data, b->data, b->size);
  b->data = data;
  b->capacity = capacity;
}
void rt_buf_append(rt_buf *b, const void *src, size_t n) {
  rt_buf_reserve(b, n);
  memcpy(b->data + b->size, src, n);
  b->size += n;
}
void rt_buf_byte(rt_buf *b, uint8_t byte) {
  rt_buf_reserve(b, 1);
  b->data[b->size++] = byte;
}
void rt_buf_leb128(rt_buf *b, uint64_t value) {
  do {
    uint8_t byte = value & 0x7f;
    value >>= 7;
    rt_buf_byte(b, byte | (value ? 0x80 : 0));
  } while (value);
}
void rt_buf_sleb128(rt_buf *b, int64_t value) {
  for (;;) {
    uint8_t byte = value & 0x7f;
    value >>= 7; /* arithmetic shift */
    int done = (value == 0 && !(byte & 0x40)) || (value == -1 && (byte & 0x40));
    rt_buf_byte(b, byte | (done ? 0 : 0x80));
    if (done) return;
  }
}

/* ---- the message ---- */

const uint8_t *rt_arg(size_t *size) {
  *size = ic0_msg_arg_data_size();
  uint8_t *data = take_scratch(*size ? *size : 1, 8, 0); /* overwritten at once: no zeroing */
  ic0_msg_arg_data_copy(data, 0, *size);
  return data;
}
size_t rt_caller(uint8_t principal[29]) {
  size_t n = ic0_msg_caller_size();
  if (n > 29) n = 29;
  ic0_msg_caller_copy(principal, 0, n);
  return n;
}
int rt_caller_is_controller(void) {
  uint8_t id[29];
  size_t n = rt_caller(id);
  return ic0_is_controller(id, n) == 1;
}

/* ---- formatting: %s %d %u %lld %llu %x %% ---- */

typedef struct {
  char *out;
  size_t capacity, size;
} sink;

static void put(sink *s, char c) {
  if (s->size + 1 < s->capacity) s->out[s->size] = c;
  s->size++;
}
static void put_unsigned(sink *s, unsigned long long v, unsigned base) {
  char digits[24];
  int n = 0;
  do {
    digits[n++] = "0123456789abcdef"[v % base];
    v /= base;
  } while (v);
  while (n) put(s, digits[--n]);
}
static void put_signed(sink *s, long long v) {
  if (v < 0) {
    put(s, '-');
    put_unsigned(s, 0ull - (unsigned long long)v, 10);
  } else {
    put_unsigned(s, (unsigned long long)v, 10);
  }
}

static size_t vformat(char *out, size_t capacity, const char *f, va_list ap) {
  sink s = {out, capacity, 0};
  for (; *f; f++) {
    if (*f != '%') {
      put(&s, *f);
      continue;
    }
    f++;
    int longlong = 0;
    if (f[0] == 'l' && f[1] == 'l') {
      longlong = 1;
      f += 2;
    }
    switch (*f) {
      case 's': {
        const char *str = va_arg(ap, const char *);
        while (str && *str) put(&s, *str++);
        break;
      }
      case 'd': put_signed(&s, longlong ? va_arg(ap, long long) : va_arg(ap, int)); break;
      case 'u': put_unsigned(&s, longlong ? va_arg(ap, unsigned long long) : va_arg(ap, unsigned), 10); break;
      case 'x': put_unsigned(&s, longlong ? va_arg(ap, unsigned long long) : va_arg(ap, unsigned), 16); break;
      case '%': put(&s, '%'); break;
      default: return rt_format(out, capacity, "bad format directive"); /* a canister bug */
    }
  }
  if (capacity) out[s.size < capacity ? s.size : capacity - 1] = 0;
  return s.size < capacity ? s.size : (capacity ? capacity - 1 : 0);
}

size_t rt_format(char *out, size_t capacity, const char *format, ...) {
  va_list ap;
  va_start(ap, format);
  size_t n = vformat(out, capacity, format, ap);
  va_end(ap);
  return n;
}

/* ---- answers ---- */

void rt_reply(const void *data, size_t size) {
  ic0_msg_reply_data_append(data, size);
  ic0_msg_reply();
}
void rt_reject(const char *message) { ic0_msg_reject(message, strlen(message)); }
void rt_rejectf(const char *format, ...) {
  char text[1024];
  va_list ap;
  va_start(ap, format);
  size_t n = vformat(text, sizeof text, format, ap);
  va_end(ap);
  ic0_msg_reject(text, n);
}
_Noreturn void rt_trap(const char *message) { ic0_trap(message, strlen(message)); }
_Noreturn void rt_trapf(const char *format, ...) {
  char text[1024];
  va_list ap;
  va_start(ap, format);
  size_t n = vformat(text, sizeof text, format, ap);
  va_end(ap);
  ic0_trap(text, n);
}
void rt_print(const char *message) { ic0_debug_print(message, strlen(message)); }
