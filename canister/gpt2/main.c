/* main.c: the gpt2 canister's lifecycle and model_info (canister/gpt2.did; the served model is
 * served_model.c's, generation chat.c's, the model bundle and its checks bundle.c's).
 *
 * The canister is also an asset canister: it links the asset store (canister/assetstore: the
 * official assetstorage methods, certified HTTP serving, everything in stable memory) and holds
 * its model bundle under /model/. A controller or authorized principal uploads a whole bundle in
 * one batch; the commit that completes it switches files and model together (bundle.c), and an
 * upgrade keeps both (post_upgrade reads the store back and loads the model again).
 * Who may run inference and what it may cost is policy.c's (set at install and upgrade by the
 * argument `opt InferencePolicy`, kept in stable memory; canister/access/, shared with the llm
 * canister); its methods are in policy_methods.c, forget_conversations in conversations.c,
 * canister_inspect_message in inspect.c.
 * Every method starts with rt_message_begin(): scratch memory is per message.
 */
#include "bundle.h"
#include "candid_reader.h"
#include "candid_writer.h"
#include "http.h"
#include "kv_slots.h"
#include "policy.h"
#include "rt.h"
#include "served_model.h"
#include "store.h"

const policy_words POLICY_WORDS = {.service = "onchain inference", .anonymous_hint = " (or use generate_query)",
                                   .argument_hint = "a 1,024-token prompt takes under 6 KB"};

static int32_t model_info_type(cd_writer *w) {
  cd_field_type fields[] = {{"n_layer", CD_NAT32}, {"n_head", CD_NAT32}, {"n_embd", CD_NAT32}, {"n_ctx", CD_NAT32},
                            {"vocab_size", CD_NAT32}, {"dtype", CD_TEXT}, {"bytes", CD_NAT64},
                            {"sha256", cd_t_vec(w, CD_NAT8)}, {"cache_slots", CD_NAT32},
                            {"tokens_generated", CD_NAT64}, {"generate_instructions", CD_NAT64},
                            {"average_instructions_per_token", CD_NAT64},
                            {"manifest_sha256", cd_t_opt(w, cd_t_vec(w, CD_NAT8))}};
  return cd_t_record(w, 13, fields);
}

static void write_model_info(cd_writer *w) {
  cd_w_record_begin(w);
  cd_w_nat32(w, (uint32_t)model.n_layer);
  cd_w_nat32(w, (uint32_t)model.n_head);
  cd_w_nat32(w, (uint32_t)model.n_embd);
  cd_w_nat32(w, (uint32_t)model.n_ctx);
  cd_w_nat32(w, (uint32_t)model.vocab_size);
  cd_w_cstr(w, model.q8 ? "q8" : "f32");
  cd_w_nat64(w, model_file_size);
  cd_w_blob(w, model_file_sha256, 32);
  cd_w_nat32(w, (uint32_t)slots_count());
  cd_w_nat64(w, usage.tokens_generated);
  cd_w_nat64(w, usage.generate_instructions);
  cd_w_nat64(w, usage.tokens_generated ? usage.generate_instructions / usage.tokens_generated : 0);
  cd_w_opt_some(w); /* manifest_sha256: the bundle this model came from (certified, see model_certificate) */
  cd_w_blob(w, bundle_manifest_sha256, 32);
  cd_w_record_end(w);
}

/* ---- lifecycle: the store (and with it the bundle) lives in stable memory ---- */

__attribute__((export_name("canister_init"))) void canister_init(void) {
  rt_message_begin();
  policy_install(); /* the argument's policy over the defaults; traps on an invalid one */
  bundle_init();
  ah_init();
  as_load();
}

__attribute__((export_name("canister_post_upgrade"))) void canister_post_upgrade(void) {
  rt_message_begin();
  policy_upgrade(); /* the kept policy, the fields the argument names replaced */
  bundle_init();
  ah_init();
  as_load(); /* traps on a corrupt index: the upgrade fails and the old module keeps running */
  /* the committed model, checked and loaded again; a bundle that does not load leaves no model
   * (never a trap: this upgrade may be the fix) */
  const char *problem = bundle_sync();
  if (problem) {
    no_model_reason = problem;
    rt_print(problem);
  }
}

__attribute__((export_name("canister_query model_info"))) void model_info(void) {
  rt_message_begin();
  if (!cd_read_no_args()) return;
  cd_writer w;
  cd_writer_init(&w);
  cd_w_arg(&w, cd_t_opt(&w, model_info_type(&w)));
  if (have_model) {
    cd_w_opt_some(&w);
    write_model_info(&w);
  } else {
    cd_w_opt_none(&w);
  }
  cd_reply(&w);
}
