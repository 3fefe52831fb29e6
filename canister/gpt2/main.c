/* main.c: the gpt2 canister's methods (canister/gpt2.did).
 *
 * Every method starts with rt_message_begin(): scratch memory is per message.
 * The committed weight file is also copied to stable memory, so an upgrade keeps the model:
 * post_upgrade reads it back (an upload in progress is lost and starts again at offset 0).
 * A controller uploads a weight file in order-checked chunks (hashed as they arrive), commits it
 * (size, SHA-256 and header checked before anything changes), and the model serves `generate`
 * and `logits`. Every method validates its input before touching state, so a reject leaves the
 * canister as it was: a failed upload never disturbs the model being served.
 */
#include "candid.h"
#include "model.h"
#include "rt.h"
#include "sampling.h"
#include "sha256.h"

/* upload_commit copies the file to stable memory, and the IC lets one message write at most
 * 2 GiB of it (the first 64 KiB page holds the header) */
#define MAX_WEIGHT_BYTES ((2ull << 30) - 65536)
#define DEFAULT_NEW_TOKENS 16
#define END_OF_TEXT 50256

typedef struct {
  uint8_t *data;
  uint64_t size, capacity;
} file_buffer;

static file_buffer serving, staging;  /* the served model's file; the upload in progress */
static uint64_t received;
static uint8_t expected_hash[32], serving_hash[32];
static sha256_ctx upload_hash;
static int uploading;
static gpt2_model model;
static int have_model;

/* ---- the prefix cache ----
 * The KV cache keeps the keys and values of the last generate's tokens (its prompt and all but
 * the last new token). A later generate or logits call from the same caller whose tokens begin
 * with them feeds only the rest, so a conversation resent with one more message costs that
 * message. The answer is the same bit for bit (the forward pass computes a position the same way
 * whether its token comes alone or in a batch); only the instructions differ. The anonymous
 * principal never reuses: the instruction counts in a reply would tell one caller what another
 * one sent. A new model empties it. */
static uint32_t cached_tokens[4096]; /* n_ctx <= 4096 (gpt2_check) */
static size_t cached_count, cached_caller_size;
static uint8_t cached_caller[29];

/* How many leading tokens of `tokens` (n >= 1) the cache already holds; at least one is fed. */
static size_t reusable_prefix(const uint32_t *tokens, size_t n) {
  uint8_t caller[29];
  size_t size = rt_caller(caller);
  if ((size == 1 && caller[0] == 0x04) || size != cached_caller_size || memcmp(caller, cached_caller, size)) return 0;
  size_t k = 0;
  while (k < cached_count && k + 1 < n && cached_tokens[k] == tokens[k]) k++;
  return k;
}

/* The cache is about to hold tokens[0..n), fed by this caller. */
static void remember(const uint32_t *tokens, size_t n) {
  memcpy(cached_tokens, tokens, n * sizeof(uint32_t));
  cached_count = n;
  cached_caller_size = rt_caller(cached_caller);
}

/* ---- Candid helpers ---- */

static int read_arg(cd_reader *r, cd_val *arg) {
  size_t size;
  const uint8_t *data = rt_arg(&size);
  if (cd_read_begin(r, data, size) && cd_arg(r, 0, arg)) return 1;
  rt_rejectf("invalid argument: %s", r->error);
  return 0;
}

static int32_t progress_type(cd_writer *w) {
  cd_field_type fields[] = {{"received", CD_NAT64}, {"size", CD_NAT64}};
  return cd_t_record(w, 2, fields);
}

static void reply_progress(void) {
  cd_writer w;
  cd_writer_init(&w);
  cd_w_arg(&w, progress_type(&w));
  cd_w_record_begin(&w);
  cd_w_nat64(&w, received);
  cd_w_nat64(&w, uploading ? staging.size : 0);
  cd_w_record_end(&w);
  cd_reply(&w);
}

static int32_t model_info_type(cd_writer *w) {
  cd_field_type fields[] = {{"n_layer", CD_NAT32}, {"n_head", CD_NAT32}, {"n_embd", CD_NAT32}, {"n_ctx", CD_NAT32},
                            {"vocab_size", CD_NAT32}, {"dtype", CD_TEXT}, {"bytes", CD_NAT64},
                            {"sha256", cd_t_vec(w, CD_NAT8)}};
  return cd_t_record(w, 8, fields);
}

static void write_model_info(cd_writer *w) {
  cd_w_record_begin(w);
  cd_w_nat32(w, (uint32_t)model.n_layer);
  cd_w_nat32(w, (uint32_t)model.n_head);
  cd_w_nat32(w, (uint32_t)model.n_embd);
  cd_w_nat32(w, (uint32_t)model.n_ctx);
  cd_w_nat32(w, (uint32_t)model.vocab_size);
  cd_w_cstr(w, model.q8 ? "q8" : "f32");
  cd_w_nat64(w, serving.size);
  cd_w_blob(w, serving_hash, 32);
  cd_w_record_end(w);
}

static int require_controller(void) {
  if (rt_caller_is_controller()) return 1;
  rt_reject("only a controller of this canister can upload weights");
  return 0;
}

static void hex(const uint8_t *bytes, char *out) {
  for (int i = 0; i < 32; i++) {
    out[2 * i] = "0123456789abcdef"[bytes[i] >> 4];
    out[2 * i + 1] = "0123456789abcdef"[bytes[i] & 15];
  }
  out[64] = 0;
}

/* ---- stable memory: the committed model survives upgrades ----
 * page 0: "ICGPT2S1" | u64 file size | sha256[32]; from byte 65536: the weight file. */

#define STABLE_MAGIC "ICGPT2S1"
#define STABLE_DATA 65536ull

static void persist_model(void) {
  uint64_t need = (STABLE_DATA + serving.size + 65535) / 65536;
  uint64_t have = ic0_stable64_size();
  if (need > have && ic0_stable64_grow(need - have) < 0) rt_trap("cannot grow stable memory to keep the model");
  uint8_t header[48];
  memcpy(header, STABLE_MAGIC, 8);
  memcpy(header + 8, &serving.size, 8);
  memcpy(header + 16, serving_hash, 32);
  ic0_stable64_write(STABLE_DATA, (uint64_t)(uintptr_t)serving.data, serving.size);
  ic0_stable64_write(0, (uint64_t)(uintptr_t)header, sizeof header); /* last: marks the copy complete */
}

__attribute__((export_name("canister_post_upgrade"))) void post_upgrade(void) {
  rt_message_begin();
  uint8_t header[48];
  if (ic0_stable64_size() == 0) return;
  ic0_stable64_read((uint64_t)(uintptr_t)header, 0, sizeof header);
  if (memcmp(header, STABLE_MAGIC, 8)) return;
  uint64_t size;
  memcpy(&size, header + 8, 8);
  serving.data = rt_alloc(size, 64);
  serving.size = serving.capacity = size;
  memcpy(serving_hash, header + 16, 32);
  ic0_stable64_read((uint64_t)(uintptr_t)serving.data, STABLE_DATA, size);
  char error[200];
  const char *problem = gpt2_check(serving.data, size, error, sizeof error);
  if (problem) rt_trapf("the model kept in stable memory is unusable: %s", problem);
  gpt2_load(&model, serving.data);
  have_model = 1;
  cached_count = 0;
}

/* ---- upload ---- */

__attribute__((export_name("canister_update upload_begin"))) void upload_begin(void) {
  rt_message_begin();
  cd_reader r;
  cd_val arg, f;
  uint64_t size = 0;
  const uint8_t *hash = 0;
  size_t hash_size = 0;
  if (!require_controller() || !read_arg(&r, &arg)) return;
  if (cd_field(&r, arg, "size", &f)) cd_nat64(&r, f, &size);
  else if (!r.error) r.error = "missing field `size`";
  if (cd_field(&r, arg, "sha256", &f)) cd_blob(&r, f, &hash, &hash_size);
  else if (!r.error) r.error = "missing field `sha256`";
  if (r.error) {
    rt_rejectf("invalid argument: %s", r.error);
    return;
  }
  if (hash_size != 32) {
    rt_rejectf("sha256 must be 32 bytes, got %llu", (unsigned long long)hash_size);
    return;
  }
  if (size < 256 || size > MAX_WEIGHT_BYTES) {
    rt_rejectf("weight file size must be between 256 bytes and %llu bytes, got %llu", MAX_WEIGHT_BYTES, (unsigned long long)size);
    return;
  }
  memcpy(expected_hash, hash, 32);
  if (staging.capacity < size) {
    staging.data = rt_alloc(size, 64);
    staging.capacity = size;
  }
  staging.size = size;
  received = 0;
  uploading = 1;
  sha256_init(&upload_hash);
  reply_progress();
}

__attribute__((export_name("canister_update upload_chunk"))) void upload_chunk(void) {
  rt_message_begin();
  cd_reader r;
  cd_val offset_val, data_val;
  uint64_t offset = 0;
  const uint8_t *data = 0;
  size_t size = 0;
  if (!require_controller() || !read_arg(&r, &offset_val)) return;
  if (cd_arg(&r, 1, &data_val)) {
    cd_nat64(&r, offset_val, &offset);
    cd_blob(&r, data_val, &data, &size);
  }
  if (r.error) {
    rt_rejectf("invalid argument: %s", r.error);
    return;
  }
  if (!uploading) {
    rt_reject("no upload in progress: call upload_begin first");
    return;
  }
  if (offset != received) {
    rt_rejectf("expected offset %llu, got %llu", (unsigned long long)received, (unsigned long long)offset);
    return;
  }
  if (size > staging.size - received) {
    rt_rejectf("chunk of %llu bytes at offset %llu runs past the declared size of %llu bytes",
                                        (unsigned long long)size, (unsigned long long)offset, (unsigned long long)staging.size);
    return;
  }
  memcpy(staging.data + received, data, size);
  sha256_update(&upload_hash, data, size);
  received += size;
  reply_progress();
}

__attribute__((export_name("canister_query upload_progress"))) void upload_progress(void) {
  rt_message_begin();
  reply_progress();
}

__attribute__((export_name("canister_update upload_commit"))) void upload_commit(void) {
  rt_message_begin();
  char error[200], want[65], got[65];
  if (!require_controller()) return;
  if (!uploading) {
    rt_reject("no upload in progress: call upload_begin first");
    return;
  }
  if (received != staging.size) {
    rt_rejectf("upload incomplete: %llu of %llu bytes received", (unsigned long long)received, (unsigned long long)staging.size);
    return;
  }
  sha256_ctx copy = upload_hash; /* finalising must not spoil a retry */
  uint8_t digest[32];
  sha256_final(&copy, digest);
  if (memcmp(digest, expected_hash, 32)) {
    hex(expected_hash, want);
    hex(digest, got);
    rt_rejectf("sha256 mismatch: expected %s, got %s", want, got);
    return;
  }
  const char *problem = gpt2_check(staging.data, staging.size, error, sizeof error);
  if (problem) {
    rt_rejectf("invalid weight file: %s", problem);
    return;
  }
  file_buffer previous = serving;
  serving = staging;
  staging = previous;
  staging.size = 0;
  uploading = 0;
  received = 0;
  memcpy(serving_hash, digest, 32);
  gpt2_load(&model, serving.data);
  have_model = 1;
  cached_count = 0;
  persist_model();
  cd_writer w;
  cd_writer_init(&w);
  cd_w_arg(&w, model_info_type(&w));
  write_model_info(&w);
  cd_reply(&w);
}

__attribute__((export_name("canister_query model_info"))) void model_info(void) {
  rt_message_begin();
  cd_writer w;
  cd_writer_init(&w);
  cd_w_arg(&w, cd_t_opt(&w, model_info_type(&w)));
  if (have_model) {
    cd_w_opt_some(&w);
    write_model_info(&w);
  } else {
    cd_w_opt_none(&w);
  }
  cd_reply(&w);
}

/* ---- inference ---- */

/* Read a token list; reject and return 0 if empty, too long or out of the vocabulary. */
static int read_tokens(cd_reader *r, cd_val v, uint32_t *tokens, size_t *count) {
  if (!cd_vec_nat32(r, v, tokens, (size_t)model.n_ctx, count)) {
    rt_rejectf("invalid argument: %s", r->error);
    return 0;
  }
  if (!*count) {
    rt_reject("the prompt is empty: give at least one token");
    return 0;
  }
  for (size_t i = 0; i < *count; i++)
    if (tokens[i] >= (uint32_t)model.vocab_size) {
      rt_rejectf("token id %u at position %u is outside the vocabulary (%u tokens)", tokens[i], (unsigned)i,
                 (unsigned)model.vocab_size);
      return 0;
    }
  return 1;
}

static int is_stop(uint32_t token, const uint32_t *stop, size_t n_stop) {
  for (size_t i = 0; i < n_stop; i++)
    if (stop[i] == token) return 1;
  return 0;
}

__attribute__((export_name("canister_update generate"))) void generate(void) {
  rt_message_begin();
  uint64_t start = ic0_performance_counter(0);
  if (!have_model) {
    rt_reject("no model: upload weights first");
    return;
  }
  cd_reader r;
  cd_val arg, f, inner;
  if (!read_arg(&r, &arg)) return;
  int T = model.n_ctx;
  uint32_t *prompt = rt_scratch((size_t)T * 4, 16), *stop = rt_scratch(1024 * 4, 16);
  size_t n_prompt = 0, n_stop = 1;
  uint32_t max_new = DEFAULT_NEW_TOKENS, top_k = 0;
  float temperature = 0.0f;
  uint64_t seed = 0;
  stop[0] = END_OF_TEXT;
  if (!cd_field(&r, arg, "prompt", &f)) {
    if (!r.error) r.error = "missing field `prompt`";
    rt_rejectf("invalid argument: %s", r.error);
    return;
  }
  if (!read_tokens(&r, f, prompt, &n_prompt)) return;
  if (cd_field(&r, arg, "max_new_tokens", &f) && cd_opt(&r, f, &inner)) cd_nat32(&r, inner, &max_new);
  if (cd_field(&r, arg, "temperature", &f) && cd_opt(&r, f, &inner)) cd_float32(&r, inner, &temperature);
  if (cd_field(&r, arg, "top_k", &f) && cd_opt(&r, f, &inner)) cd_nat32(&r, inner, &top_k);
  if (cd_field(&r, arg, "seed", &f) && cd_opt(&r, f, &inner)) cd_nat64(&r, inner, &seed);
  if (cd_field(&r, arg, "stop", &f) && cd_opt(&r, f, &inner)) cd_vec_nat32(&r, inner, stop, 1024, &n_stop);
  if (r.error) {
    rt_rejectf("invalid argument: %s", r.error);
    return;
  }
  if (!(temperature >= 0.0f) || temperature > 100.0f) {
    rt_reject("temperature must be between 0 and 100");
    return;
  }
  if (n_prompt + max_new > (size_t)T) {
    rt_rejectf("prompt (%u tokens) + max_new_tokens (%u) exceeds the context of %u tokens",
                                        (unsigned)n_prompt, max_new, (unsigned)T);
    return;
  }

  uint32_t *tokens = rt_scratch((size_t)max_new * 4 + 4, 16);
  uint64_t *costs = rt_scratch((size_t)max_new * 8 + 8, 16);
  float *logits = rt_scratch((size_t)model.padded_vocab * 4, 16);
  rng random = {seed};
  size_t produced = 0;
  uint64_t prompt_cost = 0;
  int pos = 0;
  size_t cached = reusable_prefix(prompt, n_prompt);
  remember(prompt, n_prompt); /* before the measured passes: it copies the caller (a charge per byte) */
  if (!max_new) { /* prefill: feed the prompt into the cache, no LM head, no token */
    uint64_t before = ic0_performance_counter(0);
    gpt2_forward(&model, prompt + cached, (int)(n_prompt - cached), (int)cached, 0);
    prompt_cost = ic0_performance_counter(0) - before;
  }
  while (produced < max_new) {
    uint64_t before = ic0_performance_counter(0);
    if (!produced) {
      gpt2_forward(&model, prompt + cached, (int)(n_prompt - cached), (int)cached, logits);
      pos = (int)n_prompt;
    } else {
      cached_tokens[pos] = tokens[produced - 1];
      cached_count = (size_t)pos + 1;
      gpt2_forward(&model, &tokens[produced - 1], 1, pos++, logits);
    }
    uint32_t next = temperature == 0.0f ? argmax(logits, model.vocab_size)
                                        : sample(logits, model.vocab_size, temperature, top_k, &random);
    uint64_t cost = ic0_performance_counter(0) - before;
    if (produced) costs[produced - 1] = cost;
    else prompt_cost = cost;
    tokens[produced++] = next;
    if (is_stop(next, stop, n_stop)) break;
  }

  cd_writer w;
  cd_writer_init(&w);
  cd_field_type fields[] = {{"tokens", cd_t_vec(&w, CD_NAT32)}, {"prompt_instructions", CD_NAT64},
                            {"token_instructions", cd_t_vec(&w, CD_NAT64)}, {"instructions", CD_NAT64}};
  cd_w_arg(&w, cd_t_record(&w, 4, fields));
  cd_w_record_begin(&w);
  cd_w_vec_nat32(&w, tokens, produced);
  cd_w_nat64(&w, prompt_cost);
  cd_w_vec_nat64(&w, costs, produced ? produced - 1 : 0);
  cd_w_nat64(&w, ic0_performance_counter(0) - start);
  cd_w_record_end(&w);
  cd_reply(&w);
}

__attribute__((export_name("canister_query logits"))) void logits(void) {
  rt_message_begin();
  if (!have_model) {
    rt_reject("no model: upload weights first");
    return;
  }
  cd_reader r;
  cd_val arg;
  if (!read_arg(&r, &arg)) return;
  uint32_t *tokens = rt_scratch((size_t)model.n_ctx * 4, 16);
  size_t n = 0;
  if (!read_tokens(&r, arg, tokens, &n)) return;
  float *out = rt_scratch((size_t)model.padded_vocab * 4, 16);
  size_t cached = reusable_prefix(tokens, n); /* a query: what it writes to the cache is dropped */
  gpt2_forward(&model, tokens + cached, (int)(n - cached), (int)cached, out);
  cd_writer w;
  cd_writer_init(&w);
  cd_w_arg(&w, cd_t_vec(&w, CD_FLOAT32));
  cd_w_vec_float32(&w, out, (size_t)model.vocab_size);
  cd_reply(&w);
}
