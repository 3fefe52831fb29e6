/* certtree.h: a labeled hash tree (IC interface spec, "Certification" / HashTree) kept in canister
 * heap: paths of labels -> leaf values; root hash for ic0.certified_data_set; witnesses as CBOR.
 *
 * Shape (as the IC's certified maps and icchat.ic.hashtree.from_dict): each inner node's children
 * are sorted by label (bytewise) and hashed as a balanced tree of Fork nodes (left half = the
 * first n/2 children) over Labeled(label, child) nodes; an inner node without children is Empty.
 * Every Labeled and Fork hash is cached; puts and removes mark their path dirty and the next
 * ct_root_hash recomputes only what changed (a whole node's forks when its child count changed).
 * Memory comes from rt_malloc (alloc.h): labels and values are copied in, freed on remove.
 */
#ifndef CERTTREE_H
#define CERTTREE_H

#include <stddef.h>
#include <stdint.h>

#include "rt.h"

typedef struct ct_tree ct_tree;
typedef struct { const uint8_t *data; uint32_t size; } ct_label;
typedef struct { const ct_label *labels; size_t depth; } ct_path;

/* A label from a NUL-terminated string (not copied). */
static inline ct_label ct_str(const char *s) {
  ct_label l = {(const uint8_t *)s, (uint32_t)strlen(s)};
  return l;
}

ct_tree *ct_new(void);                         /* an empty tree (rt_malloc memory) */
void ct_delete(ct_tree *t);                    /* frees the tree and everything in it */
/* Set the leaf at `path` (depth >= 1 labels) to `value` (copied). Inner nodes are created as needed.
 * A path may not run through an existing leaf, nor may a leaf replace an inner node: trap (a bug). */
void ct_put(ct_tree *t, ct_path path, const void *value, size_t size);
/* Why ct_put(t, path, ...) would trap ("path runs through a leaf", ...), or NULL if it is fine:
 * validate user-chosen paths with it and reject instead of trapping. */
const char *ct_put_conflict(ct_tree *t, ct_path path);
/* Remove the node at `path` (leaf or whole subtree) and every ancestor left empty; absent = no-op.
 * Depth 0 empties the whole tree. */
void ct_remove(ct_tree *t, ct_path path);
int ct_contains(ct_tree *t, ct_path path);     /* 1 if a node (leaf or inner) exists at path */
/* The leaf value at `path` (not copied; valid until the next change), or NULL if no leaf is there. */
const uint8_t *ct_get(ct_tree *t, ct_path path, size_t *size);
/* reconstruct(tree); cached hashes, recomputed lazily. Call it in the update that changed the
 * tree (for ic0.certified_data_set anyway): what a query recomputes is not kept. */
void ct_root_hash(ct_tree *t, uint8_t out[32]);
/* Append to `out` the CBOR (with self-describing tag 55799) of a witness: the tree with every node
 * pruned except what is needed to reveal each of `paths`: for a present path, its labels and its leaf
 * (or, for a path to an inner node, that node's whole subtree); for an absent path, the neighbouring
 * labels that make a verifier's lookup answer Absent (not Unknown). reconstruct(witness) == root hash.
 * The same tree as icchat.ic.hashtree.prune(tree, paths) (a path running through a leaf reveals it). */
void ct_witness(ct_tree *t, const ct_path *paths, size_t n, rt_buf *out);

#endif /* CERTTREE_H */
