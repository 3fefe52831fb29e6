/* store.h: the asset store — assets with their encodings, upload batches and chunks, all content
 * in stable memory (extents.h), the index persisted at every change.
 *
 * An asset (key "/index.html") has a content type, optional max_age and headers, and one content
 * per encoding ("identity", "gzip", ...): its length, SHA-256, modification time and the stable
 * memory extents holding its bytes. Uploads go through batches: create_chunk writes each chunk to
 * stable memory as it arrives and hashes it onto a running SHA-256 chain (consecutive chunks of a
 * batch, while they are full-sized), so commit can finish an asset's digest without re-reading a
 * large file; commit_batch validates every operation first (hashes included) and only then applies
 * them, so it either changes everything or nothing. A batch expires AS_BATCH_EXPIRY_NS after its
 * last use; its chunks are freed.
 *
 * Stable memory: bytes 0..63 are the superblock ("ICASSETS", index offset, size, SHA-256); the
 * index (assets, encodings, extents, authorized principals) is rewritten to a fresh extent at every
 * change and the superblock switched to it last, all in the same message. as_load rebuilds the heap
 * state from it (post_upgrade). Batches live in the heap only: an upgrade drops them.
 *
 * Text (keys, encodings, headers) is copied to NUL-terminated heap strings; texts holding a NUL
 * byte are refused by the caller (main.c) before they reach the store.
 */
#ifndef STORE_H
#define STORE_H

#include <stddef.h>
#include <stdint.h>

#include "extents.h"
#include "sha256.h"

#define AS_BATCH_EXPIRY_NS (300ull * 1000000000ull) /* 5 minutes without a create_chunk */
#define AS_MAX_BATCHES 64
#define AS_WINDOW 2031616u        /* bytes per get_chunk / streaming answer: 2 MiB - 64 KiB for the rest */
#define AS_MAX_KEY 4096
#define AS_MAX_HEADERS 64
/* Instructions a commit may spend hashing chunks that did not arrive in order (40B per update;
 * SHA-256 costs ~73 per byte, reading stable memory ~1): about 400 MB. */
#define AS_COMMIT_HASH_BUDGET 32000000000ull
#define AS_HASH_COST_PER_BYTE 76ull

typedef struct {
  const char *data;
  size_t size;
} as_text; /* text inside the message, not NUL-terminated */

typedef struct {
  char *name, *value;
} as_header;

typedef struct {
  char *name;
  uint64_t length;
  uint8_t sha256[32];
  int64_t modified;   /* ns since 1970 */
  uint32_t n_extents;
  ex_extent *extents; /* the content is their concatenation */
} as_encoding;

typedef struct {
  char *key;
  size_t key_size;
  char *content_type;
  int has_max_age;
  uint64_t max_age;
  int has_headers;
  uint32_t n_headers;
  as_header *headers;
  int8_t allow_raw_access, is_aliased; /* -1: none, 0: false, 1: true */
  uint32_t n_encodings;
  as_encoding *encodings;
} as_asset;

/* ---- assets ---- */
size_t as_count(void);
as_asset *as_at(size_t i); /* sorted by key */
as_asset *as_find(const char *key, size_t size);
as_encoding *as_encoding_of(as_asset *a, const char *name, size_t size);
/* Copy `size` bytes of the content from `offset` to dst (the caller checks the range). */
void as_read(const as_encoding *e, uint64_t offset, void *dst, uint64_t size);
uint64_t as_windows(const as_encoding *e); /* number of AS_WINDOW pieces (at least 1) */
/* Window `index` (< as_windows(e)) of the content, read into scratch memory; returns its size. */
uint64_t as_read_window(const as_encoding *e, uint64_t index, uint8_t **out);
/* The same window's size, and the window read into `dst` (as_window_size bytes): replies read it
 * straight into their Candid blob, so a 2 MB answer writes its heap pages once. */
uint64_t as_window_size(const as_encoding *e, uint64_t index);
void as_read_window_into(const as_encoding *e, uint64_t index, uint8_t *dst);

/* Called after an asset changed (created, content set or unset, properties, deleted), with its key,
 * or with NULL when everything may have changed (clear, load). Set by the serving module. */
extern void (*as_on_change)(const char *key, size_t size);

/* Called after every successful change (commit_batch, store and the single-operation methods),
 * once the store is updated and persisted, so a canister can check what the store now holds as a
 * whole (the gpt2 canister: does the model bundle add up?). It may trap to undo the whole message:
 * a trap rolls back heap and stable memory, so the store stays as it was before the call. */
extern void (*as_on_commit)(void);

/* ---- operations (commit_batch and the single-call methods) ---- */
typedef enum { AS_CREATE, AS_SET_CONTENT, AS_UNSET_CONTENT, AS_DELETE, AS_CLEAR, AS_SET_PROPERTIES } as_op_kind;

/* opt opt fields of SetAssetProperties: keep, set to none, or set to a value. */
enum { AS_KEEP = 0, AS_SET_NONE = 1, AS_SET = 2 };

typedef struct {
  as_op_kind kind;
  as_text key, content_type, encoding;
  int max_age_op, headers_op, raw_op, alias_op; /* AS_KEEP / AS_SET_NONE / AS_SET */
  uint64_t max_age;
  int allow_raw_access, is_aliased;
  size_t n_headers;
  as_text *header_names, *header_values;
  size_t n_chunks;
  uint64_t *chunk_ids;
  int has_last_chunk, has_sha256;
  as_text last_chunk, sha256; /* bytes */
  /* filled by validation */
  uint8_t digest[32];
  uint64_t length;
} as_op;

/* Validate all operations against the store as it would be after the ones before them, then
 * apply them all. batch_id 0 means no batch (single-call methods: no chunk ids allowed).
 * Returns NULL on success or the reason (nothing changed); the batch is consumed on success. */
const char *as_commit(uint64_t batch_id, as_op *ops, size_t n, int64_t now);
/* store: create-or-update an asset with one encoding from the message's bytes. */
const char *as_store(as_text key, as_text content_type, as_text encoding, as_text content, int has_sha256,
                     as_text sha256, int64_t now);

/* ---- batches ---- */
const char *as_create_batch(int64_t now, uint64_t *batch_id);
const char *as_create_chunk(uint64_t batch_id, const uint8_t *data, size_t size, int64_t now, uint64_t *chunk_id);
const char *as_delete_batch(uint64_t batch_id);
size_t as_pending_batches(void);
int as_batch_exists(uint64_t batch_id);

/* ---- authorized principals (besides controllers) ---- */
int as_is_authorized(const uint8_t *principal, size_t size);
void as_authorize(const uint8_t *principal, size_t size);
void as_deauthorize(const uint8_t *principal, size_t size);
size_t as_authorized_count(void);
const uint8_t *as_authorized_at(size_t i, size_t *size);

/* ---- persistence ---- */
void as_persist(void); /* write the index and switch the superblock to it */
void as_load(void);    /* post_upgrade: read the index back (traps on a corrupt one: the upgrade fails) */

#endif /* STORE_H */
