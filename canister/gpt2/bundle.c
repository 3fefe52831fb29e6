/* bundle.c: the model bundle the gpt2 canister holds, serves and runs.
 *
 * The bundle lives in the asset store (canister/assetstore) under /model/: manifest.json and every
 * file it lists (tokenizer, the ONNX decoders browsers run, the canister weight file this canister
 * runs). It is uploaded with the asset batch API (create_batch / create_chunk / commit_batch), so
 * one commit switches files and model together. After every commit the store calls
 * bundle_on_commit, which checks what the store now holds as a whole:
 *   - no /model/manifest.json: no model (nothing is served for inference);
 *   - otherwise every listed file must be there, its identity content of the listed size and
 *     SHA-256 (the store hashed it as the chunks arrived), and exactly one file must have the role
 *     "canister-weights"; that file is loaded (a new one only when its hash changed).
 * A bundle that does not add up traps, which rolls the whole commit back: the old bundle keeps
 * serving browsers and inference, and the uploader sees the reason. post_upgrade calls
 * bundle_sync to load the model kept in stable memory; there a bundle that does not add up does
 * not trap (an upgrade that fixes things must be able to go through): the store is kept, no model
 * is served, and inference says why until a good bundle is committed.
 *
 * The manifest's SHA-256 is certified: it is the leaf http_assets//model/manifest.json of the
 * store's certification tree, whose root is the canister's certified data. `model_certificate`
 * returns it with the data certificate and a witness, so a browser holding the IC root key can
 * check that the files it runs are the ones this canister holds and runs onchain.
 */
#include "bundle.h"

#include "alloc.h"
#include "candid_reader.h"
#include "candid_writer.h"
#include "http.h"
#include "http_cert.h"
#include "manifest.h"
#include "rt.h"
#include "served_model.h"
#include "store.h"

#define MODEL_PREFIX "/model/"
#define MANIFEST_KEY "/model/manifest.json"
#define MAX_MANIFEST_BYTES (1u << 20)

static uint8_t *weights;          /* the loaded weight file (rt_malloc), or NULL */
static uint8_t weights_sha256[32];
uint8_t bundle_manifest_sha256[32];
int bundle_have_manifest;

static as_encoding *identity_of(const char *key) {
  as_asset *a = as_find(key, strlen(key));
  return a ? as_encoding_of(a, "identity", 8) : 0;
}

static void sha256_hex(const uint8_t *bytes, char *out) {
  for (int i = 0; i < 32; i++) {
    out[2 * i] = "0123456789abcdef"[bytes[i] >> 4];
    out[2 * i + 1] = "0123456789abcdef"[bytes[i] & 15];
  }
  out[64] = 0;
}

static void unload(void) {
  if (weights) rt_free(weights);
  weights = 0;
  forget_model();
  bundle_have_manifest = 0;
}

/* Check the manifest `m` and the files it lists against the store; load the weight file if it
 * changed. NULL, or the reason written to `error` (nothing changed). Scratch is the caller's. */
static const char *check_and_load(as_encoding *m, char *error, size_t capacity) {
  char *text = rt_scratch((size_t)m->length + 1, 8);
  as_read(m, 0, text, m->length);
  mf_manifest *manifest = rt_scratch(sizeof *manifest, 8);
  char key[sizeof MODEL_PREFIX + MF_MAX_PATH], want[65], got[65];
  if (mf_parse(text, (size_t)m->length, manifest, error, capacity)) return error;
  const mf_file *weight_file = 0;
  for (size_t i = 0; i < manifest->n_files; i++) {
    const mf_file *f = &manifest->files[i];
    rt_format(key, sizeof key, "%s%s", MODEL_PREFIX, f->path);
    as_encoding *e = identity_of(key);
    if (!e) {
      rt_format(error, capacity, "the manifest lists %s, but %s is not uploaded", f->path, key);
      return error;
    }
    if (e->length != f->size) {
      rt_format(error, capacity, "%s is %llu bytes, the manifest says %llu", f->path, (unsigned long long)e->length,
                (unsigned long long)f->size);
      return error;
    }
    if (memcmp(e->sha256, f->sha256, 32)) {
      sha256_hex(f->sha256, want);
      sha256_hex(e->sha256, got);
      rt_format(error, capacity, "%s has SHA-256 %s, the manifest says %s", f->path, got, want);
      return error;
    }
    if (strlen(f->role) == 16 && !memcmp(f->role, "canister-weights", 16)) {
      if (weight_file) return "the manifest lists more than one canister-weights file";
      weight_file = f;
    }
  }
  if (!weight_file) return "the manifest lists no canister-weights file for onchain inference";
  if (!weights || memcmp(weights_sha256, weight_file->sha256, 32)) {
    rt_format(key, sizeof key, "%s%s", MODEL_PREFIX, weight_file->path);
    as_encoding *e = identity_of(key);
    uint8_t *file = rt_malloc((size_t)e->length);
    as_read(e, 0, file, e->length);
    const char *problem = load_model(file, (size_t)e->length, e->sha256);
    if (problem) {
      rt_free(file);
      rt_format(error, capacity, "%s is not a usable weight file: %s", weight_file->path, problem);
      return error;
    }
    if (weights) rt_free(weights);
    weights = file;
    memcpy(weights_sha256, weight_file->sha256, 32);
  }
  memcpy(bundle_manifest_sha256, m->sha256, 32);
  bundle_have_manifest = 1;
  return 0;
}

/* Read, check and (if its weight file changed) load the bundle. NULL, or why it is unusable
 * (then nothing changed). */
static const char *sync(void) {
  static char error[400];
  as_encoding *m = identity_of(MANIFEST_KEY);
  if (!m) {
    if (as_find(MANIFEST_KEY, strlen(MANIFEST_KEY))) return "manifest.json has no identity encoding";
    unload();
    return 0;
  }
  if (m->length > MAX_MANIFEST_BYTES) return "manifest.json is larger than 1 MiB";
  size_t mark = rt_mark();
  const char *problem = check_and_load(m, error, sizeof error);
  rt_release(mark);
  return problem;
}

/* A commit whose bundle does not add up traps: the whole commit is rolled back. */
static void on_commit(void) {
  const char *problem = sync();
  if (problem) rt_trapf("model bundle refused: %s", problem);
}

void bundle_init(void) {
  as_on_commit = on_commit;
}

const char *bundle_sync(void) {
  static char reason[500];
  const char *problem = sync();
  if (!problem) return 0;
  unload(); /* this fresh instance loaded nothing: no model until a good commit */
  rt_format(reason, sizeof reason, "the bundle kept in stable memory is unusable (%s): commit a good bundle", problem);
  return reason;
}

/* query model_certificate : () -> (record { manifest_sha256 : blob; certificate : blob; tree : blob }) */
__attribute__((export_name("canister_query model_certificate"))) void model_certificate(void) {
  rt_message_begin();
  if (!cd_read_no_args()) return;
  if (!bundle_have_manifest) {
    rt_reject("no model bundle: upload one (manifest.json and its files under /model/) first");
    return;
  }
  rt_buf certificate = {0}, tree = {0};
  if (!hc_data_certificate(&certificate)) {
    rt_reject("model_certificate must be called as a query: only queries get a data certificate");
    return;
  }
  ah_asset_witness(MANIFEST_KEY, &tree);
  cd_writer w;
  cd_writer_init(&w);
  cd_field_type fields[] = {{"manifest_sha256", cd_t_vec(&w, CD_NAT8)}, {"certificate", cd_t_vec(&w, CD_NAT8)},
                            {"tree", cd_t_vec(&w, CD_NAT8)}};
  cd_w_arg(&w, cd_t_record(&w, 3, fields));
  cd_w_record_begin(&w);
  cd_w_blob(&w, bundle_manifest_sha256, 32);
  cd_w_blob(&w, certificate.data, certificate.size);
  cd_w_blob(&w, tree.data, tree.size);
  cd_w_record_end(&w);
  cd_reply(&w);
}
