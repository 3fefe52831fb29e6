/* certtree.c: the labeled hash tree of certtree.h.
 *
 * Node layout:
 *   leaf:  value[size]
 *   inner: children[count] sorted by label, each {label, node, labeled = H(Labeled(label, node)),
 *          fork}. fork_all over [lo, hi) splits at mid = lo + (hi - lo) / 2, and every gap between
 *          two neighbouring children is the split point of exactly one fork, so children[mid - 1]
 *          keeps the hash of the fork split right after it, with that fork's range (first and last
 *          child node, count) as it was when hashed.
 *   hash:  reconstruct(node): the leaf hash, or the forest's hash (Empty, one Labeled, or a Fork).
 * `dirty`: hash (and the parent's `labeled` for it) is stale; `reshaped`: the child count changed,
 * so the forks' ranges moved. A reshaped node re-hashes a fork only if its range holds a changed
 * child or differs from the range kept with it (inserting 1 into 200 re-hashes ~half the forks,
 * not all); an unchanged node re-hashes the forks above changed children. Clean subtrees are
 * never revisited. Kept ranges are never stale: every pass re-checks or re-hashes every fork of a
 * reshaped node, and a recycled node address cannot fool the check because new nodes are dirty.
 */
#include "certtree.h"

#include "alloc.h"
#include "cbor.h"
#include "sha256.h"

typedef struct ct_node ct_node;

typedef struct {
  uint8_t *label;
  uint32_t label_size;
  ct_node *node;
  uint8_t labeled[32];
  uint8_t fork[32];             /* the fork split after this child (not for the last child) */
  ct_node *fork_first, *fork_last; /* its range when hashed */
  uint32_t fork_count;
} ct_child;

struct ct_node {
  uint8_t is_leaf, dirty, reshaped;
  uint8_t hash[32];
  uint8_t *value; /* leaf */
  size_t size;
  ct_child *children; /* inner */
  uint32_t count, capacity;
};

struct ct_tree {
  ct_node root; /* always inner */
};

/* ---- hashing (interface spec: domain separators are a length byte and the name) ---- */

static const uint8_t DOMAIN_EMPTY[] = "\x11ic-hashtree-empty";
static const uint8_t DOMAIN_FORK[] = "\x10ic-hashtree-fork";
static const uint8_t DOMAIN_LABELED[] = "\x13ic-hashtree-labeled";
static const uint8_t DOMAIN_LEAF[] = "\x10ic-hashtree-leaf";

static void hash2(const uint8_t *domain, size_t n, const void *a, size_t na, const void *b, size_t nb, uint8_t out[32]) {
  sha256_ctx ctx;
  sha256_init(&ctx);
  sha256_update(&ctx, domain, n);
  sha256_update(&ctx, a, na);
  sha256_update(&ctx, b, nb);
  sha256_final(&ctx, out);
}

static const uint8_t *range_hash(const ct_node *node, uint32_t lo, uint32_t hi) {
  return hi - lo == 1 ? node->children[lo].labeled : node->children[lo + (hi - lo) / 2 - 1].fork;
}

static void node_hash(ct_node *node);

/* Recompute the stale hashes of children [lo, hi) and the forks over them; 1 if any changed. */
static int update_range(ct_node *node, uint32_t lo, uint32_t hi) {
  if (hi - lo == 1) {
    ct_child *c = &node->children[lo];
    if (!c->node->dirty) return 0;
    node_hash(c->node);
    hash2(DOMAIN_LABELED, sizeof DOMAIN_LABELED - 1, c->label, c->label_size, c->node->hash, 32, c->labeled);
    return 1;
  }
  uint32_t mid = lo + (hi - lo) / 2;
  int changed = update_range(node, lo, mid);
  changed |= update_range(node, mid, hi);
  ct_child *gap = &node->children[mid - 1];
  if (!changed && (!node->reshaped || (gap->fork_first == node->children[lo].node &&
                                       gap->fork_last == node->children[hi - 1].node && gap->fork_count == hi - lo)))
    return 0; /* same children, same hashes: the kept fork hash holds */
  hash2(DOMAIN_FORK, sizeof DOMAIN_FORK - 1, range_hash(node, lo, mid), 32, range_hash(node, mid, hi), 32, gap->fork);
  gap->fork_first = node->children[lo].node;
  gap->fork_last = node->children[hi - 1].node;
  gap->fork_count = hi - lo;
  return 1;
}

static void node_hash(ct_node *node) {
  if (!node->dirty) return;
  if (node->is_leaf) {
    hash2(DOMAIN_LEAF, sizeof DOMAIN_LEAF - 1, node->value, node->size, 0, 0, node->hash);
  } else if (!node->count) {
    hash2(DOMAIN_EMPTY, sizeof DOMAIN_EMPTY - 1, 0, 0, 0, 0, node->hash);
  } else {
    update_range(node, 0, node->count);
    memcpy(node->hash, range_hash(node, 0, node->count), 32);
  }
  node->dirty = node->reshaped = 0;
}

/* ---- nodes ---- */

static int label_cmp(const uint8_t *a, uint32_t na, const uint8_t *b, uint32_t nb) {
  uint32_t n = na < nb ? na : nb;
  for (uint32_t i = 0; i < n; i++)
    if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
  return na < nb ? -1 : na > nb;
}

/* Binary search: 1 and the index if found, else 0 and the insertion point. */
static int find(const ct_node *node, ct_label label, uint32_t *at) {
  uint32_t lo = 0, hi = node->count;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    int c = label_cmp(node->children[mid].label, node->children[mid].label_size, label.data, label.size);
    if (c == 0) {
      *at = mid;
      return 1;
    }
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  *at = lo;
  return 0;
}

static ct_node *new_node(int is_leaf) {
  ct_node *n = rt_calloc(1, sizeof *n);
  n->is_leaf = (uint8_t)is_leaf;
  n->dirty = 1;
  return n;
}

static void free_node(ct_node *n) {
  if (n->is_leaf) {
    rt_free(n->value);
  } else {
    for (uint32_t i = 0; i < n->count; i++) {
      free_node(n->children[i].node);
      rt_free(n->children[i].label);
    }
    rt_free(n->children);
  }
  rt_free(n);
}

static void set_value(ct_node *leaf, const void *value, size_t size) {
  rt_free(leaf->value);
  leaf->value = rt_malloc(size);
  memcpy(leaf->value, value, size);
  leaf->size = size;
  leaf->dirty = 1;
}

static ct_node *insert_child(ct_node *node, uint32_t at, ct_label label, int is_leaf) {
  if (node->count == node->capacity) {
    uint32_t capacity = node->capacity ? node->capacity * 2 : 4;
    node->children = rt_realloc(node->children, capacity * sizeof *node->children);
    node->capacity = capacity;
  }
  memmove(node->children + at + 1, node->children + at, (node->count - at) * sizeof *node->children);
  ct_child *c = &node->children[at];
  c->label = rt_malloc(label.size);
  memcpy(c->label, label.data, label.size);
  c->label_size = label.size;
  c->node = new_node(is_leaf);
  c->fork_first = c->fork_last = 0; /* no fork kept yet */
  node->count++;
  node->reshaped = node->dirty = 1;
  return c->node;
}

static void remove_child(ct_node *node, uint32_t at) {
  free_node(node->children[at].node);
  rt_free(node->children[at].label);
  memmove(node->children + at, node->children + at + 1, (node->count - at - 1) * sizeof *node->children);
  node->count--;
  node->reshaped = node->dirty = 1;
}

/* ---- the tree ---- */

ct_tree *ct_new(void) {
  ct_tree *t = rt_calloc(1, sizeof *t);
  t->root.dirty = 1;
  return t;
}

void ct_delete(ct_tree *t) {
  for (uint32_t i = 0; i < t->root.count; i++) {
    free_node(t->root.children[i].node);
    rt_free(t->root.children[i].label);
  }
  rt_free(t->root.children);
  rt_free(t);
}

const char *ct_put_conflict(ct_tree *t, ct_path path) {
  if (!path.depth) return "a leaf needs a path of at least one label";
  ct_node *node = &t->root;
  for (size_t i = 0; i < path.depth; i++) {
    uint32_t at;
    if (!find(node, path.labels[i], &at)) return 0;
    node = node->children[at].node;
    if (node->is_leaf && i + 1 < path.depth) return "the path runs through an existing leaf";
    if (!node->is_leaf && i + 1 == path.depth) return "a leaf may not replace an inner node";
  }
  return 0;
}

void ct_put(ct_tree *t, ct_path path, const void *value, size_t size) {
  const char *conflict = ct_put_conflict(t, path);
  if (conflict) rt_trapf("ct_put: %s", conflict);
  ct_node *node = &t->root;
  for (size_t i = 0; i < path.depth; i++) {
    int last = i + 1 == path.depth;
    uint32_t at;
    node->dirty = 1;
    node = find(node, path.labels[i], &at) ? node->children[at].node : insert_child(node, at, path.labels[i], last);
  }
  set_value(node, value, size);
}

void ct_remove(ct_tree *t, ct_path path) {
  if (!path.depth) { /* the root: everything */
    while (t->root.count) remove_child(&t->root, t->root.count - 1);
    return;
  }
  ct_node *stack[path.depth];
  uint32_t index[path.depth];
  ct_node *node = &t->root;
  for (size_t i = 0; i < path.depth; i++) {
    if (node->is_leaf || !find(node, path.labels[i], &index[i])) return; /* absent */
    stack[i] = node;
    node = node->children[index[i]].node;
  }
  size_t level = path.depth - 1; /* remove at stack[level], then climb while parents are left empty */
  remove_child(stack[level], index[level]);
  while (level > 0 && stack[level]->count == 0) {
    level--;
    remove_child(stack[level], index[level]);
  }
  for (size_t i = 0; i < level; i++) stack[i]->dirty = 1;
}

static ct_node *lookup(ct_tree *t, ct_path path) {
  ct_node *node = &t->root;
  for (size_t i = 0; i < path.depth; i++) {
    uint32_t at;
    if (node->is_leaf || !find(node, path.labels[i], &at)) return 0;
    node = node->children[at].node;
  }
  return node;
}

int ct_contains(ct_tree *t, ct_path path) { return lookup(t, path) != 0; }

const uint8_t *ct_get(ct_tree *t, ct_path path, size_t *size) {
  ct_node *node = lookup(t, path);
  if (!node || !node->is_leaf) return 0;
  *size = node->size;
  return node->value;
}

void ct_root_hash(ct_tree *t, uint8_t out[32]) {
  node_hash(&t->root);
  memcpy(out, t->root.hash, 32);
}

/* ---- witnesses (mirrors icchat.ic.hashtree.prune node for node) ----
 * CBOR nodes: [0] Empty, [1, l, r] Fork, [2, label, t] Labeled, [3, value] Leaf, [4, hash] Pruned. */

static void emit_pruned(rt_buf *out, const uint8_t hash[32]) {
  rt_buf_append(out, "\x82\x04\x58\x20", 4);
  rt_buf_append(out, hash, 32);
}

static void emit_full(rt_buf *out, const ct_node *node);

static void emit_full_range(rt_buf *out, const ct_node *node, uint32_t lo, uint32_t hi) {
  if (hi - lo == 1) {
    const ct_child *c = &node->children[lo];
    rt_buf_append(out, "\x83\x02", 2);
    cbor_bytes(out, c->label, c->label_size);
    emit_full(out, c->node);
    return;
  }
  uint32_t mid = lo + (hi - lo) / 2;
  rt_buf_append(out, "\x83\x01", 2);
  emit_full_range(out, node, lo, mid);
  emit_full_range(out, node, mid, hi);
}

static void emit_full(rt_buf *out, const ct_node *node) {
  if (node->is_leaf) {
    rt_buf_append(out, "\x82\x03", 2);
    cbor_bytes(out, node->value, node->size);
  } else if (!node->count) {
    rt_buf_append(out, "\x81\x00", 2);
  } else {
    emit_full_range(out, node, 0, node->count);
  }
}

/* A child some paths lead to (or that proves a path absent, with no paths of its own). */
typedef struct {
  uint32_t child;
  uint32_t first, n; /* its paths: want_paths[first .. first + n) */
} wanted;

typedef struct {
  const ct_path *paths;
  rt_buf *out;
} witness_ctx;

static void emit_node(witness_ctx *w, const ct_node *node, const uint32_t *ids, size_t n, size_t depth);

static void emit_range(witness_ctx *w, const ct_node *node, uint32_t lo, uint32_t hi, const wanted *want, size_t n_want,
                       size_t *cursor, const uint32_t *want_paths, size_t depth) {
  if (*cursor >= n_want || want[*cursor].child >= hi) {
    emit_pruned(w->out, range_hash(node, lo, hi));
    return;
  }
  if (hi - lo == 1) {
    const wanted *x = &want[(*cursor)++];
    const ct_child *c = &node->children[lo];
    rt_buf_append(w->out, "\x83\x02", 2);
    cbor_bytes(w->out, c->label, c->label_size);
    emit_node(w, c->node, want_paths + x->first, x->n, depth + 1);
    return;
  }
  uint32_t mid = lo + (hi - lo) / 2;
  rt_buf_append(w->out, "\x83\x01", 2);
  emit_range(w, node, lo, mid, want, n_want, cursor, want_paths, depth);
  emit_range(w, node, mid, hi, want, n_want, cursor, want_paths, depth);
}

/* The witness of `node` for the paths ids[0..n), each with `depth` labels consumed. */
static void emit_node(witness_ctx *w, const ct_node *node, const uint32_t *ids, size_t n, size_t depth) {
  int inner = !node->is_leaf && node->count;
  if (!n) {
    if (inner || node->is_leaf) emit_pruned(w->out, node->hash);
    else rt_buf_append(w->out, "\x81\x00", 2);
    return;
  }
  for (size_t i = 0; i < n; i++)
    if (w->paths[ids[i]].depth == depth) inner = 0; /* a path ends here: reveal everything below */
  if (!inner) {
    emit_full(w->out, node);
    return;
  }
  /* Each path picks its child, or (absent) both neighbours of where its label would be. */
  wanted *want = rt_scratch(2 * n * sizeof *want, 8);
  uint32_t *want_paths = rt_scratch(n * sizeof *want_paths, 4);
  size_t n_want = 0;
  for (size_t i = 0; i < n; i++) {
    uint32_t at;
    if (find(node, w->paths[ids[i]].labels[depth], &at)) {
      want[n_want++] = (wanted){at, ids[i], 1}; /* `first` holds the path id until grouped */
    } else {
      if (at > 0) want[n_want++] = (wanted){at - 1, 0, 0};
      if (at < node->count) want[n_want++] = (wanted){at, 0, 0};
    }
  }
  for (size_t i = 1; i < n_want; i++) { /* insertion sort by child, stable: witnesses ask for few paths */
    wanted x = want[i];
    size_t j = i;
    for (; j > 0 && want[j - 1].child > x.child; j--) want[j] = want[j - 1];
    want[j] = x;
  }
  size_t groups = 0, n_paths = 0;
  for (size_t i = 0; i < n_want; i++) { /* in place: group g is written at or before entry i */
    wanted x = want[i];
    if (!groups || want[groups - 1].child != x.child) want[groups++] = (wanted){x.child, (uint32_t)n_paths, 0};
    if (x.n) {
      want_paths[n_paths++] = x.first;
      want[groups - 1].n++;
    }
  }
  size_t cursor = 0;
  emit_range(w, node, 0, node->count, want, groups, &cursor, want_paths, depth);
}

void ct_witness(ct_tree *t, const ct_path *paths, size_t n, rt_buf *out) {
  node_hash(&t->root);
  uint32_t *ids = rt_scratch((n ? n : 1) * sizeof *ids, 4);
  for (size_t i = 0; i < n; i++) ids[i] = (uint32_t)i;
  witness_ctx w = {paths, out};
  cbor_self_describe(out);
  emit_node(&w, &t->root, ids, n, 0);
}
