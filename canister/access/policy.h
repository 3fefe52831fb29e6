/* policy.h: who may run inference on a canister and how much of its owner's cycles it may take,
 * shared by the gpt2 canister (onchain inference) and the llm canister (answers from an LLM service)
 * (canister/gpt2.did and canister/llm.did: InferencePolicy, Usage; docs/gpt2-canister.md "Who may
 * call it and what it costs the owner", docs/llm-service.md). Each canister names what it serves in
 * its refusal lines (POLICY_WORDS).
 *
 * Access: `open` (any principal for queries, any but the anonymous one for updates),
 * `allow_list` (listed principals and controllers), `controllers`. The anonymous principal never
 * gets update inference (gpt2's generate and prefill, llm's chat and v1_chat): its calls would be
 * anyone's.
 *
 * Budget: IC time is cut into fixed windows [k·W, (k+1)·W). Per window, all inference updates
 * together may use window_instructions and one principal caller_instructions; each update's
 * instruction limit is what is left of both (at most the IC's 40B), decided before its argument
 * is decoded, and the whole message (refusals included) is charged at its end: its instructions
 * plus the IC's fixed fees for an ingress update, counted as the instructions they cost in cycles
 * on a 13-node subnet (1 cycle per instruction; MESSAGE_FEE_INSTRUCTIONS + INGRESS_BYTE_INSTRUCTIONS
 * per byte). Without the fees, many cheap messages (a rejected argument costs ~30K instructions
 * and 6.2M cycles of fees) could cost the owner 200 times the budget. A window's counters start
 * at zero. Per-caller counters live in a table of MAX_WINDOW_CALLERS principals
 * per window: when it is full, new principals are refused "busy" until the window ends.
 *
 * Every refusal is one line saying what to do; the same checks run in canister_inspect_message
 * (inspect.c), without changing anything, and again inside the methods.
 *
 * Stable memory: the asset store leaves bytes 0..65535 to its canister (extents.h EX_RESERVED;
 * its superblock takes 0..63). The policy lives at POLICY_STABLE_OFFSET..+32 KiB: a 128-byte
 * header (policy, spent_total, the current window's start, spent and refused) rewritten after
 * every inference update, then the allow-list (30 bytes per principal) rewritten when it changes.
 * An upgrade keeps all of it; the per-caller table starts again empty. */
#ifndef ACCESS_POLICY_H
#define ACCESS_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "principal.h"

#define UPDATE_INSTRUCTION_LIMIT 40000000000ull /* the IC's limit for one update message */
#define INFERENCE_MAX_ARG_BYTES 65536u          /* a 1,024-token prompt and stop list fit in 11 KB */
#define MAX_ALLOWED 1000
#define MAX_WINDOW_CALLERS 4096
#define MIN_WINDOW_SECONDS 60ull
#define MAX_WINDOW_SECONDS 2592000ull /* 30 days */
#define POLICY_STABLE_OFFSET 32768ull
/* The IC's fees for an ingress update besides its instructions, 13-node subnet (cycles cost
 * formulas: 5M execution + 1.2M ingress reception per message, 2K per ingress byte). */
#define MESSAGE_FEE_INSTRUCTIONS 6200000ull
#define INGRESS_BYTE_INSTRUCTIONS 2000ull
/* What the canister cannot see of a message it is charged for, counted as if it could: the signed
 * request's bytes besides the argument and method name (the sender's key, signature, expiry,
 * nonce: ~300 bytes with an Ed25519 or secp256k1 key; a delegation chain adds more), and the
 * instructions that run after its last counter read (the reply's tail, ~4K measured). With them
 * the budget bounds what callers signing with their own key can cost the owner, fees included. */
#define ENVELOPE_ALLOWANCE_BYTES 1024ull
#define TAIL_ALLOWANCE_INSTRUCTIONS 10000ull

typedef enum { ACCESS_OPEN = 0, ACCESS_ALLOW_LIST = 1, ACCESS_CONTROLLERS = 2 } access_kind;

typedef struct {
  access_kind access;
  uint64_t window_seconds, window_instructions, caller_instructions;
} inference_policy;

/* What the `usage` query reports (ns times). */
typedef struct {
  inference_policy policy;
  uint64_t window_start, window_end, window_spent, caller_spent, refused, spent_total;
  uint32_t callers, allowed;
} usage_report;

extern inference_policy policy;

/* The words of the refusal lines, defined by each canister: what it serves ("onchain inference"),
 * what the anonymous principal may do instead (" (or use generate_query)", or ""), and what fits the
 * argument size limit ("a 1,024-token prompt takes under 6 KB"). */
typedef struct {
  const char *service, *anonymous_hint, *argument_hint;
} policy_words;
extern const policy_words POLICY_WORDS;

/* ---- lifecycle: the init / upgrade argument `opt InferencePolicy` (traps when invalid) ---- */
void policy_install(void); /* defaults, then the argument's fields; saved */
void policy_upgrade(void); /* the saved policy (defaults if none), then the argument's fields; saved */

/* ---- controllers' edits: NULL or why not (nothing changed) ---- */
const char *policy_set_from_arg(void);       /* set_inference_policy's argument: the fields it names */
const char *allow_list_add_from_arg(void);    /* allow_inference's vec principal */
const char *allow_list_remove_from_arg(void); /* disallow_inference's vec principal */
size_t allow_list_count(void);
const principal_id *allow_list_at(size_t i);

/* ---- checks ---- */
/* May `caller` run inference (update: e.g. generate/prefill; else a query)? NULL, or the refusal line. */
const char *access_refusal(const principal_id *caller, int update);
/* The checks before an inference update decodes anything: access, the argument's size, and the
 * budget (skipped when one_token is 0: no model). NULL and *limit = the instructions this
 * call may use, or the refusal line. With `commit` (inside the method) the window rolls over,
 * the caller takes its place in the table and a refusal is counted; without it (inspect_message)
 * nothing changes. */
const char *inference_admit(const principal_id *caller, uint64_t arg_size, uint64_t one_token, uint64_t now,
                            uint64_t *limit, int commit);
/* What an inference update (e.g. generate or prefill) with an argument of `arg_size` bytes costs the
 * owner besides the instructions its counter reads, as instructions: the message's fees with the
 * allowances above. */
uint64_t inference_overhead(uint64_t arg_size);
/* The budget's refusal line for an admitted call that could feed nothing within its limit (the
 * smaller of what is left of the window's and the caller's budget bound it). */
const char *budget_refusal(const principal_id *caller, uint64_t now);
void inference_count_refusal(void); /* a refusal after admission (busy) */
/* Charge an inference update's whole message (instructions + inference_overhead) to the window, the
 * caller and the total; saved. */
void inference_charge(const principal_id *caller, uint64_t instructions);
usage_report inference_usage(const principal_id *caller, uint64_t now);

#endif
