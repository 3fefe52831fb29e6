/* policy_methods.c: the methods that read and set the inference policy (policy.h) — `usage`
 * (public), `set_inference_policy`, `allow_inference`, `disallow_inference`,
 * `list_allowed_inference` (controllers) — the same in every canister that links it. */
#include "candid_reader.h"
#include "candid_writer.h"
#include "policy.h"
#include "rt.h"

static const char *const ACCESS_NAMES[] = {"open", "allow_list", "controllers"};

static int32_t access_type(cd_writer *w) {
  cd_field_type tags[] = {{"open", CD_NULL}, {"allow_list", CD_NULL}, {"controllers", CD_NULL}};
  return cd_t_variant(w, 3, tags);
}

static int32_t usage_type(cd_writer *w) {
  cd_field_type fields[] = {{"access", access_type(w)}, {"window_seconds", CD_NAT64}, {"window_instructions", CD_NAT64},
                            {"caller_instructions", CD_NAT64}, {"window_start", CD_NAT64}, {"window_end", CD_NAT64},
                            {"window_spent", CD_NAT64}, {"caller_spent", CD_NAT64}, {"callers", CD_NAT32},
                            {"refused", CD_NAT64}, {"allowed", CD_NAT32}, {"spent_total", CD_NAT64}};
  return cd_t_record(w, 12, fields);
}

/* Controller-only methods check the caller before reading their argument. */
static int refused_unless_controller(const char *method) {
  if (rt_caller_is_controller()) return 0;
  rt_rejectf("%s is for the canister's controllers only", method);
  return 1;
}

/* query usage : () -> (Usage): anyone can check the bound and what was spent. */
__attribute__((export_name("canister_query usage"))) void usage_query(void) {
  rt_message_begin();
  if (!cd_read_no_args()) return;
  principal_id caller = caller_id();
  usage_report u = inference_usage(&caller, ic0_time());
  cd_writer w;
  cd_writer_init(&w);
  cd_w_arg(&w, usage_type(&w));
  cd_w_record_begin(&w);
  cd_w_variant(&w, ACCESS_NAMES[u.policy.access]);
  cd_w_null(&w);
  cd_w_nat64(&w, u.policy.window_seconds);
  cd_w_nat64(&w, u.policy.window_instructions);
  cd_w_nat64(&w, u.policy.caller_instructions);
  cd_w_nat64(&w, u.window_start);
  cd_w_nat64(&w, u.window_end);
  cd_w_nat64(&w, u.window_spent);
  cd_w_nat64(&w, u.caller_spent);
  cd_w_nat32(&w, u.callers);
  cd_w_nat64(&w, u.refused);
  cd_w_nat32(&w, u.allowed);
  cd_w_nat64(&w, u.spent_total);
  cd_w_record_end(&w);
  cd_reply(&w);
}

/* A controller's edit: `apply` reads the argument and changes the policy (NULL) or says why not. */
static void controller_edit(const char *method, const char *(*apply)(void)) {
  rt_message_begin();
  if (refused_unless_controller(method)) return;
  const char *problem = apply();
  if (problem) rt_reject(problem);
  else cd_reply_empty();
}

/* update set_inference_policy : (InferencePolicy) -> (): the fields it names. */
__attribute__((export_name("canister_update set_inference_policy"))) void set_inference_policy(void) {
  controller_edit("set_inference_policy", policy_set_from_arg);
}

__attribute__((export_name("canister_update allow_inference"))) void allow_inference(void) {
  controller_edit("allow_inference", allow_list_add_from_arg);
}

__attribute__((export_name("canister_update disallow_inference"))) void disallow_inference(void) {
  controller_edit("disallow_inference", allow_list_remove_from_arg);
}

__attribute__((export_name("canister_query list_allowed_inference"))) void list_allowed_inference(void) {
  rt_message_begin();
  if (refused_unless_controller("list_allowed_inference") || !cd_read_no_args()) return;
  cd_writer w;
  cd_writer_init(&w);
  cd_w_arg(&w, cd_t_vec(&w, CD_PRINCIPAL));
  size_t n = allow_list_count();
  cd_w_vec_begin(&w, n);
  for (size_t i = 0; i < n; i++) cd_w_principal(&w, allow_list_at(i)->bytes, allow_list_at(i)->size);
  cd_w_vec_end(&w);
  cd_reply(&w);
}
