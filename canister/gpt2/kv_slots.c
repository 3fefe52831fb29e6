/* kv_slots.c: per-caller KV slots, recently used ones protected from other callers (kv_slots.h). */
#include "kv_slots.h"

#include "rt.h"
#include "utc.h"

typedef struct {
  principal_id owner; /* size 0: free */
  uint32_t *tokens;   /* n_ctx */
  size_t count;
  uint64_t used;      /* the clock at its last claim: orders slots used at the same IC time */
  uint64_t used_at;   /* IC time (ns) of its last claim: protection from other callers */
} slot_state;

static slot_state table[MAX_KV_SLOTS + 1];
static int n_table; /* kept conversations; table[n_table] is the scratch slot */
static uint64_t clock;
static uint32_t *token_store;
static size_t token_capacity;

void slots_reset(int n_slots, int n_ctx) {
  size_t need = (size_t)n_slots * n_ctx;
  if (need > token_capacity) {
    token_store = rt_alloc(need * sizeof(uint32_t), 16);
    token_capacity = need;
  }
  n_table = n_slots - 1;
  for (int i = 0; i <= MAX_KV_SLOTS; i++)
    table[i] = (slot_state){.tokens = i < n_slots ? token_store + (size_t)i * n_ctx : 0};
}

int slots_count(void) { return n_table; }
int slots_scratch(void) { return n_table; }

static size_t common_prefix(const slot_state *s, const uint32_t *tokens, size_t n) {
  size_t k = 0;
  while (k < s->count && k + 1 < n && s->tokens[k] == tokens[k]) k++;
  return k;
}

/* Is slot i its owner's most recently used one (the conversation it is having)? */
static int owners_latest(int i) {
  const slot_state *s = &table[i];
  for (int j = 0; j < n_table; j++)
    if (j != i && table[j].used > s->used && same_principal(&table[j].owner, &s->owner)) return 0;
  return 1;
}

static int is_protected(int i, uint64_t now) {
  const slot_state *s = &table[i];
  return s->owner.size && now < s->used_at + SLOT_PROTECT_SECONDS * NS_PER_SECOND && owners_latest(i);
}

/* May `caller` put a new conversation in slot i? Free, its own, or unprotected. */
static int takeable(int i, const principal_id *caller, uint64_t now) {
  const slot_state *s = &table[i];
  return !s->owner.size || same_principal(&s->owner, caller) || !is_protected(i, now);
}

/* The least recently used slot `caller` may take, free ones first; among its own slots only if
 * `own_only`. -1 if none. */
static int least_recent(const principal_id *caller, int own_only, uint64_t now) {
  int pick = -1;
  for (int i = 0; i < n_table; i++) {
    const slot_state *s = &table[i];
    if (own_only ? !same_principal(&s->owner, caller) : !takeable(i, caller, now)) continue;
    if (!own_only && !s->owner.size) return i;
    if (pick < 0 || s->used < table[pick].used) pick = i;
  }
  return pick;
}

slot_choice slots_choose(const principal_id *caller, const uint32_t *tokens, size_t n, uint64_t now) {
  if (is_anonymous(caller)) return (slot_choice){n_table, 0, 0};
  int best = -1, own = 0;
  size_t best_k = 0;
  for (int i = 0; i < n_table; i++) {
    if (!table[i].owner.size || !same_principal(&table[i].owner, caller)) continue;
    own++;
    size_t k = common_prefix(&table[i], tokens, n);
    if (best < 0 || k > best_k) best = i, best_k = k;
  }
  /* extend or rewind a conversation that mostly matches; anything else is a new conversation */
  if (best >= 0 && best_k && 2 * best_k >= table[best].count) return (slot_choice){best, best_k, 0};
  int slot = least_recent(caller, own >= SLOTS_PER_CALLER, now);
  if (slot < 0) return (slot_choice){n_table, 0, 1};
  return (slot_choice){slot, 0, 0};
}

uint64_t slots_wait(uint64_t now) {
  uint64_t wait = ~0ull;
  for (int i = 0; i < n_table; i++) {
    if (!is_protected(i, now)) return 0;
    uint64_t left = table[i].used_at + SLOT_PROTECT_SECONDS * NS_PER_SECOND - now;
    if (left < wait) wait = left;
  }
  return n_table ? wait : 0;
}

void slots_claim(int slot, const principal_id *caller, size_t reused, uint64_t now) {
  table[slot].owner = *caller;
  table[slot].count = reused;
  table[slot].used = ++clock;
  table[slot].used_at = now;
}

void slots_append(int slot, const uint32_t *tokens, size_t from, size_t to) {
  memcpy(table[slot].tokens + from, tokens + from, (to - from) * sizeof(uint32_t));
  table[slot].count = to;
}

void slots_set(int slot, size_t pos, uint32_t token) {
  table[slot].tokens[pos] = token;
  table[slot].count = pos + 1;
}

/* The token list is zeroed, not only its count: the conversation's text is gone from the heap
 * (its keys and values stay until overwritten, unreachable: nothing matches an empty list). */
void slots_forget(int slot) {
  memset(table[slot].tokens, 0, table[slot].count * sizeof(uint32_t));
  table[slot].owner.size = 0;
  table[slot].count = 0;
  table[slot].used_at = 0;
}

int slots_forget_owner(const principal_id *owner) {
  int forgotten = 0;
  for (int i = 0; i < n_table; i++)
    if (table[i].owner.size && same_principal(&table[i].owner, owner)) slots_forget(i), forgotten++;
  return forgotten;
}

int slots_held(const principal_id *owner) {
  int held = 0;
  for (int i = 0; i < n_table; i++) held += table[i].owner.size && same_principal(&table[i].owner, owner);
  return held;
}
