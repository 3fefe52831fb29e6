/* utc.h: IC time (ns since 1970-01-01) as the UTC text refusals show ("2026-12-07 00:00"), and
 * spans of time as people read them ("3 h 46 min", "day"). No libc: the calendar is computed. */
#ifndef ACCESS_UTC_H
#define ACCESS_UTC_H

#include <stddef.h>
#include <stdint.h>

#define NS_PER_SECOND 1000000000ull

/* "YYYY-MM-DD HH:MM" of `ns` into out (capacity ≥ 17); returns the length. */
size_t utc_format(uint64_t ns, char *out, size_t capacity);
/* "<H> h <M> min" from `from` to `to` (ns), minutes rounded up (0 h 1 min at least). */
size_t utc_span(uint64_t from, uint64_t to, char *out, size_t capacity);
/* A window length in seconds as a unit of time: "day", "7 days", "h", "6 h", "10 min", "90 s". */
size_t utc_window(uint64_t seconds, char *out, size_t capacity);

#endif
