/* inspect.c: canister_inspect_message — ingress calls the methods would refuse are dropped before
 * they execute (and before the owner pays for them), by trapping with the method's own line. It runs
 * on one node and is not certified: every check is made again inside the methods.
 *   - chat / v1_chat: no route, the anonymous principal, callers the access policy leaves out, an
 *     argument over 64 KiB, a spent budget (nothing is changed);
 *   - the query methods called as updates;
 *   - set_route and the policy methods controllers alone may call, from anyone else.
 * Everything else is accepted. */
#include "method.h"
#include "policy.h"
#include "route.h"
#include "rt.h"

static const char *const QUERIES[] = {"route_info", "transform_chat", "usage", "list_allowed_inference"};
static const char *const CONTROLLER_UPDATES[] = {"set_route", "set_inference_policy", "allow_inference",
                                                 "disallow_inference"};

__attribute__((export_name("canister_inspect_message"))) void canister_inspect_message(void) {
  rt_message_begin();
  char method[MAX_METHOD + 1];
  size_t n = inspected_method(method);
  if (!n) return;
  if (method_is(method, n, "chat") || method_is(method, n, "v1_chat")) {
    if (route.kind == ROUTE_NONE) rt_trap(ROUTE_NOT_CONFIGURED);
    principal_id caller = caller_id();
    uint64_t limit;
    const char *refusal = inference_admit(&caller, ic0_msg_arg_data_size(), answer_min_cost(), ic0_time(), &limit, 0);
    if (refusal) rt_trap(refusal);
  } else if (method_listed(method, n, QUERIES, sizeof QUERIES / sizeof *QUERIES)) {
    rt_trapf("%s is a query: call it as a query", method);
  } else if (method_listed(method, n, CONTROLLER_UPDATES, sizeof CONTROLLER_UPDATES / sizeof *CONTROLLER_UPDATES)) {
    if (!rt_caller_is_controller()) rt_trapf("%s is for the canister's controllers only", method);
  }
  ic0_accept_message();
}
