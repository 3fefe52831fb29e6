/* kv_slots.h: the prefix cache's bookkeeping — which caller's conversation each KV slot holds.
 *
 * The model owns kv_slots KV caches (model.h); this table says, per slot, whose tokens its
 * positions 0..count-1 hold. A caller may keep up to SLOTS_PER_CALLER conversations; when a new
 * one needs a slot the least recently used one goes. The anonymous principal never reuses: it
 * gets a scratch slot of its own, emptied after each call, so it evicts no one. */
#ifndef GPT2_KV_SLOTS_H
#define GPT2_KV_SLOTS_H

#include <stddef.h>
#include <stdint.h>

#define MAX_KV_SLOTS 16
#define SLOTS_PER_CALLER 4

typedef struct {
  uint8_t bytes[29];
  size_t size;
} principal_id;

typedef struct {
  int slot;
  size_t reused; /* leading tokens the slot already holds (at most n - 1: the last one is fed again) */
} slot_choice;

principal_id caller_id(void);
int is_anonymous(const principal_id *p);

/* Every slot empty (a new model): n_slots KV slots of n_ctx positions, the last one the
 * anonymous principal's scratch slot (n_slots ≤ MAX_KV_SLOTS + 1). */
void slots_reset(int n_slots, int n_ctx);
int slots_count(void); /* conversations kept: n_slots - 1 */
/* The slot to feed tokens[0..n) through for this caller: its slot sharing the longest prefix (if
 * that prefix is at least half of what the slot holds), else a fresh one (least recently used);
 * for the anonymous principal the scratch slot, with nothing reused. */
slot_choice slots_choose(const principal_id *caller, const uint32_t *tokens, size_t n);
/* The caller owns `slot`, which keeps its first `reused` tokens; marks it most recently used. */
void slots_claim(int slot, const principal_id *caller, size_t reused);
/* Positions from..to-1 of `slot` now hold tokens[from..to). */
void slots_append(int slot, const uint32_t *tokens, size_t from, size_t to);
void slots_set(int slot, size_t pos, uint32_t token); /* position pos holds token (pos == count) */
void slots_forget(int slot);                          /* empty and ownerless (the scratch slot after an update) */

#endif
