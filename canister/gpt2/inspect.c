/* inspect.c: canister_inspect_message — ingress calls that would be refused are dropped before
 * they execute (and before the owner pays for executing them).
 *
 * It runs on one node and its verdict is not certified: it is a filter against cost, not a
 * security boundary; every check here is made again inside the method. It refuses by trapping
 * with the same one line the method would give, so the caller reads the reason:
 *   - generate / prefill: the anonymous principal, callers the access policy leaves out, an
 *     argument over 64 KiB, a spent window or caller budget (policy.h, nothing is changed);
 *   - every query method called as an update (a replicated query is charged to the canister);
 *   - the policy methods controllers alone may call, from anyone else;
 *   - forget_conversations from a caller with no conversation kept (a free update for anyone
 *     would let strangers spend the owner's cycles on message fees);
 *   - the asset store's methods its own way (as_inspect_message: write methods without Commit
 *     permission, its queries as updates).
 * Everything else is accepted. */
#include "api.h"
#include "canister.h"
#include "kv_slots.h"
#include "method.h"
#include "model.h"
#include "policy.h"
#include "rt.h"
#include "served_model.h"

static const char *const OWN_QUERIES[] = {"model_info", "model_certificate", "usage", "list_allowed_inference"};
static const char *const CONTROLLER_UPDATES[] = {"set_inference_policy", "allow_inference", "disallow_inference"};

__attribute__((export_name("canister_inspect_message"))) void canister_inspect_message(void) {
  rt_message_begin();
  char method[MAX_METHOD + 1];
  size_t n = inspected_method(method);
  if (!n) return;
  if (method_is(method, n, "generate") || method_is(method, n, "prefill")) {
    principal_id caller = caller_id();
    uint64_t limit, one_token = have_model ? gpt2_token_cost_estimate(&model, 0, 1) : 0;
    const char *refusal = inference_admit(&caller, ic0_msg_arg_data_size(), one_token, ic0_time(), &limit, 0);
    if (refusal) rt_trap(refusal);
  } else if (method_is(method, n, "generate_query")) {
    rt_trap(GENERATE_QUERY_AS_UPDATE);
  } else if (method_is(method, n, "logits")) {
    rt_trap(LOGITS_AS_UPDATE);
  } else if (method_listed(method, n, OWN_QUERIES, sizeof OWN_QUERIES / sizeof *OWN_QUERIES)) {
    rt_trapf("%s is a query: call it as a query", method);
  } else if (method_is(method, n, "forget_conversations")) {
    /* cheap, but any update costs the owner the IC's message fees: only a caller with something
     * to forget gets one (it paid inference for its slots) */
    principal_id caller = caller_id();
    if (!have_model || !slots_held(&caller)) rt_trap("forget_conversations: this canister keeps no conversation of yours");
  } else if (method_listed(method, n, CONTROLLER_UPDATES, sizeof CONTROLLER_UPDATES / sizeof *CONTROLLER_UPDATES)) {
    if (!rt_caller_is_controller()) rt_trapf("%s is for the canister's controllers only", method);
  } else {
    as_inspect_message(method, n); /* the store's methods: traps when it refuses; others are accepted */
  }
  ic0_accept_message();
}
