/* chat.c: answering chats — `generate` (update: verified), `generate_query` (query: fast),
 * `prefill` (update: feed a conversation into the caller's prefix cache) and `logits`.
 *
 * Every call measures itself with ic0.performance_counter and stops before its message's
 * instruction limit (40B for an update, 5B for a query), leaving a reserve for the reply and the
 * estimated cost of the next step: the prompt goes in in chunks sized from the last chunk's
 * cost, tokens one at a time. The reply says why it stopped (`length`, `stop_token`, `budget`);
 * the client continues by sending the conversation plus the tokens so far, which the caller's
 * KV slot (kv_slots.h) mostly holds already. Sampling draws depend on (seed, position) only
 * (sampling.h), and a position's keys, values and logits are the same bit for bit however its
 * token is fed, so any split of an answer over calls — updates or queries — gives the tokens of
 * one long run.
 *
 * A query reads the committed cache and its writes are dropped: it feeds what the cache lacks
 * (the tokens it produced in earlier queries among them) each time; `prefill` commits them.
 *
 * Who may call and how much it may cost the canister's owner is policy.h's: an update is
 * admitted (access, argument size, budget) before its argument is decoded, runs within what is
 * left of the budget, and is charged whole at its end. Queries refuse to run as updates (a
 * replicated query is charged to the canister like an update, with no budget to stop it). */
#include "candid_reader.h"
#include "candid_writer.h"
#include "canister.h"
#include "kv_slots.h"
#include "model.h"
#include "policy.h"
#include "rt.h"
#include "sampling.h"
#include "served_model.h"
#include "utc.h"

#define UPDATE_LIMIT UPDATE_INSTRUCTION_LIMIT
#define QUERY_LIMIT 5000000000ull
#define DEFAULT_NEW_TOKENS 16
#define MAX_STOP_TOKENS 1024

typedef enum { STOP_LENGTH, STOP_TOKEN, STOP_BUDGET } stop_reason;
static const char *const STOP_NAMES[] = {"length", "stop_token", "budget"};

typedef struct {
  uint32_t *prompt, *stop;
  size_t n_prompt, n_stop;
  int prefill; /* `prefill`: the prompt goes into the caller's own slot or nowhere */
  uint32_t max_new, top_k;
  float temperature, top_p;
  uint64_t seed;
} request;

typedef struct {
  uint32_t *tokens;
  uint64_t *costs; /* per token after the first: its forward pass and sampling */
  size_t produced, reused, fed;
  int slot;             /* the KV slot used */
  uint64_t prompt_cost; /* the prompt pass (the part not reused) and the first token's sampling */
  stop_reason why;
} result;

/* ---- reading a request ---- */

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

/* GenerateRequest (or PrefillRequest when prefill_only: the prompt alone). Rejects on error. */
static int read_request(request *q, int prefill_only) {
  if (!have_model) {
    rt_rejectf("no model: %s", no_model_reason);
    return 0;
  }
  cd_reader r;
  cd_val arg, f, inner;
  if (!cd_read_arg(&r, &arg)) return 0;
  *q = (request){.prompt = rt_scratch((size_t)model.n_ctx * 4, 16), .stop = rt_scratch(MAX_STOP_TOKENS * 4, 16),
                 .n_stop = 1, .prefill = prefill_only, .max_new = prefill_only ? 0 : DEFAULT_NEW_TOKENS, .top_p = 1.0f};
  q->stop[0] = model.eos_token_id; /* the weight file's end of text */
  if (!cd_field(&r, arg, "prompt", &f)) {
    rt_rejectf("invalid argument: %s", r.error ? r.error : "missing field `prompt`");
    return 0;
  }
  if (!read_tokens(&r, f, q->prompt, &q->n_prompt)) return 0;
  if (!prefill_only) {
    if (cd_field(&r, arg, "max_new_tokens", &f) && cd_opt(&r, f, &inner)) cd_nat32(&r, inner, &q->max_new);
    if (cd_field(&r, arg, "temperature", &f) && cd_opt(&r, f, &inner)) cd_float32(&r, inner, &q->temperature);
    if (cd_field(&r, arg, "top_k", &f) && cd_opt(&r, f, &inner)) cd_nat32(&r, inner, &q->top_k);
    if (cd_field(&r, arg, "top_p", &f) && cd_opt(&r, f, &inner)) cd_float32(&r, inner, &q->top_p);
    if (cd_field(&r, arg, "seed", &f) && cd_opt(&r, f, &inner)) cd_nat64(&r, inner, &q->seed);
    if (cd_field(&r, arg, "stop", &f) && cd_opt(&r, f, &inner)) cd_vec_nat32(&r, inner, q->stop, MAX_STOP_TOKENS, &q->n_stop);
  }
  if (r.error) {
    rt_rejectf("invalid argument: %s", r.error);
    return 0;
  }
  const char *refused = sampling_refusal(q->temperature, q->top_p);
  if (refused) {
    rt_reject(refused);
    return 0;
  }
  if ((uint64_t)q->n_prompt + q->max_new > model.n_ctx) { /* 64-bit: size_t is 32 bits on wasm32 */
    rt_rejectf("prompt (%u tokens) + max_new_tokens (%u) exceeds the context of %u tokens", (unsigned)q->n_prompt,
               q->max_new, (unsigned)model.n_ctx);
    return 0;
  }
  return 1;
}

/* ---- running one call within its budget ---- */

static int is_stop(uint32_t token, const uint32_t *stop, size_t n_stop) {
  for (size_t i = 0; i < n_stop; i++)
    if (stop[i] == token) return 1;
  return 0;
}

static uint32_t next_token(const request *q, float *logits, float *scratch, size_t pos) {
  return choose_token(logits, model.vocab_size, q->temperature, q->top_k, q->top_p, q->seed, (uint32_t)pos, scratch);
}

/* Instructions left before `limit`, keeping a reserve (1/50 of it: 800M for an update, 100M for
 * a query) for the reply and for estimates that run short. */
static uint64_t room(uint64_t limit) {
  uint64_t used = ic0_performance_counter(0) + limit / 50;
  return used < limit ? limit - used : 0;
}

/* A refusal of an inference update, counted in the window's `refused`. */
static void refuse_inference(const char *line) {
  inference_count_refusal();
  rt_reject(line);
}

/* Every slot is someone's recent conversation: say when one frees up. */
static void refuse_busy(uint64_t now) {
  uint64_t minutes = (slots_wait(now) + 60 * NS_PER_SECOND - 1) / (60 * NS_PER_SECOND);
  char text[300];
  rt_format(text, sizeof text,
            "busy: every conversation slot holds a conversation used in the last 10 minutes; try again in %llu min or "
            "answer on this device", (unsigned long long)(minutes ? minutes : 1));
  refuse_inference(text);
}

/* Feed the prompt's unreused part in chunks that fit, then generate until max_new tokens, a stop
 * token or the budget. `limit` is the message's instruction limit, or less when the owner's
 * budget (policy.h) leaves less (`budgeted`). Returns 0 (after rejecting) if the call cannot get
 * through: no slot for a prefill, a prompt that does not fit the scratch slot's one call. */
static int run(const request *q, result *out, uint64_t limit, int is_query, int budgeted) {
  principal_id caller = caller_id();
  uint64_t now = ic0_time();
  int anonymous = is_anonymous(&caller);
  slot_choice choice = slots_choose(&caller, q->prompt, q->n_prompt, now);
  int no_cache = choice.slot == slots_scratch(); /* the scratch slot: emptied after an update */
  if (choice.no_slot && q->prefill) { /* a prefill is only worth its cost in a slot of the caller's own */
    refuse_busy(now);
    return 0;
  }
  gpt2_select_kv(&model, choice.slot);
  slots_claim(choice.slot, &caller, choice.reused, now); /* in a query, dropped with its other writes */
  *out = (result){.tokens = rt_scratch((size_t)q->max_new * 4 + 4, 16), .costs = rt_scratch((size_t)q->max_new * 8 + 8, 16),
                  .reused = choice.reused, .slot = choice.slot};
  float *logits = rt_scratch((size_t)model.padded_vocab * 4, 16), *scratch = rt_scratch((size_t)model.vocab_size * 4, 16);
  size_t pos = choice.reused, n = q->n_prompt;
  int want_logits = q->max_new > 0;

  /* the prompt: the first chunk is one batch of at most eight (sized by a generous a-priori estimate),
   * later ones as many tokens as fit at the last chunk's cost per token (+1/8: attention grows);
   * a query stops as soon as the rest cannot fit, since what it feeds is not kept */
  uint64_t per_token = gpt2_token_cost_estimate(&model, (int)n, 0), head = gpt2_token_cost_estimate(&model, (int)n, 1);
  while (pos < n) {
    size_t left = n - pos, take = left;
    uint64_t budget = room(limit), extra = want_logits ? head : 0;
    if (left * per_token + extra > budget) {
      if (is_query && pos > choice.reused) break; /* measured: the rest will not fit; stop wasting the query */
      take = budget / per_token;
      if (take >= left) take = left - 1; /* the last chunk, with the LM head, does not fit */
      if (take > 8) take -= take % 8;    /* whole batches of eight */
    }
    if (pos == choice.reused && take > 8) take = 8; /* measure one batch before trusting an estimate */
    if (!take) break;
    int last = pos + take == n;
    uint64_t before = ic0_performance_counter(0);
    gpt2_forward(&model, q->prompt + pos, (int)take, (int)pos, last && want_logits ? logits : 0);
    uint64_t cost = ic0_performance_counter(0) - before;
    slots_append(choice.slot, q->prompt, pos, pos + take);
    out->prompt_cost += cost;
    pos += take;
    per_token = cost / take + cost / take / 8 + 1;
  }
  out->fed = pos - choice.reused;
  if (!out->fed) { /* a new call could do no better: say so instead of inviting a retry */
    if (!is_query && no_cache) slots_forget(choice.slot);
    if (budgeted) {
      refuse_inference(budget_refusal(&caller, now));
      return 0;
    }
    rt_rejectf("one token of this model needs more than what is left of one %s's instruction limit",
               is_query ? "query" : "update");
    return 0;
  }
  if (pos < n) {
    if (no_cache && !is_query) { /* what it fed goes with the scratch slot: continuing cannot help */
      slots_forget(choice.slot);
      refuse_busy(now);
      return 0;
    }
    if (anonymous) {
      rt_rejectf("the prompt's %u tokens do not fit one %s's instruction limit, and the anonymous principal has no "
                 "prefix cache to feed them over several calls: call as an authenticated principal",
                 (unsigned)n, is_query ? "query" : "update");
      return 0;
    }
    out->why = STOP_BUDGET;
    return 1;
  }
  out->why = STOP_LENGTH;
  if (!want_logits) return 1;

  uint64_t before = ic0_performance_counter(0);
  uint32_t token = next_token(q, logits, scratch, n);
  out->prompt_cost += ic0_performance_counter(0) - before;
  out->tokens[out->produced++] = token;
  uint64_t estimate = gpt2_token_cost_estimate(&model, (int)n, 1);
  while (out->produced < q->max_new) {
    if (is_stop(token, q->stop, q->n_stop)) {
      out->why = STOP_TOKEN;
      break;
    }
    if (estimate > room(limit)) {
      out->why = STOP_BUDGET;
      break;
    }
    before = ic0_performance_counter(0);
    slots_set(choice.slot, pos, token);
    gpt2_forward(&model, &token, 1, (int)pos++, logits);
    token = next_token(q, logits, scratch, pos);
    uint64_t cost = ic0_performance_counter(0) - before;
    out->costs[out->produced - 1] = cost;
    out->tokens[out->produced++] = token;
    estimate = cost + cost / 8;
  }
  if (out->why == STOP_LENGTH && is_stop(token, q->stop, q->n_stop)) out->why = STOP_TOKEN;
  return 1;
}

static void reply_result(const result *res, uint64_t start) {
  cd_writer w;
  cd_writer_init(&w);
  cd_field_type fields[] = {{"tokens", cd_t_vec(&w, CD_NAT32)}, {"prompt_instructions", CD_NAT64},
                            {"token_instructions", cd_t_vec(&w, CD_NAT64)}, {"instructions", CD_NAT64},
                            {"stop_reason", CD_TEXT}, {"reused", CD_NAT32}, {"fed", CD_NAT32}};
  cd_w_arg(&w, cd_t_record(&w, 7, fields));
  cd_w_record_begin(&w);
  cd_w_vec_nat32(&w, res->tokens, res->produced);
  cd_w_nat64(&w, res->prompt_cost);
  cd_w_vec_nat64(&w, res->costs, res->produced ? res->produced - 1 : 0);
  cd_w_nat64(&w, ic0_performance_counter(0) - start);
  cd_w_cstr(&w, STOP_NAMES[res->why]);
  cd_w_nat32(&w, (uint32_t)res->reused);
  cd_w_nat32(&w, (uint32_t)res->fed);
  cd_w_record_end(&w);
  cd_reply(&w);
}

/* An admitted update: the slot keeps what it was fed (the scratch slot is emptied), the model's
 * counters count it. */
static void serve_update(int prefill_only, uint64_t limit, uint64_t start) {
  request q;
  result res;
  if (!read_request(&q, prefill_only) || !run(&q, &res, limit, 0, limit < UPDATE_LIMIT)) return;
  if (res.slot == slots_scratch()) slots_forget(res.slot);
  usage.tokens_generated += res.produced;
  usage.generate_instructions += ic0_performance_counter(0) - start;
  reply_result(&res, start);
}

/* generate / prefill: admitted before anything is decoded (a refusal costs next to nothing),
 * then the whole message — refusals, rejects and the reply included — is charged to the budget. */
static void update_call(int prefill_only) {
  rt_message_begin();
  uint64_t start = ic0_performance_counter(0), limit;
  principal_id caller = caller_id();
  uint64_t one_token = have_model ? gpt2_token_cost_estimate(&model, 0, 1) : 0;
  uint64_t arg_size = ic0_msg_arg_data_size();
  const char *refusal = inference_admit(&caller, arg_size, one_token, ic0_time(), &limit, 1);
  if (refusal) rt_reject(refusal);
  else serve_update(prefill_only, limit, start);
  inference_charge(&caller, ic0_performance_counter(0) + inference_overhead(arg_size));
}

/* A query method run as an update (a replicated query) is charged to the canister: refuse it. */
static int refused_as_update(const char *line) {
  if (!ic0_in_replicated_execution()) return 0;
  rt_reject(line);
  return 1;
}

/* Queries follow the access policy too (the anonymous principal included, under `open`). */
static int refused_access(void) {
  principal_id caller = caller_id();
  const char *refusal = access_refusal(&caller, 0);
  if (refusal) rt_reject(refusal);
  return refusal != 0;
}

__attribute__((export_name("canister_update generate"))) void generate(void) { update_call(0); }

__attribute__((export_name("canister_update prefill"))) void prefill(void) { update_call(1); }

__attribute__((export_name("canister_query generate_query"))) void generate_query(void) {
  rt_message_begin();
  uint64_t start = ic0_performance_counter(0);
  if (refused_as_update(GENERATE_QUERY_AS_UPDATE) || refused_access()) return;
  request q;
  result res;
  if (!read_request(&q, 0) || !run(&q, &res, QUERY_LIMIT, 1, 0)) return;
  reply_result(&res, start);
}

__attribute__((export_name("canister_query logits"))) void logits(void) {
  rt_message_begin();
  if (refused_as_update(LOGITS_AS_UPDATE) || refused_access()) return;
  if (!have_model) {
    rt_rejectf("no model: %s", no_model_reason);
    return;
  }
  cd_reader r;
  cd_val arg;
  if (!cd_read_arg(&r, &arg)) return;
  uint32_t *tokens = rt_scratch((size_t)model.n_ctx * 4, 16);
  size_t n = 0;
  if (!read_tokens(&r, arg, tokens, &n)) return;
  float *out = rt_scratch((size_t)model.padded_vocab * 4, 16);
  principal_id caller = caller_id();
  slot_choice choice = slots_choose(&caller, tokens, n, ic0_time()); /* a query: what it writes is dropped */
  gpt2_select_kv(&model, choice.slot);
  gpt2_forward(&model, tokens + choice.reused, (int)(n - choice.reused), (int)choice.reused, out);
  cd_writer w;
  cd_writer_init(&w);
  cd_w_arg(&w, cd_t_vec(&w, CD_FLOAT32));
  cd_w_vec_float32(&w, out, (size_t)model.vocab_size);
  cd_reply(&w);
}
