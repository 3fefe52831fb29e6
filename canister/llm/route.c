/* route.c: the route, read from set_route's argument, checked, and kept in stable memory (route.h). */
#include "route.h"

#include "call.h"
#include "candid_reader.h"
#include "rt.h"

#define ROUTE_MAGIC "ICLLMRTE"
#define ROUTE_VERSION 1u
#define ROUTE_HEADER_BYTES 128u

route_config route;

static char error[400];

/* ---- stable memory ---- */

static void put32(uint8_t *at, uint32_t v) { memcpy(at, &v, 4); }
static void put64(uint8_t *at, uint64_t v) { memcpy(at, &v, 8); }
static uint32_t get32(const uint8_t *at) { uint32_t v; memcpy(&v, at, 4); return v; }
static uint64_t get64(const uint8_t *at) { uint64_t v; memcpy(&v, at, 8); return v; }

static void save(void) {
  size_t url = strlen(route.url), model = strlen(route.model), key = strlen(route.api_key);
  uint8_t *region = rt_scratch(ROUTE_HEADER_BYTES + url + model + key, 8);
  memcpy(region, ROUTE_MAGIC, 8);
  put32(region + 8, ROUTE_VERSION);
  put32(region + 12, (uint32_t)route.kind);
  put32(region + 16, (uint32_t)url);
  put32(region + 20, (uint32_t)model);
  put32(region + 24, (uint32_t)key);
  put32(region + 28, route.max_tokens);
  put64(region + 32, route.max_response_bytes);
  region[40] = (uint8_t)route.canister.size;
  memcpy(region + 41, route.canister.bytes, route.canister.size);
  memcpy(region + ROUTE_HEADER_BYTES, route.url, url);
  memcpy(region + ROUTE_HEADER_BYTES + url, route.model, model);
  memcpy(region + ROUTE_HEADER_BYTES + url + model, route.api_key, key);
  if (ic0_stable64_size() == 0 && ic0_stable64_grow(1) < 0) rt_trap("cannot grow stable memory for the route");
  ic0_stable64_write(0, (uint64_t)(uintptr_t)region, ROUTE_HEADER_BYTES + url + model + key);
}

void route_load(void) {
  uint8_t h[ROUTE_HEADER_BYTES];
  route = (route_config){0};
  if (ic0_stable64_size() == 0) return;
  ic0_stable64_read((uint64_t)(uintptr_t)h, 0, sizeof h);
  if (memcmp(h, ROUTE_MAGIC, 8)) return;
  uint32_t kind = get32(h + 12), url = get32(h + 16), model = get32(h + 20), key = get32(h + 24);
  if (get32(h + 8) != ROUTE_VERSION || kind > ROUTE_LLM_CANISTER || url > ROUTE_URL_MAX || model > ROUTE_MODEL_MAX ||
      key > ROUTE_KEY_MAX || h[40] > PRINCIPAL_MAX_BYTES) {
    rt_print("the route in stable memory is unreadable: no route until a controller sets one");
    return;
  }
  route.kind = (route_kind)kind;
  route.max_tokens = get32(h + 28);
  route.max_response_bytes = get64(h + 32);
  route.canister.size = h[40];
  memcpy(route.canister.bytes, h + 41, h[40]);
  ic0_stable64_read((uint64_t)(uintptr_t)route.url, ROUTE_HEADER_BYTES, url);
  ic0_stable64_read((uint64_t)(uintptr_t)route.model, ROUTE_HEADER_BYTES + url, model);
  ic0_stable64_read((uint64_t)(uintptr_t)route.api_key, ROUTE_HEADER_BYTES + url + model, key);
}

/* ---- set_route ---- */

/* Text fields go into HTTP headers and JSON: printable, no control characters (CR/LF would let a
 * value add headers of its own). */
static int printable(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) return 0;
  return 1;
}

/* A text field into out (NUL-terminated), 1..max bytes (0..max if optional). NULL or why not. */
static const char *read_text(cd_reader *r, cd_val record, const char *name, char *out, size_t max, int optional) {
  cd_val f, inner;
  const char *text = 0;
  size_t n = 0;
  if (optional) {
    if (cd_field(r, record, name, &f) && cd_opt(r, f, &inner)) cd_text(r, inner, &text, &n);
  } else if (!cd_field(r, record, name, &f) || !cd_text(r, f, &text, &n)) {
    if (r->error) return 0; /* the caller reports r->error */
    rt_format(error, sizeof error, "invalid argument: the route needs `%s`", name);
    return error;
  }
  if (r->error) return 0;
  if ((!optional && n == 0) || n > max) {
    rt_format(error, sizeof error, "%s must be 1 to %u bytes, got %u", name, (unsigned)max, (unsigned)n);
    return error;
  }
  if (!printable(text, n)) {
    rt_format(error, sizeof error, "%s must not contain control characters", name);
    return error;
  }
  memcpy(out, text, n);
  out[n] = 0;
  return 0;
}

static int starts_with(const char *s, const char *prefix) { return !memcmp(s, prefix, strlen(prefix)); }

static const char *read_endpoint(cd_reader *r, cd_val record, route_config *c) {
  const char *problem;
  if ((problem = read_text(r, record, "url", c->url, ROUTE_URL_MAX, 0)) ||
      (problem = read_text(r, record, "model", c->model, ROUTE_MODEL_MAX, 0)) ||
      (problem = read_text(r, record, "api_key", c->api_key, ROUTE_KEY_MAX, 1)))
    return problem;
  cd_val f, inner;
  c->max_response_bytes = DEFAULT_MAX_RESPONSE_BYTES;
  if (cd_field(r, record, "max_response_bytes", &f) && cd_opt(r, f, &inner)) cd_nat64(r, inner, &c->max_response_bytes);
  if (cd_field(r, record, "max_tokens", &f) && cd_opt(r, f, &inner)) {
    cd_nat32(r, inner, &c->max_tokens);
    if (!r->error && (c->max_tokens < 1 || c->max_tokens > ANSWER_MAX_TOKENS)) {
      rt_format(error, sizeof error, "max_tokens must be 1 to %u (the LLM canister's answer limit), got %u",
                ANSWER_MAX_TOKENS, c->max_tokens);
      return error;
    }
  }
  if (r->error) return 0;
  if (c->max_response_bytes < 1 || c->max_response_bytes > MAX_RESPONSE_BYTES_LIMIT) {
    rt_format(error, sizeof error, "max_response_bytes must be 1 to %llu (the IC's outcall response limit), got %llu",
              MAX_RESPONSE_BYTES_LIMIT, (unsigned long long)c->max_response_bytes);
    return error;
  }
  if (!starts_with(c->url, "https://") && !starts_with(c->url, "http://"))
    return "url must be an https:// URL (http:// is for a local replica's loopback addresses only)";
  char host[ROUTE_URL_MAX + 1];
  url_host(c->url, host);
  if (!host[0]) return "url has no host";
  c->kind = ROUTE_ENDPOINT;
  return 0;
}

static const char *read_llm_canister(cd_reader *r, cd_val record, route_config *c) {
  cd_val f;
  const uint8_t *id;
  size_t n = 0;
  if (!cd_field(r, record, "id", &f) || !cd_principal(r, f, &id, &n)) {
    if (r->error) return 0;
    return "invalid argument: the route needs `id`";
  }
  if (n > PRINCIPAL_MAX_BYTES) return "invalid argument: a principal is at most 29 bytes";
  const char *problem = read_text(r, record, "model", c->model, ROUTE_MODEL_MAX, 0);
  if (problem || r->error) return problem;
  c->canister.size = n;
  memcpy(c->canister.bytes, id, n);
  c->kind = ROUTE_LLM_CANISTER;
  return 0;
}

const char *route_set_from_arg(void) {
  size_t size;
  const uint8_t *data = rt_arg(&size);
  cd_reader r;
  cd_val arg, payload;
  uint32_t tag;
  static route_config fresh; /* 2.7 KB: not on the stack */
  fresh = (route_config){0};
  const char *problem = 0;
  if (cd_read_begin(&r, data, size) && cd_arg(&r, 0, &arg) && cd_variant(&r, arg, &tag, &payload)) {
    if (tag == cd_hash("endpoint")) problem = read_endpoint(&r, payload, &fresh);
    else if (tag == cd_hash("llm_canister")) problem = read_llm_canister(&r, payload, &fresh);
    else problem = "the route is one of endpoint, llm_canister";
  }
  if (r.error) {
    rt_format(error, sizeof error, "invalid argument: %s", r.error);
    return error;
  }
  if (problem) return problem;
  route = fresh;
  save();
  return 0;
}

/* ---- what may be shown ---- */

void url_host(const char *url, char *out) {
  const char *start = url;
  for (const char *p = url; *p; p++)
    if (p[0] == ':' && p[1] == '/' && p[2] == '/') {
      start = p + 3;
      break;
    }
  const char *end = start;
  while (*end && *end != '/' && *end != '?' && *end != '#') end++;
  for (const char *p = start; p < end; p++)
    if (*p == '@') start = p + 1; /* user info (credentials) never shows */
  memcpy(out, start, (size_t)(end - start));
  out[end - start] = 0;
}

void route_via(char *out, size_t capacity) {
  if (route.kind == ROUTE_ENDPOINT) {
    char host[ROUTE_URL_MAX + 1];
    url_host(route.url, host);
    rt_format(out, capacity, "endpoint %s", host);
  } else if (route.kind == ROUTE_LLM_CANISTER) {
    char id[PRINCIPAL_TEXT_BYTES];
    principal_text(&route.canister, id);
    rt_format(out, capacity, "LLM canister %s", id);
  } else {
    rt_format(out, capacity, "no route");
  }
}

const char *route_kind_name(void) {
  return route.kind == ROUTE_ENDPOINT ? "endpoint" : route.kind == ROUTE_LLM_CANISTER ? "llm_canister" : "none";
}

uint64_t answer_min_cost(void) { return route.kind == ROUTE_ENDPOINT ? OUTCALL_BASE_CYCLES : call_fee(0, 0); }
