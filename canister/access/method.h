/* method.h: the method an ingress message calls, as canister_inspect_message reads it to decide
 * (method.c): each canister's inspect.c drops the calls its methods would refuse. */
#ifndef ACCESS_METHOD_H
#define ACCESS_METHOD_H

#include <stddef.h>

#define MAX_METHOD 64

/* The message's method name into out (NUL-terminated) and its length; 0 when it is longer than
 * MAX_METHOD, after accepting the message: no method of these canisters has such a name, and the
 * IC answers that there is none. */
size_t inspected_method(char out[MAX_METHOD + 1]);
int method_is(const char *method, size_t n, const char *name);
int method_listed(const char *method, size_t n, const char *const *names, size_t count);

#endif
