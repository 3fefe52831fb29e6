/* kv_slots.c: per-caller KV slots, least recently used evicted (kv_slots.h). */
#include "kv_slots.h"

#include "rt.h"

typedef struct {
  principal_id owner; /* size 0: free */
  uint32_t *tokens;   /* n_ctx */
  size_t count;
  uint64_t used;      /* the clock at its last claim */
} slot_state;

static slot_state table[MAX_KV_SLOTS + 1];
static int n_table; /* kept conversations; table[n_table] is the scratch slot */
static uint64_t clock;
static uint32_t *token_store;
static size_t token_capacity;

principal_id caller_id(void) {
  principal_id p;
  p.size = rt_caller(p.bytes);
  return p;
}

int is_anonymous(const principal_id *p) { return p->size == 1 && p->bytes[0] == 0x04; }

static int same(const principal_id *a, const principal_id *b) { return a->size == b->size && !memcmp(a->bytes, b->bytes, a->size); }

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

static size_t common_prefix(const slot_state *s, const uint32_t *tokens, size_t n) {
  size_t k = 0;
  while (k < s->count && k + 1 < n && s->tokens[k] == tokens[k]) k++;
  return k;
}

/* The least recently used slot, free ones first; among the caller's own slots if `only` is set. */
static int least_recent(const principal_id *only) {
  int pick = -1;
  for (int i = 0; i < n_table; i++) {
    const slot_state *s = &table[i];
    if (only && !same(&s->owner, only)) continue;
    if (!only && !s->owner.size) return i;
    if (pick < 0 || s->used < table[pick].used) pick = i;
  }
  return pick;
}

slot_choice slots_choose(const principal_id *caller, const uint32_t *tokens, size_t n) {
  if (is_anonymous(caller)) return (slot_choice){n_table, 0};
  int best = -1, own = 0;
  size_t best_k = 0;
  for (int i = 0; i < n_table; i++) {
    if (!table[i].owner.size || !same(&table[i].owner, caller)) continue;
    own++;
    size_t k = common_prefix(&table[i], tokens, n);
    if (best < 0 || k > best_k) best = i, best_k = k;
  }
  /* extend or rewind a conversation that mostly matches; anything else is a new conversation */
  if (best >= 0 && best_k && 2 * best_k >= table[best].count) return (slot_choice){best, best_k};
  return (slot_choice){own >= SLOTS_PER_CALLER ? least_recent(caller) : least_recent(0), 0};
}

void slots_claim(int slot, const principal_id *caller, size_t reused) {
  table[slot].owner = *caller;
  table[slot].count = reused;
  table[slot].used = ++clock;
}

void slots_append(int slot, const uint32_t *tokens, size_t from, size_t to) {
  memcpy(table[slot].tokens + from, tokens + from, (to - from) * sizeof(uint32_t));
  table[slot].count = to;
}

void slots_set(int slot, size_t pos, uint32_t token) {
  table[slot].tokens[pos] = token;
  table[slot].count = pos + 1;
}

void slots_forget(int slot) {
  table[slot].owner.size = 0;
  table[slot].count = 0;
}
