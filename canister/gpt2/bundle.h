/* bundle.h: the model bundle under /model/ in the asset store, checked at every commit and
 * loaded as the served model (bundle.c). */
#ifndef GPT2_BUNDLE_H
#define GPT2_BUNDLE_H

#include <stdint.h>

extern uint8_t bundle_manifest_sha256[32]; /* SHA-256 of the committed manifest.json */
extern int bundle_have_manifest;

void bundle_init(void); /* hook into the store's commits; before as_load */
/* Load the bundle the store holds (post_upgrade). NULL, or (no model served, the store kept) the
 * reason inference gives: "the bundle kept in stable memory is unusable (<why>): commit a good bundle". */
const char *bundle_sync(void);

#endif /* GPT2_BUNDLE_H */
