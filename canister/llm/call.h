/* call.h: one outgoing inter-canister call (call.c), its callbacks C functions of this module.
 *
 * The IC runs the reply or reject callback as a message of its own, with `env` (which call it
 * was: an index into the caller's table), and the cleanup callback if that one traps; only the
 * call made by an execution that completes is sent (a trap later in the same message drops it). */
#ifndef LLM_CALL_H
#define LLM_CALL_H

#include <stddef.h>
#include <stdint.h>

#include "principal.h"

typedef void (*call_callback)(uint32_t env);

typedef struct {
  call_callback on_reply, on_reject, on_cleanup;
  uint32_t env;
} call_callbacks;

/* The management canister (aaaaa-aa): the empty principal. */
extern const principal_id MANAGEMENT_CANISTER;

/* Call `method` of `callee` with the Candid argument `arg`, attaching `cycles`: ic0.call_perform's
 * result (0: made; else not made, nothing attached). */
uint32_t call_perform(const principal_id *callee, const char *method, const uint8_t *arg, size_t size,
                      uint64_t cycles, call_callbacks callbacks);
/* The cycles this canister can spend without freezing (its liquid balance, capped at 2^64 - 1). */
uint64_t call_liquid_cycles(void);
/* What ic0.call_perform takes from the liquid balance besides the cycles attached, on a 13-node
 * subnet (rs/cycles_account_manager withdraw_request_cycles): the call's fee, 260,000 + 1,000 per
 * byte of `request_bytes` (method name and argument), and the reservation for the largest response
 * (2 MiB at 1,000 a byte) and its callback's execution (5M + the 40B instruction limit), whose
 * unused part comes back with the response. */
uint64_t call_charges(uint64_t request_bytes);
/* What a call costs its caller in the end, whatever the callee: the fee of 260,000 + 1,000 per byte
 * of the request and of its reply (or reject message), 13-node subnet. */
uint64_t call_fee(uint64_t request_bytes, uint64_t reply_bytes);
/* In a reply or reject callback: the cycles the callee gave back. */
uint64_t call_cycles_refunded(void);
/* In a reject callback: "<reject code name>: <message>" (e.g. "SYS_TRANSIENT: Timeout expired"). */
void call_reject_text(char *out, size_t capacity);

#endif
