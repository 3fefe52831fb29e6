/* served_model.c: the model the gpt2 canister serves, see served_model.h. Apart from main.c (the
 * methods) and bundle.c (what decides which file is served), so both can reach it without
 * reaching each other. */
#include "served_model.h"

#include "kv_slots.h"
#include "rt.h"

/* The prefix cache's KV slots share this much heap (GPT-2 124M: 75.5 MB per f32 slot, 38.9 MB
 * per q8 slot, so 10 and 17 slots: 9 and 16 conversations plus the scratch slot), next to
 * the served weight file and the q8 models' widened weights, well under the 4 GiB of wasm32. */
#define KV_BUDGET (768ull << 20)
#define NO_BUNDLE "upload a model bundle first"

gpt2_model model;
int have_model;
const char *no_model_reason = NO_BUNDLE;
uint64_t model_file_size;
uint8_t model_file_sha256[32];
usage_counters usage;

const char *load_model(const uint8_t *file, size_t size, const uint8_t sha256[32]) {
  static char error[200];
  const char *problem = gpt2_check(file, size, error, sizeof error);
  if (problem) return problem;
  model_file_size = size;
  memcpy(model_file_sha256, sha256, 32);
  gpt2_load(&model, file, KV_BUDGET, 2, MAX_KV_SLOTS + 1); /* + the scratch slot (no conversation kept) */
  slots_reset(model.kv_slots, model.n_ctx);
  usage = (usage_counters){0};
  have_model = 1;
  no_model_reason = NO_BUNDLE; /* for when it goes again */
  return 0;
}

void forget_model(void) {
  have_model = 0;
  slots_reset(model.kv_slots, model.n_ctx);
}
