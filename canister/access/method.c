/* method.c: the ingress message's method name (method.h). */
#include "method.h"

#include "rt.h"

size_t inspected_method(char out[MAX_METHOD + 1]) {
  size_t n = ic0_msg_method_name_size();
  if (n > MAX_METHOD) {
    ic0_accept_message();
    return 0;
  }
  ic0_msg_method_name_copy(out, 0, n);
  out[n] = 0;
  return n;
}

int method_is(const char *method, size_t n, const char *name) { return strlen(name) == n && !memcmp(method, name, n); }

int method_listed(const char *method, size_t n, const char *const *names, size_t count) {
  for (size_t i = 0; i < count; i++)
    if (method_is(method, n, names[i])) return 1;
  return 0;
}
