/* kv_slots.h: the prefix cache's bookkeeping — which caller's conversation each KV slot holds.
 *
 * The model owns kv_slots KV caches (model.h); this table says, per slot, whose tokens its
 * positions 0..count-1 hold. A caller may keep up to SLOTS_PER_CALLER conversations.
 *
 * Fair to every caller: a principal's most recently used slot, if used in the last
 * SLOT_PROTECT_SECONDS (IC time), is never taken for another principal, so a stranger with many
 * principals cannot wipe the conversations of people chatting now. Only the latest: a
 * principal's older slots are conversations it has left, and protecting them too would let four
 * principals hold all sixteen slots with sixteen cheap prefills. A new conversation takes a free slot, else the least recently used slot
 * it may take (one of its own, or another's that is no longer protected); a caller that already
 * has SLOTS_PER_CALLER takes its own least recently used one. When none is left the caller gets
 * no slot (slots_choose says so) and computes in the scratch slot, emptied after each update,
 * so it evicts no one. The anonymous principal always computes in the scratch slot. */
#ifndef GPT2_KV_SLOTS_H
#define GPT2_KV_SLOTS_H

#include <stddef.h>
#include <stdint.h>

#include "principal.h"

#define MAX_KV_SLOTS 16
#define SLOTS_PER_CALLER 4
#define SLOT_PROTECT_SECONDS 600ull

typedef struct {
  int slot;      /* the slot to use: a kept conversation's, or slots_scratch() */
  size_t reused; /* leading tokens the slot already holds (at most n - 1: the last one is fed again) */
  int no_slot;   /* 1: the caller wanted a slot of its own and every one is protected (slot is the scratch slot) */
} slot_choice;

/* Every slot empty (a new model): n_slots KV slots of n_ctx positions, the last one the scratch
 * slot (n_slots ≤ MAX_KV_SLOTS + 1). */
void slots_reset(int n_slots, int n_ctx);
int slots_count(void);   /* conversations kept: n_slots - 1 */
int slots_scratch(void); /* the scratch slot's index */
/* The slot to feed tokens[0..n) through for this caller at IC time `now` (ns): its slot sharing
 * the longest prefix (if that prefix is at least half of what the slot holds), else a fresh one
 * (see above); for the anonymous principal the scratch slot, with nothing reused. */
slot_choice slots_choose(const principal_id *caller, const uint32_t *tokens, size_t n, uint64_t now);
/* Nanoseconds from `now` until some slot stops being protected (0 if one is free already). */
uint64_t slots_wait(uint64_t now);
/* The caller owns `slot`, which keeps its first `reused` tokens; marks it used at `now`. */
void slots_claim(int slot, const principal_id *caller, size_t reused, uint64_t now);
/* Positions from..to-1 of `slot` now hold tokens[from..to). */
void slots_append(int slot, const uint32_t *tokens, size_t from, size_t to);
void slots_set(int slot, size_t pos, uint32_t token); /* position pos holds token (pos == count) */
void slots_forget(int slot);                          /* empty and ownerless, its token list zeroed */
int slots_forget_owner(const principal_id *owner);    /* forget every slot `owner` holds; returns how many */
int slots_held(const principal_id *owner);            /* how many slots `owner` holds */

#endif
