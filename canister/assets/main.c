/* main.c: the asset canister — the asset store's methods (canister/assetstore/api.c, the official
 * assetstorage interface in canister/assets.did) plus its lifecycle. Everything it holds lives in
 * stable memory, so an upgrade keeps every asset (post_upgrade reads the index back). */
#include "http.h"
#include "rt.h"
#include "store.h"

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
