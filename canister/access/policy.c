/* policy.c: access, budget and quota for inference, kept across upgrades (policy.h). */
#include "policy.h"

#include "candid_reader.h"
#include "rt.h"
#include "utc.h"

#define DEFAULT_WINDOW_SECONDS 86400ull
#define DEFAULT_WINDOW_INSTRUCTIONS 1000000000000ull /* 1T: ~1.3T cycles a day on a 13-node subnet */
#define DEFAULT_CALLER_INSTRUCTIONS 100000000000ull  /* 100B: a few long answers per principal */
#define CALLER_TABLE_SIZE 8192                       /* open addressing, at most half full */
#define POLICY_MAGIC "ICGPTPOL"
#define POLICY_VERSION 1u
#define POLICY_HEADER_BYTES 128u
#define ALLOWED_RECORD_BYTES 30u /* size byte + 29 */

inference_policy policy;

static principal_id allowed[MAX_ALLOWED];
static size_t n_allowed;
static uint64_t spent_total;

/* The current window: its start (ns) and the window length it was cut with, its counters, and a
 * generation that tags the caller table's entries (a new window empties the table by moving on). */
static struct {
  uint64_t start, seconds, spent, refused;
  uint32_t callers, generation;
} window;

typedef struct {
  principal_id id;
  uint64_t spent;
  uint32_t generation; /* the entry counts only in the window of this generation */
} caller_entry;
static caller_entry callers[CALLER_TABLE_SIZE];

static char line[600]; /* the refusal being returned */

/* ---- the window ---- */

static uint64_t window_ns(void) { return policy.window_seconds * NS_PER_SECOND; }
static uint64_t start_of_window(uint64_t now) { return now - now % window_ns(); }
static int window_is_current(uint64_t now) {
  return window.seconds == policy.window_seconds && window.start == start_of_window(now);
}

/* Start the window `now` falls in, every counter at zero, if it is not the current one. */
static void roll(uint64_t now) {
  if (window_is_current(now)) return;
  window.start = start_of_window(now);
  window.seconds = policy.window_seconds;
  window.spent = window.refused = 0;
  window.callers = 0;
  window.generation++;
}

static uint32_t hash(const principal_id *p) {
  uint32_t h = 2166136261u; /* FNV-1a */
  for (size_t i = 0; i < p->size; i++) h = (h ^ p->bytes[i]) * 16777619u;
  return h;
}

/* The caller's entry in the current window, or the empty place it would take (id size 0), or
 * NULL when the table is full and it has none. */
static caller_entry *caller_place(const principal_id *p) {
  for (uint32_t i = hash(p), probes = 0; probes < CALLER_TABLE_SIZE; i++, probes++) {
    caller_entry *e = &callers[i % CALLER_TABLE_SIZE];
    if (e->generation != window.generation) return e; /* empty in this window */
    if (same_principal(&e->id, p)) return e;
  }
  return 0;
}

/* The caller's instructions in the window `now` falls in (0 if that window has not started yet). */
static uint64_t caller_spent(const principal_id *p, uint64_t now) {
  if (!window_is_current(now)) return 0;
  caller_entry *e = caller_place(p);
  return e && e->generation == window.generation ? e->spent : 0;
}

/* ---- refusal lines ---- */

/* "1000B", "2.5B", "0.05B": instructions in billions, as short as they are exact to 1/100; an
 * amount under 0.01B as it is ("5000"), so a small budget never reads as "0B". */
static void billions(uint64_t n, char *out, size_t capacity) {
  uint64_t whole = n / 1000000000ull, hundredths = n % 1000000000ull / 10000000ull;
  if (!whole && !hundredths) rt_format(out, capacity, "%llu", (unsigned long long)n);
  else if (!hundredths) rt_format(out, capacity, "%lluB", (unsigned long long)whole);
  else if (hundredths % 10 == 0) rt_format(out, capacity, "%llu.%lluB", (unsigned long long)whole, (unsigned long long)(hundredths / 10));
  else rt_format(out, capacity, "%llu.%llu%lluB", (unsigned long long)whole, (unsigned long long)(hundredths / 10), (unsigned long long)(hundredths % 10));
}

static void window_texts(uint64_t amount, uint64_t now, char *amount_text, char *per, char *at, char *in) {
  uint64_t end = start_of_window(now) + window_ns();
  billions(amount, amount_text, 32);
  utc_window(policy.window_seconds, per, 32);
  utc_format(end, at, 32);
  utc_span(now, end, in, 32);
}

/* "<what is spent> <amount> instructions per <window><whose>; it resumes at <UTC> (in <span>). ..." */
static const char *budget_line(const char *spent, uint64_t amount_n, const char *whose, uint64_t now) {
  char amount[32], per[32], at[32], in[32];
  window_texts(amount_n, now, amount, per, at, in);
  rt_format(line, sizeof line, "%s %s instructions per %s%s; it resumes at %s UTC (in %s). Answer on this device meanwhile.",
            spent, amount, per, whose, at, in);
  return line;
}

static const char *window_budget_line(uint64_t now) {
  char spent[96];
  rt_format(spent, sizeof spent, "%s budget spent: this canister allows", POLICY_WORDS.service);
  return budget_line(spent, policy.window_instructions, " and they are used", now);
}

static const char *caller_budget_line(uint64_t now) {
  char spent[96];
  rt_format(spent, sizeof spent, "your share of %s is spent:", POLICY_WORDS.service);
  return budget_line(spent, policy.caller_instructions, " per principal", now);
}

static const char *callers_full_line(uint64_t now) {
  char amount[32], per[32], at[32], in[32];
  window_texts(0, now, amount, per, at, in);
  rt_format(line, sizeof line,
            "busy: %u principals used %s in this window, as many as it keeps count of; new ones resume at "
            "%s UTC (in %s) or answer on this device", (unsigned)MAX_WINDOW_CALLERS, POLICY_WORDS.service, at, in);
  return line;
}

/* ---- access ---- */

static int is_allowed(const principal_id *p) {
  for (size_t i = 0; i < n_allowed; i++)
    if (same_principal(&allowed[i], p)) return 1;
  return 0;
}

const char *access_refusal(const principal_id *caller, int update) {
  if (update && is_anonymous(caller)) {
    rt_format(line, sizeof line, "the anonymous principal gets no %s by update: call with an identity%s",
              POLICY_WORDS.service, POLICY_WORDS.anonymous_hint);
    return line;
  }
  if (policy.access == ACCESS_OPEN || rt_caller_is_controller()) return 0;
  if (policy.access == ACCESS_CONTROLLERS) {
    rt_format(line, sizeof line, "%s on this canister is for its controllers only", POLICY_WORDS.service);
    return line;
  }
  if (is_allowed(caller)) return 0;
  char text[PRINCIPAL_TEXT_BYTES];
  principal_text(caller, text);
  rt_format(line, sizeof line, "%s on this canister is for allow-listed principals: ask its owner to allow %s",
            POLICY_WORDS.service, text);
  return line;
}

/* ---- admission and charging ---- */

static uint64_t left(uint64_t limit, uint64_t spent) { return spent < limit ? limit - spent : 0; }

const char *budget_refusal(const principal_id *caller, uint64_t now) {
  uint64_t window_left = left(policy.window_instructions, window_is_current(now) ? window.spent : 0);
  uint64_t caller_left = left(policy.caller_instructions, caller_spent(caller, now));
  return window_left <= caller_left ? window_budget_line(now) : caller_budget_line(now);
}

uint64_t inference_overhead(uint64_t arg_size) {
  uint64_t ingress_bytes = arg_size + 8 /* "generate" ("prefill" 7, "v1_chat" 7, "chat" 4) */ + ENVELOPE_ALLOWANCE_BYTES;
  return MESSAGE_FEE_INSTRUCTIONS + INGRESS_BYTE_INSTRUCTIONS * ingress_bytes + TAIL_ALLOWANCE_INSTRUCTIONS;
}

static const char *admit(const principal_id *caller, uint64_t arg_size, uint64_t one_token, uint64_t now,
                         uint64_t *limit, int commit) {
  const char *refusal = access_refusal(caller, 1);
  if (refusal) return refusal;
  if (arg_size > INFERENCE_MAX_ARG_BYTES) {
    rt_format(line, sizeof line,
              "the argument is %llu bytes, over the %u bytes %s accepts (%s)", (unsigned long long)arg_size,
              INFERENCE_MAX_ARG_BYTES, POLICY_WORDS.service, POLICY_WORDS.argument_hint);
    return line;
  }
  *limit = UPDATE_INSTRUCTION_LIMIT;
  if (!one_token) return 0; /* no model: the method says so */
  if (commit) roll(now);
  int current = window_is_current(now);
  caller_entry *entry = current ? caller_place(caller) : 0;
  int known = entry && entry->generation == window.generation;
  if (current && !known && (!entry || window.callers >= MAX_WINDOW_CALLERS)) return callers_full_line(now);
  uint64_t fees = inference_overhead(arg_size); /* charged whatever the call does */
  uint64_t window_left = left(policy.window_instructions, (current ? window.spent : 0) + fees);
  uint64_t caller_left = left(policy.caller_instructions, (known ? entry->spent : 0) + fees);
  if (window_left < one_token) return window_budget_line(now);
  if (caller_left < one_token) return caller_budget_line(now);
  if (window_left < *limit) *limit = window_left;
  if (caller_left < *limit) *limit = caller_left;
  if (commit && !known) {
    *entry = (caller_entry){.id = *caller, .generation = window.generation};
    window.callers++;
  }
  return 0;
}

const char *inference_admit(const principal_id *caller, uint64_t arg_size, uint64_t one_token, uint64_t now,
                            uint64_t *limit, int commit) {
  const char *refusal = admit(caller, arg_size, one_token, now, limit, commit);
  if (refusal && commit) inference_count_refusal();
  return refusal;
}

void inference_count_refusal(void) {
  roll(ic0_time());
  window.refused++;
}

static void save_header(void);

void inference_charge(const principal_id *caller, uint64_t instructions) {
  roll(ic0_time());
  window.spent += instructions;
  spent_total += instructions;
  caller_entry *e = caller_place(caller);
  if (e && e->generation == window.generation) e->spent += instructions; /* callers admitted in this window */
  save_header();
}

usage_report inference_usage(const principal_id *caller, uint64_t now) {
  int current = window_is_current(now);
  uint64_t start = start_of_window(now);
  return (usage_report){.policy = policy, .window_start = start, .window_end = start + window_ns(),
                        .window_spent = current ? window.spent : 0, .caller_spent = caller_spent(caller, now),
                        .refused = current ? window.refused : 0, .spent_total = spent_total,
                        .callers = current ? window.callers : 0, .allowed = (uint32_t)n_allowed};
}

/* ---- stable memory ---- */

static void put64(uint8_t *at, uint64_t v) { memcpy(at, &v, 8); }
static void put32(uint8_t *at, uint32_t v) { memcpy(at, &v, 4); }
static uint64_t get64(const uint8_t *at) { uint64_t v; memcpy(&v, at, 8); return v; }
static uint32_t get32(const uint8_t *at) { uint32_t v; memcpy(&v, at, 4); return v; }

/* The policy's region lies in the first stable page, which the asset store grows only when it
 * first writes: make sure it exists. */
static void ensure_stable_page(void) {
  if (ic0_stable64_size() == 0 && ic0_stable64_grow(1) < 0) rt_trap("cannot grow stable memory for the inference policy");
}

static void save_header(void) {
  uint8_t h[POLICY_HEADER_BYTES] = {0};
  memcpy(h, POLICY_MAGIC, 8);
  put32(h + 8, POLICY_VERSION);
  put32(h + 12, (uint32_t)n_allowed);
  put32(h + 16, (uint32_t)policy.access);
  put64(h + 24, policy.window_seconds);
  put64(h + 32, policy.window_instructions);
  put64(h + 40, policy.caller_instructions);
  put64(h + 48, spent_total);
  put64(h + 56, window.start);
  put64(h + 64, window.seconds);
  put64(h + 72, window.spent);
  put64(h + 80, window.refused);
  ensure_stable_page();
  ic0_stable64_write(POLICY_STABLE_OFFSET, (uint64_t)(uintptr_t)h, sizeof h);
}

static void save_all(void) {
  size_t mark = rt_mark();
  uint8_t *records = rt_scratch(n_allowed * ALLOWED_RECORD_BYTES + 1, 8);
  for (size_t i = 0; i < n_allowed; i++) {
    records[i * ALLOWED_RECORD_BYTES] = (uint8_t)allowed[i].size;
    memcpy(records + i * ALLOWED_RECORD_BYTES + 1, allowed[i].bytes, allowed[i].size);
  }
  save_header();
  ic0_stable64_write(POLICY_STABLE_OFFSET + POLICY_HEADER_BYTES, (uint64_t)(uintptr_t)records,
                     n_allowed * ALLOWED_RECORD_BYTES);
  rt_release(mark);
}

static void defaults(void) {
  policy = (inference_policy){ACCESS_OPEN, DEFAULT_WINDOW_SECONDS, DEFAULT_WINDOW_INSTRUCTIONS, DEFAULT_CALLER_INSTRUCTIONS};
}

/* The saved policy, allow-list, total and window; 0 if there is none (a canister installed
 * before policies existed). A region that does not add up gives the safest policy instead of a
 * trap (an upgrade must stay possible): controllers only, default budgets, nobody allowed. */
static int load(void) {
  uint8_t h[POLICY_HEADER_BYTES];
  if (ic0_stable64_size() == 0) return 0;
  ic0_stable64_read((uint64_t)(uintptr_t)h, POLICY_STABLE_OFFSET, sizeof h);
  if (memcmp(h, POLICY_MAGIC, 8)) return 0;
  uint32_t n = get32(h + 12), access = get32(h + 16);
  uint64_t seconds = get64(h + 24);
  if (get32(h + 8) != POLICY_VERSION || n > MAX_ALLOWED || access > ACCESS_CONTROLLERS || seconds < MIN_WINDOW_SECONDS ||
      seconds > MAX_WINDOW_SECONDS) {
    rt_print("the inference policy in stable memory is unreadable: controllers only until one is set");
    defaults();
    policy.access = ACCESS_CONTROLLERS;
    return 1;
  }
  policy = (inference_policy){(access_kind)access, seconds, get64(h + 32), get64(h + 40)};
  spent_total = get64(h + 48);
  window.start = get64(h + 56);
  window.seconds = get64(h + 64);
  window.spent = get64(h + 72);
  window.refused = get64(h + 80);
  window.callers = 0;
  window.generation++; /* the per-caller table starts empty */
  uint8_t record[ALLOWED_RECORD_BYTES];
  n_allowed = 0;
  for (uint32_t i = 0; i < n; i++) {
    ic0_stable64_read((uint64_t)(uintptr_t)record, POLICY_STABLE_OFFSET + POLICY_HEADER_BYTES + i * ALLOWED_RECORD_BYTES,
                      sizeof record);
    if (record[0] < 1 || record[0] > PRINCIPAL_MAX_BYTES) continue;
    allowed[n_allowed].size = record[0];
    memcpy(allowed[n_allowed].bytes, record + 1, record[0]);
    n_allowed++;
  }
  return 1;
}

/* ---- reading InferencePolicy ---- */

/* Apply the fields `record` names to *p and check the result; NULL or why not. */
static const char *read_policy(cd_reader *r, cd_val record, inference_policy *p) {
  static char error[300];
  cd_val f, inner, payload;
  if (cd_field(r, record, "access", &f) && cd_opt(r, f, &inner)) {
    uint32_t tag;
    if (cd_variant(r, inner, &tag, &payload)) {
      if (tag == cd_hash("open")) p->access = ACCESS_OPEN;
      else if (tag == cd_hash("allow_list")) p->access = ACCESS_ALLOW_LIST;
      else if (tag == cd_hash("controllers")) p->access = ACCESS_CONTROLLERS;
      else return "access must be one of open, allow_list, controllers";
    }
  }
  if (cd_field(r, record, "window_seconds", &f) && cd_opt(r, f, &inner)) cd_nat64(r, inner, &p->window_seconds);
  if (cd_field(r, record, "window_instructions", &f) && cd_opt(r, f, &inner)) cd_nat64(r, inner, &p->window_instructions);
  if (cd_field(r, record, "caller_instructions", &f) && cd_opt(r, f, &inner)) cd_nat64(r, inner, &p->caller_instructions);
  if (r->error) {
    rt_format(error, sizeof error, "invalid argument: %s", r->error);
    return error;
  }
  if (p->window_seconds < MIN_WINDOW_SECONDS || p->window_seconds > MAX_WINDOW_SECONDS) {
    rt_format(error, sizeof error, "window_seconds must be between %llu and %llu (30 days), got %llu",
              (unsigned long long)MIN_WINDOW_SECONDS, (unsigned long long)MAX_WINDOW_SECONDS,
              (unsigned long long)p->window_seconds);
    return error;
  }
  return 0;
}

/* The init/upgrade argument (opt InferencePolicy): nothing at all, no value, or none change
 * nothing; traps with the reason when it does not read (the install or upgrade fails). */
static void apply_lifecycle_arg(void) {
  size_t size;
  const uint8_t *data = rt_arg(&size);
  if (!size) return; /* no argument at all */
  cd_reader r;
  cd_val arg, record;
  if (!cd_read_begin(&r, data, size)) rt_trapf("invalid init argument: %s", r.error);
  if (!r.n_args) return;
  if (!cd_arg(&r, 0, &arg)) rt_trapf("invalid init argument: %s", r.error);
  if (!cd_opt(&r, arg, &record)) {
    if (r.error) rt_trapf("invalid init argument: %s", r.error);
    return;
  }
  inference_policy p = policy;
  const char *problem = read_policy(&r, record, &p);
  if (problem) rt_trapf("invalid inference policy: %s", problem);
  policy = p;
}

void policy_install(void) {
  defaults();
  apply_lifecycle_arg();
  save_all();
}

void policy_upgrade(void) {
  if (!load()) defaults();
  apply_lifecycle_arg();
  save_all();
}

/* ---- controllers' edits ---- */

const char *policy_set_from_arg(void) {
  size_t size;
  const uint8_t *data = rt_arg(&size);
  cd_reader r;
  cd_val record;
  static char error[300];
  if (!cd_read_begin(&r, data, size) || !cd_arg(&r, 0, &record)) {
    rt_format(error, sizeof error, "invalid argument: %s", r.error);
    return error;
  }
  inference_policy p = policy;
  const char *problem = read_policy(&r, record, &p);
  if (problem) return problem;
  policy = p;
  save_all();
  return 0;
}

/* Read a vec principal into scratch; NULL or why not. */
static const char *read_principals(principal_id **out, size_t *count) {
  static char error[300];
  size_t size;
  const uint8_t *data = rt_arg(&size);
  cd_reader r;
  cd_val arg, element;
  if (!cd_read_begin(&r, data, size) || !cd_arg(&r, 0, &arg) || !cd_vec(&r, arg, count, &element)) {
    rt_format(error, sizeof error, "invalid argument: %s", r.error);
    return error;
  }
  if (*count > MAX_ALLOWED) {
    rt_format(error, sizeof error, "at most %u principals per call, got %llu", (unsigned)MAX_ALLOWED,
              (unsigned long long)*count);
    return error;
  }
  *out = rt_scratch(*count * sizeof **out + 1, 8);
  for (size_t i = 0; i < *count; i++) {
    const uint8_t *bytes;
    size_t n;
    if (!cd_principal(&r, element, &bytes, &n) || (i + 1 < *count && !cd_next(&r, &element))) {
      rt_format(error, sizeof error, "invalid argument: %s", r.error);
      return error;
    }
    if (n > PRINCIPAL_MAX_BYTES) return "invalid argument: a principal is at most 29 bytes";
    (*out)[i].size = n;
    memcpy((*out)[i].bytes, bytes, n);
  }
  return 0;
}

const char *allow_list_add_from_arg(void) {
  static char error[300];
  principal_id *list;
  size_t count, fresh = 0;
  const char *problem = read_principals(&list, &count);
  if (problem) return problem;
  for (size_t i = 0; i < count; i++) {
    int repeated = is_allowed(&list[i]);
    for (size_t j = 0; j < i && !repeated; j++) repeated = same_principal(&list[i], &list[j]);
    if (!repeated) list[fresh++] = list[i];
  }
  if (n_allowed + fresh > MAX_ALLOWED) {
    rt_format(error, sizeof error, "the allow-list holds at most %u principals: it has %u, and %u more would not fit",
              (unsigned)MAX_ALLOWED, (unsigned)n_allowed, (unsigned)fresh);
    return error;
  }
  for (size_t i = 0; i < fresh; i++) allowed[n_allowed++] = list[i];
  save_all();
  return 0;
}

const char *allow_list_remove_from_arg(void) {
  principal_id *list;
  size_t count;
  const char *problem = read_principals(&list, &count);
  if (problem) return problem;
  for (size_t i = 0; i < count; i++)
    for (size_t j = 0; j < n_allowed; j++)
      if (same_principal(&allowed[j], &list[i])) {
        allowed[j] = allowed[--n_allowed]; /* order does not matter */
        break;
      }
  save_all();
  return 0;
}

size_t allow_list_count(void) { return n_allowed; }
const principal_id *allow_list_at(size_t i) { return &allowed[i]; }
