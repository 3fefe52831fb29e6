/* api.h: what the asset store's methods (api.c) give the canister that links them
 * (canister/assets, canister/gpt2) besides the methods themselves: the store's part of
 * canister_inspect_message.
 *
 * canister_inspect_message runs on one node before an ingress update is accepted: it is a filter
 * that spares the canister the cost of messages that would be refused, not a security boundary.
 * The same permission check (api.c) runs again inside every method, before its argument is read.
 */
#ifndef ASSETSTORE_API_H
#define ASSETSTORE_API_H

#include <stddef.h>

/* Inspect an ingress update to `method` (the name from ic0.msg_method_name, not NUL-terminated):
 *   0     `method` is not one of the store's methods: the linking canister decides;
 *   1     a store update method the caller may call: the linking canister accepts it
 *         (ic0_accept_message; this function does not);
 *   traps with a one-line reason (what the caller reads) for a store write method from a caller
 *         without permission ("Caller does not have Commit permission: only controllers and
 *         principals with Commit permission may call create_batch") and for a store query method
 *         called as an update ("get is a query: call it as a query"). */
int as_inspect_message(const char *method, size_t method_len);

#endif /* ASSETSTORE_API_H */
