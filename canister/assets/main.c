/* main.c: the asset canister — the asset store's methods (canister/assetstore/api.c, the official
 * assetstorage interface in canister/assets.did) plus its lifecycle. Everything it holds lives in
 * stable memory, so an upgrade keeps every asset (post_upgrade reads the index back). */
#include "api.h"
#include "http.h"
#include "rt.h"
#include "store.h"

#define MAX_METHOD_NAME 64 /* longer than any method of this canister */

__attribute__((export_name("canister_init"))) void canister_init(void) {
  rt_message_begin();
  ah_init();
  as_load();
}

__attribute__((export_name("canister_post_upgrade"))) void canister_post_upgrade(void) {
  rt_message_begin();
  ah_init();
  as_load(); /* traps on a corrupt index: the upgrade fails and the old module keeps running */
}

/* Ingress updates are accepted only for the store's update methods and callers allowed to call
 * them; a refused write or a query called as an update traps with its reason (the caller reads
 * it). Every method checks again: this runs on one node and is only a filter. */
__attribute__((export_name("canister_inspect_message"))) void canister_inspect_message(void) {
  rt_message_begin();
  char method[MAX_METHOD_NAME];
  size_t size = ic0_msg_method_name_size();
  if (size > sizeof method) return; /* not one of ours: not accepted */
  ic0_msg_method_name_copy(method, 0, size);
  if (as_inspect_message(method, size)) ic0_accept_message();
}
