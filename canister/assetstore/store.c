/* store.c: assets, encodings, batches and chunks in stable memory (see store.h). */
#include "store.h"

#include "alloc.h"
#include "rt.h"

void (*as_on_change)(const char *key, size_t size);
void (*as_on_commit)(void);

static void changed(const char *key, size_t size) {
  if (as_on_change) as_on_change(key, size);
}

/* ================================ heap helpers ================================ */

static char *copy_text(as_text t) {
  char *s = rt_malloc(t.size + 1);
  memcpy(s, t.data, t.size);
  s[t.size] = 0;
  return s;
}

static int compare_keys(const char *a, size_t na, const char *b, size_t nb) {
  size_t n = na < nb ? na : nb;
  int c = memcmp(a, b, n);
  return c ? c : (na < nb ? -1 : na > nb);
}

/* ================================ assets ================================ */

static as_asset **assets; /* sorted by key */
static size_t n_assets, cap_assets;

size_t as_count(void) { return n_assets; }
as_asset *as_at(size_t i) { return assets[i]; }

/* Index of the first asset whose key is >= key. */
static size_t lower_bound(const char *key, size_t size) {
  size_t lo = 0, hi = n_assets;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (compare_keys(assets[mid]->key, assets[mid]->key_size, key, size) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

as_asset *as_find(const char *key, size_t size) {
  size_t i = lower_bound(key, size);
  return i < n_assets && !compare_keys(assets[i]->key, assets[i]->key_size, key, size) ? assets[i] : 0;
}

as_encoding *as_encoding_of(as_asset *a, const char *name, size_t size) {
  for (uint32_t i = 0; i < a->n_encodings; i++)
    if (strlen(a->encodings[i].name) == size && !memcmp(a->encodings[i].name, name, size)) return &a->encodings[i];
  return 0;
}

static as_asset *insert_asset(as_text key) {
  if (n_assets == cap_assets) {
    cap_assets = cap_assets ? 2 * cap_assets : 64;
    assets = rt_realloc(assets, cap_assets * sizeof *assets);
  }
  size_t at = lower_bound(key.data, key.size);
  memmove(assets + at + 1, assets + at, (n_assets - at) * sizeof *assets);
  as_asset *a = rt_calloc(1, sizeof *a);
  a->key = copy_text(key);
  a->key_size = key.size;
  a->content_type = copy_text((as_text){"", 0});
  a->allow_raw_access = a->is_aliased = -1;
  assets[at] = a;
  n_assets++;
  return a;
}

static void free_encoding(as_encoding *e) {
  for (uint32_t i = 0; i < e->n_extents; i++) ex_free(e->extents[i]);
  rt_free(e->extents);
  rt_free(e->name);
}

static void free_headers(as_asset *a) {
  for (uint32_t i = 0; i < a->n_headers; i++) {
    rt_free(a->headers[i].name);
    rt_free(a->headers[i].value);
  }
  rt_free(a->headers);
  a->headers = 0;
  a->n_headers = 0;
  a->has_headers = 0;
}

static void set_headers(as_asset *a, size_t n, const as_text *names, const as_text *values) {
  free_headers(a);
  a->has_headers = 1;
  a->n_headers = (uint32_t)n;
  a->headers = rt_malloc((n ? n : 1) * sizeof *a->headers);
  for (size_t i = 0; i < n; i++) {
    a->headers[i].name = copy_text(names[i]);
    a->headers[i].value = copy_text(values[i]);
  }
}

static void delete_asset(as_text key) {
  size_t at = lower_bound(key.data, key.size);
  if (at >= n_assets || compare_keys(assets[at]->key, assets[at]->key_size, key.data, key.size)) return;
  as_asset *a = assets[at];
  for (uint32_t i = 0; i < a->n_encodings; i++) free_encoding(&a->encodings[i]);
  rt_free(a->encodings);
  free_headers(a);
  rt_free(a->content_type);
  rt_free(a->key);
  rt_free(a);
  memmove(assets + at, assets + at + 1, (n_assets - at - 1) * sizeof *assets);
  n_assets--;
}

/* Replace (or add) the encoding `name` of `a`; takes ownership of `extents`. */
static void put_encoding(as_asset *a, as_text name, ex_extent *extents, uint32_t n_extents, uint64_t length,
                         const uint8_t digest[32], int64_t now) {
  as_encoding *e = as_encoding_of(a, name.data, name.size);
  if (e) {
    free_encoding(e);
  } else {
    a->encodings = rt_realloc(a->encodings, (a->n_encodings + 1) * sizeof *a->encodings);
    e = &a->encodings[a->n_encodings++];
  }
  e->name = copy_text(name);
  e->length = length;
  memcpy(e->sha256, digest, 32);
  e->modified = now;
  e->n_extents = n_extents;
  e->extents = extents;
}

static void unset_encoding(as_asset *a, as_text name) {
  as_encoding *e = as_encoding_of(a, name.data, name.size);
  if (!e) return;
  free_encoding(e);
  size_t i = (size_t)(e - a->encodings);
  memmove(e, e + 1, (a->n_encodings - i - 1) * sizeof *e);
  a->n_encodings--;
}

void as_read(const as_encoding *e, uint64_t offset, void *dst, uint64_t size) {
  uint8_t *out = dst;
  uint64_t start = 0;
  for (uint32_t i = 0; i < e->n_extents && size; i++) {
    uint64_t n = e->extents[i].size;
    if (offset < start + n) {
      uint64_t from = offset - start, take = n - from < size ? n - from : size;
      ic0_stable64_read((uint64_t)(uintptr_t)out, e->extents[i].offset + from, take);
      out += take;
      offset += take;
      size -= take;
    }
    start += n;
  }
}

uint64_t as_window_size(const as_encoding *e, uint64_t index) {
  uint64_t start = index * AS_WINDOW;
  return e->length - start < AS_WINDOW ? e->length - start : AS_WINDOW;
}

void as_read_window_into(const as_encoding *e, uint64_t index, uint8_t *dst) {
  as_read(e, index * AS_WINDOW, dst, as_window_size(e, index));
}

uint64_t as_read_window(const as_encoding *e, uint64_t index, uint8_t **out) {
  uint64_t size = as_window_size(e, index);
  *out = rt_scratch(size ? size : 1, 16);
  as_read_window_into(e, index, *out);
  return size;
}

uint64_t as_windows(const as_encoding *e) { return e->length ? (e->length + AS_WINDOW - 1) / AS_WINDOW : 1; }

/* ================================ batches and chunks ================================ */

typedef struct {
  uint64_t id, batch;
  ex_extent extent;
  uint64_t prev;   /* the chunk this one continues on the SHA-256 chain, 0 at a chain's start */
  uint64_t run;    /* size of the chain's first chunk: every chunk but the last has it */
  uint32_t mark;   /* commit attempt that used it (detects a chunk used twice) */
  sha256_ctx chain; /* the chain's state after this chunk */
} chunk;

typedef struct {
  uint64_t id;
  int64_t expires;
  uint64_t last_chunk; /* most recent chunk, 0 if none */
} batch;

static chunk *chunks; /* sorted by id (ids only grow) */
static size_t n_chunks, cap_chunks;
static batch batches[AS_MAX_BATCHES];
static size_t n_batches;
static uint64_t next_batch_id = 1, next_chunk_id = 1;
static uint32_t commit_mark;

static chunk *find_chunk(uint64_t id) {
  size_t lo = 0, hi = n_chunks;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (chunks[mid].id < id) lo = mid + 1;
    else hi = mid;
  }
  return lo < n_chunks && chunks[lo].id == id ? &chunks[lo] : 0;
}

static batch *find_batch(uint64_t id) {
  for (size_t i = 0; i < n_batches; i++)
    if (batches[i].id == id) return &batches[i];
  return 0;
}

/* Drop a batch and its remaining chunks; `free_space` says whether their extents go back
 * (a committed batch's used chunks were moved to encodings and removed before). */
static void drop_batch(uint64_t id) {
  size_t kept = 0;
  for (size_t i = 0; i < n_chunks; i++) {
    if (chunks[i].batch == id) ex_free(chunks[i].extent);
    else chunks[kept++] = chunks[i];
  }
  n_chunks = kept;
  for (size_t i = 0; i < n_batches; i++) {
    if (batches[i].id == id) {
      batches[i] = batches[--n_batches];
      return;
    }
  }
}

static void expire_batches(int64_t now) {
  for (size_t i = 0; i < n_batches;) {
    if (batches[i].expires <= now) drop_batch(batches[i].id); /* moves the last batch into slot i */
    else i++;
  }
}

size_t as_pending_batches(void) { return n_batches; }
int as_batch_exists(uint64_t batch_id) { return find_batch(batch_id) != 0; }

const char *as_create_batch(int64_t now, uint64_t *batch_id) {
  expire_batches(now);
  if (n_batches >= AS_MAX_BATCHES) return "batch limit exceeded: commit, delete or let expire one of the open batches";
  batch *b = &batches[n_batches++];
  b->id = next_batch_id++;
  b->expires = now + (int64_t)AS_BATCH_EXPIRY_NS;
  b->last_chunk = 0;
  *batch_id = b->id;
  return 0;
}

const char *as_delete_batch(uint64_t batch_id) {
  if (!find_batch(batch_id)) return "batch not found";
  drop_batch(batch_id);
  return 0;
}

const char *as_create_chunk(uint64_t batch_id, const uint8_t *data, size_t size, int64_t now, uint64_t *chunk_id) {
  expire_batches(now);
  batch *b = find_batch(batch_id);
  if (!b) return "batch not found (it was committed, deleted, or expired after 5 minutes without a chunk)";
  b->expires = now + (int64_t)AS_BATCH_EXPIRY_NS;
  if (n_chunks == cap_chunks) {
    cap_chunks = cap_chunks ? 2 * cap_chunks : 256;
    chunks = rt_realloc(chunks, cap_chunks * sizeof *chunks);
  }
  chunk *c = &chunks[n_chunks];
  memset(c, 0, sizeof *c);
  c->id = next_chunk_id++;
  c->batch = batch_id;
  c->extent = ex_alloc(size);
  if (size) ic0_stable64_write(c->extent.offset, (uint64_t)(uintptr_t)data, size);
  /* continue the chain of the batch's previous chunk while chunks are full-sized */
  chunk *p = b->last_chunk ? find_chunk(b->last_chunk) : 0;
  if (p && p->extent.size == p->run && p->run && size <= p->run) {
    c->prev = p->id;
    c->run = p->run;
    c->chain = p->chain;
  } else {
    c->run = size;
    sha256_init(&c->chain);
  }
  sha256_update(&c->chain, data, size);
  n_chunks++;
  b->last_chunk = c->id;
  *chunk_id = c->id;
  return 0;
}

/* ================================ authorized principals ================================ */

typedef struct {
  uint8_t id[29];
  uint8_t size;
} principal;

static principal *authorized;
static size_t n_authorized;

static long find_principal(const uint8_t *p, size_t size) {
  for (size_t i = 0; i < n_authorized; i++)
    if (authorized[i].size == size && !memcmp(authorized[i].id, p, size)) return (long)i;
  return -1;
}

int as_is_authorized(const uint8_t *p, size_t size) { return find_principal(p, size) >= 0; }

void as_authorize(const uint8_t *p, size_t size) {
  if (size > 29 || find_principal(p, size) >= 0) return;
  authorized = rt_realloc(authorized, (n_authorized + 1) * sizeof *authorized);
  memcpy(authorized[n_authorized].id, p, size);
  authorized[n_authorized].size = (uint8_t)size;
  n_authorized++;
}

void as_deauthorize(const uint8_t *p, size_t size) {
  long i = find_principal(p, size);
  if (i < 0) return;
  authorized[i] = authorized[--n_authorized];
}

size_t as_authorized_count(void) { return n_authorized; }
const uint8_t *as_authorized_at(size_t i, size_t *size) {
  *size = authorized[i].size;
  return authorized[i].id;
}

/* ================================ commit ================================ */

static char error[512];

static const char *failf(const char *format, const char *key, const char *detail) {
  rt_format(error, sizeof error, format, key, detail);
  return error;
}

/* A key's existence as operations before the current one would leave it. */
typedef struct {
  as_text key;
  int exists;
} key_state;

typedef struct {
  key_state *keys;
  size_t n;
  int cleared;
} simulation;

static int simulated_exists(simulation *s, as_text key) {
  for (size_t i = s->n; i-- > 0;)
    if (s->keys[i].key.size == key.size && !memcmp(s->keys[i].key.data, key.data, key.size)) return s->keys[i].exists;
  return !s->cleared && as_find(key.data, key.size) != 0;
}

static void simulate(simulation *s, as_text key, int exists) {
  s->keys[s->n].key = key;
  s->keys[s->n].exists = exists;
  s->n++;
}

static const char *key_text(as_text key) {
  char *s = rt_scratch(key.size + 1, 1);
  memcpy(s, key.data, key.size);
  return s;
}

/* SHA-256 of the op's chunks (+ last_chunk): from the longest prefix the chain already hashed,
 * then the rest read back from stable memory within the instruction budget. */
static const char *digest_content(uint64_t batch_id, as_op *op) {
  chunk **list = rt_scratch((op->n_chunks ? op->n_chunks : 1) * sizeof *list, 8);
  uint64_t length = 0;
  for (size_t i = 0; i < op->n_chunks; i++) {
    chunk *c = find_chunk(op->chunk_ids[i]);
    if (!c || c->batch != batch_id) {
      char id[24];
      rt_format(id, sizeof id, "%llu", (unsigned long long)op->chunk_ids[i]);
      return failf("SetAssetContent %s: chunk %s is not in this batch", key_text(op->key), id);
    }
    if (c->mark == commit_mark) return failf("SetAssetContent %s: a chunk is used twice%s", key_text(op->key), "");
    c->mark = commit_mark;
    list[i] = c;
    length += c->extent.size;
  }
  if (op->has_last_chunk) length += op->last_chunk.size;
  size_t hashed = 0; /* chunks covered by a chain snapshot */
  while (hashed < op->n_chunks && (hashed ? list[hashed]->prev == list[hashed - 1]->id : !list[0]->prev)) hashed++;
  sha256_ctx ctx;
  if (hashed) ctx = list[hashed - 1]->chain;
  else sha256_init(&ctx);
  uint64_t rest = 0;
  for (size_t i = hashed; i < op->n_chunks; i++) rest += list[i]->extent.size;
  uint64_t used = ic0_performance_counter(0);
  if (used + rest * AS_HASH_COST_PER_BYTE > AS_COMMIT_HASH_BUDGET) {
    char detail[160];
    rt_format(detail, sizeof detail, "%llu bytes", (unsigned long long)rest);
    return failf("SetAssetContent %s: %s of chunks that did not arrive in order would have to be hashed at "
                 "commit, more than one message may do; upload each file's chunks in order, one file after another",
                 key_text(op->key), detail);
  }
  if (rest) {
    size_t mark = rt_mark();
    uint8_t *buffer = rt_scratch(AS_WINDOW, 16);
    for (size_t i = hashed; i < op->n_chunks; i++) {
      for (uint64_t at = 0; at < list[i]->extent.size; at += AS_WINDOW) {
        uint64_t n = list[i]->extent.size - at < AS_WINDOW ? list[i]->extent.size - at : AS_WINDOW;
        ic0_stable64_read((uint64_t)(uintptr_t)buffer, list[i]->extent.offset + at, n);
        sha256_update(&ctx, buffer, n);
      }
    }
    rt_release(mark);
  }
  if (op->has_last_chunk) sha256_update(&ctx, op->last_chunk.data, op->last_chunk.size);
  sha256_final(&ctx, op->digest);
  op->length = length;
  if (op->has_sha256 && memcmp(op->sha256.data, op->digest, 32))
    return failf("SetAssetContent %s: sha256 mismatch (the content's SHA-256 is not the one given)%s", key_text(op->key), "");
  return 0;
}

static const char *validate(uint64_t batch_id, as_op *ops, size_t n) {
  simulation sim = {rt_scratch((n ? n : 1) * sizeof(key_state), 8), 0, 0};
  commit_mark++;
  for (size_t i = 0; i < n; i++) {
    as_op *op = &ops[i];
    switch (op->kind) {
      case AS_CREATE:
        if (simulated_exists(&sim, op->key)) return failf("CreateAsset %s: asset already exists%s", key_text(op->key), "");
        simulate(&sim, op->key, 1);
        break;
      case AS_SET_CONTENT:
        if (!simulated_exists(&sim, op->key)) return failf("SetAssetContent %s: asset not found%s", key_text(op->key), "");
        if (!op->n_chunks && !op->has_last_chunk)
          return failf("SetAssetContent %s: encoding must have at least one chunk or contain last_chunk%s", key_text(op->key), "");
        if (op->n_chunks && !batch_id) return failf("SetAssetContent %s: chunk ids need a batch%s", key_text(op->key), "");
        if (op->has_sha256 && op->sha256.size != 32) return failf("SetAssetContent %s: sha256 must be 32 bytes%s", key_text(op->key), "");
        {
          const char *why = digest_content(batch_id, op);
          if (why) return why;
        }
        break;
      case AS_UNSET_CONTENT:
      case AS_SET_PROPERTIES:
        if (!simulated_exists(&sim, op->key))
          return failf("%s %s: asset not found", op->kind == AS_UNSET_CONTENT ? "UnsetAssetContent" : "SetAssetProperties", key_text(op->key));
        break;
      case AS_DELETE:
        simulate(&sim, op->key, 0);
        break;
      case AS_CLEAR:
        sim.n = 0;
        sim.cleared = 1;
        break;
    }
  }
  return 0;
}

static void apply_properties(as_asset *a, const as_op *op) {
  if (op->max_age_op) {
    a->has_max_age = op->max_age_op == AS_SET;
    a->max_age = op->max_age;
  }
  if (op->headers_op == AS_SET) set_headers(a, op->n_headers, op->header_names, op->header_values);
  else if (op->headers_op == AS_SET_NONE) free_headers(a);
  if (op->raw_op) a->allow_raw_access = op->raw_op == AS_SET ? (int8_t)op->allow_raw_access : -1;
  if (op->alias_op) a->is_aliased = op->alias_op == AS_SET ? (int8_t)op->is_aliased : -1;
}

static void clear_all(void) {
  while (n_assets) {
    as_asset *a = assets[n_assets - 1];
    delete_asset((as_text){a->key, a->key_size});
  }
}

/* Move the op's chunks out of the batch into a new encoding (and write last_chunk). */
static void apply_content(as_asset *a, const as_op *op, int64_t now) {
  uint32_t n = (uint32_t)op->n_chunks + (op->has_last_chunk ? 1 : 0);
  ex_extent *extents = rt_malloc((n ? n : 1) * sizeof *extents);
  for (size_t i = 0; i < op->n_chunks; i++) {
    chunk *c = find_chunk(op->chunk_ids[i]);
    extents[i] = c->extent;
    c->batch = 0; /* no longer the batch's: drop_batch will not free it */
  }
  if (op->has_last_chunk) {
    ex_extent e = ex_alloc(op->last_chunk.size);
    if (op->last_chunk.size) ic0_stable64_write(e.offset, (uint64_t)(uintptr_t)op->last_chunk.data, op->last_chunk.size);
    extents[op->n_chunks] = e;
  }
  put_encoding(a, op->encoding, extents, n, op->length, op->digest, now);
}

static void forget_moved_chunks(void) {
  size_t kept = 0;
  for (size_t i = 0; i < n_chunks; i++)
    if (chunks[i].batch) chunks[kept++] = chunks[i];
  n_chunks = kept;
}

const char *as_commit(uint64_t batch_id, as_op *ops, size_t n, int64_t now) {
  expire_batches(now);
  if (batch_id && !find_batch(batch_id)) return "batch not found (it was committed, deleted, or expired after 5 minutes without a chunk)";
  size_t mark = rt_mark();
  const char *why = validate(batch_id, ops, n);
  rt_release(mark);
  if (why) return why;
  int everything = 0;
  for (size_t i = 0; i < n; i++) {
    as_op *op = &ops[i];
    as_asset *a = op->kind == AS_CLEAR ? 0 : as_find(op->key.data, op->key.size);
    switch (op->kind) {
      case AS_CREATE:
        a = insert_asset(op->key);
        rt_free(a->content_type);
        a->content_type = copy_text(op->content_type);
        apply_properties(a, op);
        break;
      case AS_SET_CONTENT: apply_content(a, op, now); break;
      case AS_UNSET_CONTENT: unset_encoding(a, op->encoding); break;
      case AS_DELETE: delete_asset(op->key); break;
      case AS_CLEAR: clear_all(); everything = 1; break;
      case AS_SET_PROPERTIES: apply_properties(a, op); break;
    }
  }
  forget_moved_chunks();
  if (batch_id) drop_batch(batch_id);
  as_persist();
  if (everything) changed(0, 0);
  else
    for (size_t i = 0; i < n; i++) changed(ops[i].key.data, ops[i].key.size);
  if (as_on_commit) as_on_commit();
  return 0;
}

const char *as_store(as_text key, as_text content_type, as_text encoding, as_text content, int has_sha256,
                     as_text sha256_given, int64_t now) {
  if (has_sha256 && sha256_given.size != 32) return "store: sha256 must be 32 bytes";
  uint8_t digest[32];
  sha256(content.data, content.size, digest);
  if (has_sha256 && memcmp(digest, sha256_given.data, 32)) return "store: sha256 mismatch (the content's SHA-256 is not the one given)";
  as_asset *a = as_find(key.data, key.size);
  if (!a) a = insert_asset(key);
  rt_free(a->content_type);
  a->content_type = copy_text(content_type);
  ex_extent *extents = rt_malloc(sizeof *extents);
  extents[0] = ex_alloc(content.size);
  if (content.size) ic0_stable64_write(extents[0].offset, (uint64_t)(uintptr_t)content.data, content.size);
  put_encoding(a, encoding, extents, 1, content.size, digest, now);
  as_persist();
  changed(key.data, key.size);
  if (as_on_commit) as_on_commit();
  return 0;
}

/* ================================ persistence ================================ */
/* Superblock at 0: "ICASSETS" | u64 index offset | u64 index size | sha256(index).
 * Index: "ASIX" u32 version | u64 next_batch_id | u64 next_chunk_id | u32 n_authorized, each u8 size + bytes |
 * u32 n_assets, each: str key | str content_type | u8 has_max_age | u64 max_age | u8 has_headers |
 * u32 n_headers, each str name + str value | i8 allow_raw_access | i8 is_aliased | u32 n_encodings, each:
 * str name | u64 length | sha256[32] | i64 modified | u32 n_extents, each u64 offset + u64 size.
 * str = u32 size + bytes. Little-endian throughout. */

#define SUPER_MAGIC "ICASSETS"
#define INDEX_MAGIC "ASIX"
#define INDEX_VERSION 1u

static ex_extent index_extent;

static void put_u8(rt_buf *b, uint8_t v) { rt_buf_byte(b, v); }
static void put_u32(rt_buf *b, uint32_t v) { rt_buf_append(b, &v, 4); }
static void put_u64(rt_buf *b, uint64_t v) { rt_buf_append(b, &v, 8); }
static void put_str(rt_buf *b, const char *s, size_t n) {
  put_u32(b, (uint32_t)n);
  rt_buf_append(b, s, n);
}

void as_persist(void) {
  size_t mark = rt_mark();
  rt_buf b = {0};
  rt_buf_append(&b, INDEX_MAGIC, 4);
  put_u32(&b, INDEX_VERSION);
  put_u64(&b, next_batch_id);
  put_u64(&b, next_chunk_id);
  put_u32(&b, (uint32_t)n_authorized);
  for (size_t i = 0; i < n_authorized; i++) {
    put_u8(&b, authorized[i].size);
    rt_buf_append(&b, authorized[i].id, authorized[i].size);
  }
  put_u32(&b, (uint32_t)n_assets);
  for (size_t i = 0; i < n_assets; i++) {
    as_asset *a = assets[i];
    put_str(&b, a->key, a->key_size);
    put_str(&b, a->content_type, strlen(a->content_type));
    put_u8(&b, (uint8_t)a->has_max_age);
    put_u64(&b, a->max_age);
    put_u8(&b, (uint8_t)a->has_headers);
    put_u32(&b, a->n_headers);
    for (uint32_t h = 0; h < a->n_headers; h++) {
      put_str(&b, a->headers[h].name, strlen(a->headers[h].name));
      put_str(&b, a->headers[h].value, strlen(a->headers[h].value));
    }
    put_u8(&b, (uint8_t)a->allow_raw_access);
    put_u8(&b, (uint8_t)a->is_aliased);
    put_u32(&b, a->n_encodings);
    for (uint32_t k = 0; k < a->n_encodings; k++) {
      as_encoding *e = &a->encodings[k];
      put_str(&b, e->name, strlen(e->name));
      put_u64(&b, e->length);
      rt_buf_append(&b, e->sha256, 32);
      put_u64(&b, (uint64_t)e->modified);
      put_u32(&b, e->n_extents);
      for (uint32_t x = 0; x < e->n_extents; x++) {
        put_u64(&b, e->extents[x].offset);
        put_u64(&b, e->extents[x].size);
      }
    }
  }
  ex_extent fresh = ex_alloc(b.size);
  ic0_stable64_write(fresh.offset, (uint64_t)(uintptr_t)b.data, b.size);
  uint8_t super[56];
  memcpy(super, SUPER_MAGIC, 8);
  memcpy(super + 8, &fresh.offset, 8);
  memcpy(super + 16, &fresh.size, 8);
  sha256(b.data, b.size, super + 24);
  ic0_stable64_write(0, (uint64_t)(uintptr_t)super, sizeof super); /* the switch: last */
  if (index_extent.size) ex_free(index_extent);
  index_extent = fresh;
  rt_release(mark);
}

typedef struct {
  const uint8_t *p, *end;
} reader;

static _Noreturn void corrupt(const char *what) { rt_trapf("asset index in stable memory is corrupt: %s", what); }

static void take(reader *r, void *out, size_t n) {
  if ((size_t)(r->end - r->p) < n) corrupt("truncated");
  memcpy(out, r->p, n);
  r->p += n;
}
static uint8_t get_u8(reader *r) { uint8_t v; take(r, &v, 1); return v; }
static uint32_t get_u32(reader *r) { uint32_t v; take(r, &v, 4); return v; }
static uint64_t get_u64(reader *r) { uint64_t v; take(r, &v, 8); return v; }
static as_text get_str(reader *r) {
  uint32_t n = get_u32(r);
  if ((size_t)(r->end - r->p) < n) corrupt("truncated text");
  as_text t = {(const char *)r->p, n};
  r->p += n;
  return t;
}

void as_load(void) {
  if (ic0_stable64_size() == 0) return; /* a fresh canister */
  uint8_t super[56];
  ic0_stable64_read((uint64_t)(uintptr_t)super, 0, sizeof super);
  if (memcmp(super, SUPER_MAGIC, 8)) {
    int empty = 1;
    for (int i = 0; i < 8; i++) empty &= super[i] == 0;
    if (empty) return;
    corrupt("stable memory does not start with the asset store's superblock");
  }
  uint64_t offset, size;
  memcpy(&offset, super + 8, 8);
  memcpy(&size, super + 16, 8);
  if (size > (1ull << 31) || offset + size > ic0_stable64_size() * 65536ull) corrupt("index out of range");
  uint8_t *data = rt_malloc(size ? size : 1);
  ic0_stable64_read((uint64_t)(uintptr_t)data, offset, size);
  uint8_t digest[32];
  sha256(data, size, digest);
  if (memcmp(digest, super + 24, 32)) corrupt("index checksum mismatch");
  reader r = {data, data + size};
  char magic[4];
  take(&r, magic, 4);
  if (memcmp(magic, INDEX_MAGIC, 4) || get_u32(&r) != INDEX_VERSION) corrupt("unknown index version");
  next_batch_id = get_u64(&r);
  next_chunk_id = get_u64(&r);
  uint32_t na = get_u32(&r);
  for (uint32_t i = 0; i < na; i++) {
    uint8_t n = get_u8(&r), id[29];
    if (n > 29) corrupt("principal too long");
    take(&r, id, n);
    as_authorize(id, n);
  }
  size_t n_used = 1, cap_used = 64;
  ex_extent *used = rt_malloc(cap_used * sizeof *used);
  used[0] = (ex_extent){offset, size};
  uint32_t count = get_u32(&r);
  for (uint32_t i = 0; i < count; i++) {
    as_text key = get_str(&r);
    if (as_find(key.data, key.size)) corrupt("duplicate key");
    as_asset *a = insert_asset(key);
    rt_free(a->content_type);
    a->content_type = copy_text(get_str(&r));
    a->has_max_age = get_u8(&r);
    a->max_age = get_u64(&r);
    int has_headers = get_u8(&r);
    uint32_t nh = get_u32(&r);
    if (nh > AS_MAX_HEADERS) corrupt("too many headers");
    as_text names[AS_MAX_HEADERS], values[AS_MAX_HEADERS];
    for (uint32_t h = 0; h < nh; h++) {
      names[h] = get_str(&r);
      values[h] = get_str(&r);
    }
    if (has_headers) set_headers(a, nh, names, values);
    a->allow_raw_access = (int8_t)get_u8(&r);
    a->is_aliased = (int8_t)get_u8(&r);
    uint32_t ne = get_u32(&r);
    for (uint32_t k = 0; k < ne; k++) {
      as_text name = get_str(&r);
      uint64_t length = get_u64(&r);
      uint8_t sha[32];
      take(&r, sha, 32);
      int64_t modified = (int64_t)get_u64(&r);
      uint32_t nx = get_u32(&r);
      if (nx > (uint32_t)((r.end - r.p) / 16)) corrupt("too many extents");
      ex_extent *extents = rt_malloc((nx ? nx : 1) * sizeof *extents);
      uint64_t total = 0;
      for (uint32_t x = 0; x < nx; x++) {
        extents[x].offset = get_u64(&r);
        extents[x].size = get_u64(&r);
        total += extents[x].size;
        if (n_used == cap_used) used = rt_realloc(used, (cap_used *= 2) * sizeof *used);
        used[n_used++] = extents[x];
      }
      if (total != length) corrupt("content length does not match its extents");
      put_encoding(a, name, extents, nx, length, sha, modified);
    }
  }
  if (r.p != r.end) corrupt("trailing bytes");
  ex_rebuild(used, n_used);
  index_extent = used[0];
  rt_free(used);
  rt_free(data);
  changed(0, 0);
}
