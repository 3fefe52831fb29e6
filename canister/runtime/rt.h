/* rt.h: the small runtime every icchat C canister links (rt.c): memory, messages, errors.
 *
 * Freestanding wasm32, no libc. The heap is one bump region above the module's data, grown with
 * memory.grow; canisters allocate their long-lived buffers (weights, caches) once and reuse them,
 * and per-message scratch comes from a mark/release arena so nothing leaks between messages.
 */
#ifndef RT_H
#define RT_H

#include <stddef.h>
#include <stdint.h>

#include "ic0.h"

/* The compiler may emit calls to these for struct copies and zeroing; rt.c defines them. */
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

/* Memory. rt_alloc is for what lives across messages (weights, caches): zeroed, `align`-aligned
 * (a power of two ≤ 65536), never freed; it traps with "out of memory: <n> more bytes needed"
 * when memory.grow fails (past the canister's Wasm memory limit the IC traps first, with its own
 * "exceeded its current Wasm memory limit" error). rt_scratch is for one message (arguments, Candid,
 * replies): every exported method starts with rt_message_begin(), which frees all scratch, so
 * nothing leaks from a message that rejects early. Scratch is RT_SCRATCH_BYTES, taken from the
 * heap on first use; rt_mark/rt_release free scratch allocated after a mark within a message. */
#define RT_SCRATCH_BYTES (16u << 20)
void *rt_alloc(size_t size, size_t align);
void *rt_scratch(size_t size, size_t align);
void rt_message_begin(void);
size_t rt_mark(void);
void rt_release(size_t mark);
size_t rt_heap_used(void); /* bytes of rt_alloc memory (scratch region included), for stats */
size_t rt_scratch_free(void); /* scratch bytes still available in this message */

/* Growable byte buffer in scratch memory (doubling; the old block is abandoned to scratch). */
typedef struct {
  uint8_t *data;
  size_t size, capacity;
} rt_buf;
void rt_buf_reserve(rt_buf *b, size_t extra);
void rt_buf_append(rt_buf *b, const void *src, size_t n);
void rt_buf_byte(rt_buf *b, uint8_t byte);
void rt_buf_leb128(rt_buf *b, uint64_t value);
void rt_buf_sleb128(rt_buf *b, int64_t value);

/* The message. rt_arg copies the argument into scratch memory. rt_caller fills `principal` (≤ 29 bytes) and returns its length. */
const uint8_t *rt_arg(size_t *size);
size_t rt_caller(uint8_t principal[29]);
int rt_caller_is_controller(void);

/* Answers. rt_reply sends `size` bytes as the whole reply. rt_reject / rt_rejectf answer with a
 * canister reject carrying the message (state changes made before it are kept, as on the IC:
 * validate first). rt_trap aborts and rolls the message back. rt_rejectf/rt_trapf understand
 * %s (C string), %d %u %x (32-bit), %lld %llu %llx (64-bit) and %% only. */
void rt_reply(const void *data, size_t size);
void rt_reject(const char *message);
void rt_rejectf(const char *format, ...);
_Noreturn void rt_trap(const char *message);
_Noreturn void rt_trapf(const char *format, ...);
void rt_print(const char *message); /* ic0.debug_print */

/* Formatting into a caller buffer (same directives); returns the length written (at most
 * capacity - 1: the output is cut to fit) and NUL-terminates when capacity > 0. */
size_t rt_format(char *out, size_t capacity, const char *format, ...);

#endif /* RT_H */
