/* main.c: the llm canister's lifecycle, `set_route` and `route_info` (canister/llm.did,
 * docs/llm-service.md). Answers are chat.c's, the route route.c's, the outcall's transform
 * transform.c's; who may ask and what it may cost is the access policy's (canister/access/, as the
 * gpt2 canister's), its methods policy_methods.c's; canister_inspect_message is inspect.c's.
 * Every method starts with rt_message_begin(): scratch memory is per message. */
#include "candid_reader.h"
#include "candid_writer.h"
#include "policy.h"
#include "route.h"
#include "rt.h"

const policy_words POLICY_WORDS = {.service = "LLM inference", .anonymous_hint = "",
                                   .argument_hint = "a 10 KiB prompt takes under 11 KB"};

__attribute__((export_name("canister_init"))) void canister_init(void) {
  rt_message_begin();
  policy_install(); /* the argument's policy over the defaults; traps on an invalid one */
}

__attribute__((export_name("canister_post_upgrade"))) void canister_post_upgrade(void) {
  rt_message_begin();
  policy_upgrade(); /* the kept policy, the fields the argument names replaced */
  route_load();
}

/* update set_route : (Route) -> (): controllers only; replaces the whole route (a key left out is no key). */
__attribute__((export_name("canister_update set_route"))) void set_route(void) {
  rt_message_begin();
  if (!rt_caller_is_controller()) {
    rt_reject("set_route is for the canister's controllers only");
    return;
  }
  const char *problem = route_set_from_arg();
  if (problem) rt_reject(problem);
  else cd_reply_empty();
}

/* query route_info : () -> (RouteInfo): public; never the key, the URL's path or query. */
__attribute__((export_name("canister_query route_info"))) void route_info(void) {
  rt_message_begin();
  if (!cd_read_no_args()) return;
  cd_writer w;
  cd_writer_init(&w);
  cd_field_type fields[] = {{"kind", CD_TEXT}, {"model", CD_TEXT}, {"endpoint_host", cd_t_opt(&w, CD_TEXT)},
                            {"llm_canister", cd_t_opt(&w, CD_PRINCIPAL)}, {"api_key_set", CD_BOOL},
                            {"max_response_bytes", CD_NAT64}};
  cd_w_arg(&w, cd_t_record(&w, 6, fields));
  cd_w_record_begin(&w);
  cd_w_cstr(&w, route_kind_name());
  cd_w_cstr(&w, route.model);
  if (route.kind == ROUTE_ENDPOINT) {
    char host[ROUTE_URL_MAX + 1];
    url_host(route.url, host);
    cd_w_opt_some(&w);
    cd_w_cstr(&w, host);
  } else {
    cd_w_opt_none(&w);
  }
  if (route.kind == ROUTE_LLM_CANISTER) {
    cd_w_opt_some(&w);
    cd_w_principal(&w, route.canister.bytes, route.canister.size);
  } else {
    cd_w_opt_none(&w);
  }
  cd_w_bool(&w, route.api_key[0] != 0);
  cd_w_nat64(&w, route.kind == ROUTE_ENDPOINT ? route.max_response_bytes : 0);
  cd_w_record_end(&w);
  cd_reply(&w);
}
