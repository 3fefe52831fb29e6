/* utc.c: UTC calendar text for refusals (utc.h). */
#include "utc.h"

#include "rt.h"

/* The civil date (proleptic Gregorian) of day `days` since 1970-01-01. The calendar repeats
 * every 400 years (146,097 days); counting years from March makes February, with its leap day,
 * the last month, so a year's day number maps to a month by one linear formula. */
static void days_to_civil(uint64_t days, unsigned *year, unsigned *month, unsigned *day) {
  uint64_t z = days + 719468;                  /* days since 0000-03-01 */
  uint64_t era = z / 146097;                   /* 400-year eras */
  uint64_t doe = z - era * 146097;             /* day of the era, 0..146096 */
  uint64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* year of the era, 0..399 */
  uint64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* day of the March-based year */
  uint64_t mp = (5 * doy + 2) / 153;           /* month from March = 0 */
  *day = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
  *month = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
  *year = (unsigned)(yoe + era * 400 + (*month <= 2)); /* January and February belong to the next year */
}

/* Two digits with a leading zero (the formatter has no widths). */
static void two_digits(char *out, unsigned v) {
  out[0] = (char)('0' + v / 10 % 10);
  out[1] = (char)('0' + v % 10);
}

size_t utc_format(uint64_t ns, char *out, size_t capacity) {
  uint64_t seconds = ns / NS_PER_SECOND;
  unsigned year, month, day, minute_of_day = (unsigned)(seconds % 86400 / 60);
  days_to_civil(seconds / 86400, &year, &month, &day);
  char mm[3] = {0}, dd[3] = {0}, hh[3] = {0}, mi[3] = {0};
  two_digits(mm, month);
  two_digits(dd, day);
  two_digits(hh, minute_of_day / 60);
  two_digits(mi, minute_of_day % 60);
  return rt_format(out, capacity, "%u-%s-%s %s:%s", year, mm, dd, hh, mi);
}

size_t utc_span(uint64_t from, uint64_t to, char *out, size_t capacity) {
  uint64_t ns = to > from ? to - from : 0, minutes = (ns + 60 * NS_PER_SECOND - 1) / (60 * NS_PER_SECOND);
  if (!minutes) minutes = 1;
  return rt_format(out, capacity, "%llu h %llu min", (unsigned long long)(minutes / 60), (unsigned long long)(minutes % 60));
}

size_t utc_window(uint64_t seconds, char *out, size_t capacity) {
  static const struct {
    uint64_t seconds;
    const char *one, *many;
  } units[] = {{86400, "day", "days"}, {3600, "h", "h"}, {60, "min", "min"}, {1, "s", "s"}};
  for (int i = 0;; i++)
    if (seconds % units[i].seconds == 0) {
      uint64_t n = seconds / units[i].seconds;
      if (n == 1) return rt_format(out, capacity, "%s", units[i].one);
      return rt_format(out, capacity, "%llu %s", (unsigned long long)n, units[i].many);
    }
}
