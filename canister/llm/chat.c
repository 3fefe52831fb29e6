/* chat.c: `v1_chat` and `chat` — a conversation answered through the route, by an outcall
 * (outcall.h) or a call to an LLM canister (forward.h) — and the callbacks that finish them.
 *
 * An answer spans messages: the method checks the caller (the access policy and budget, policy.h),
 * reads the request (conversation.h), makes the call and returns without replying; the call's
 * reply or reject callback answers the caller. Between them the call waits in `pending` (env is
 * its index). The whole answer is charged once, at its end: the call context's instructions, the
 * ingress message's fees (inference_overhead) and the cycles the call took (its fee, call_fee, and
 * for an outcall the cycles attached minus refunded). A refusal before the call is charged at once. */
#include "call.h"
#include "candid_writer.h"
#include "conversation.h"
#include "forward.h"
#include "outcall.h"
#include "policy.h"
#include "route.h"
#include "rt.h"

#define MAX_PENDING 32
#define VIA_BYTES (ROUTE_URL_MAX + 64)

typedef enum { SHAPE_V1_CHAT, SHAPE_CHAT } answer_shape;

typedef struct {
  int in_use;
  answer_shape shape;
  principal_id caller;
  uint64_t arg_size, cycles, request_bytes; /* cycles attached (outcall); the call's size (call.h) */
  char model[ROUTE_MODEL_MAX + 1], via[VIA_BYTES];
} pending_call;

static pending_call pending[MAX_PENDING];

/* ---- finishing ---- */

static int32_t chat_answer_type(cd_writer *w) {
  cd_field_type fields[] = {{"text", CD_TEXT}, {"model", CD_TEXT}, {"via", CD_TEXT}, {"cycles", CD_NAT},
                            {"instructions", CD_NAT64}};
  return cd_t_record(w, 5, fields);
}

/* Charge the answer and reply (text) or reject (problem); the call's slot is free again. */
static void finish(pending_call *p, uint64_t call_cycles, const rt_buf *text, const char *problem) {
  uint64_t instructions = ic0_performance_counter(1); /* the call context's: every message of this answer */
  inference_charge(&p->caller, instructions + inference_overhead(p->arg_size) + call_cycles);
  p->in_use = 0;
  if (problem) {
    rt_reject(problem);
    return;
  }
  cd_writer w;
  cd_writer_init(&w);
  if (p->shape == SHAPE_V1_CHAT) {
    cd_w_arg(&w, chat_response_type(&w));
    chat_response_write(&w, (const char *)text->data, text->size);
  } else {
    cd_w_arg(&w, chat_answer_type(&w));
    cd_w_record_begin(&w);
    cd_w_text(&w, (const char *)text->data, text->size);
    cd_w_cstr(&w, p->model);
    cd_w_cstr(&w, p->via);
    cd_w_nat(&w, call_cycles + instructions);
    cd_w_nat64(&w, instructions);
    cd_w_record_end(&w);
  }
  cd_reply(&w);
}

static pending_call *pending_at(uint32_t env) {
  if (env >= MAX_PENDING || !pending[env].in_use) rt_trap("a callback for no call in flight");
  return &pending[env];
}

/* The cycles an outcall took: its call's fee (the reply: `reply_bytes`), and attached minus what
 * came back. */
static uint64_t outcall_taken(const pending_call *p, uint64_t reply_bytes) {
  uint64_t refunded = call_cycles_refunded();
  return call_fee(p->request_bytes, reply_bytes) + (refunded < p->cycles ? p->cycles - refunded : 0);
}

static void on_outcall_reply(uint32_t env) {
  rt_message_begin();
  pending_call *p = pending_at(env);
  canonical_response result;
  rt_buf text = {0};
  const char *problem = outcall_result(&result);
  if (!problem) problem = openai_answer(&result, &text);
  finish(p, outcall_taken(p, ic0_msg_arg_data_size()), &text, problem);
}

static void on_outcall_reject(uint32_t env) {
  rt_message_begin();
  pending_call *p = pending_at(env);
  char reason[600], line[700];
  call_reject_text(reason, sizeof reason);
  rt_format(line, sizeof line, "the LLM service did not answer (%s)", reason);
  finish(p, outcall_taken(p, ic0_msg_reject_msg_size()), 0, line);
}

static void on_forward_reply(uint32_t env) {
  rt_message_begin();
  pending_call *p = pending_at(env);
  rt_buf text = {0};
  uint64_t reply_bytes;
  const char *problem = forward_result(&text, &reply_bytes);
  char line[VIA_BYTES + 400];
  if (problem) {
    rt_format(line, sizeof line, "the %s gave no answer: %s", p->via, problem);
    problem = line;
  }
  finish(p, call_fee(p->request_bytes, reply_bytes), &text, problem);
}

static void on_forward_reject(uint32_t env) {
  rt_message_begin();
  pending_call *p = pending_at(env);
  char reason[600], line[VIA_BYTES + 640];
  call_reject_text(reason, sizeof reason);
  rt_format(line, sizeof line, "the %s did not answer (%s)", p->via, reason);
  finish(p, call_fee(p->request_bytes, ic0_msg_reject_msg_size()), 0, line);
}

/* A callback trapped: its changes are gone, the slot is freed here (the caller gets the IC's reject). */
static void on_cleanup(uint32_t env) {
  if (env < MAX_PENDING) pending[env].in_use = 0;
}

/* ---- starting ---- */

static pending_call *free_slot(uint32_t *env) {
  for (uint32_t i = 0; i < MAX_PENDING; i++)
    if (!pending[i].in_use) {
      *env = i;
      return &pending[i];
    }
  return 0;
}

/* NULL, or why the request cannot be answered with the route's model. */
static const char *model_refusal(const conversation *c) {
  static char line[400];
  size_t n = strlen(route.model);
  if (c->model_size == 0 || (c->model_size == n && !memcmp(c->model, route.model, n))) return 0;
  rt_format(line, sizeof line, "this route answers with the model %s: ask for it, or leave model empty", route.model);
  return line;
}

/* After admission: read, check the budget for the call's cycles, make the call. NULL when the call
 * is made (its callback answers), else the refusal line. */
static const char *start_answer(answer_shape shape, const principal_id *caller, uint64_t arg_size, uint64_t limit) {
  static char line[VIA_BYTES + 200];
  conversation c;
  const char *problem = conversation_read(&c);
  if (!problem) problem = model_refusal(&c);
  if (problem) return problem;
  uint32_t env;
  pending_call *p = free_slot(&env);
  if (!p) {
    inference_count_refusal();
    rt_format(line, sizeof line, "busy: %u answers are on their way already; try again in a moment", MAX_PENDING);
    return line;
  }
  int endpoint = route.kind == ROUTE_ENDPOINT;
  uint64_t request_bytes;
  uint64_t attached = endpoint ? outcall_estimate(&c, &request_bytes) : 0; /* an outcall's price */
  if (!endpoint) request_bytes = forward_request_bytes(&c);
  /* the budget counts what the answer will cost at least: the cycles attached and the call's fee */
  uint64_t needed = attached + call_fee(request_bytes, 0);
  if (needed > limit) {
    inference_count_refusal();
    return budget_refusal(caller, ic0_time());
  }
  /* The cycles attached (an outcall's price) and what the call itself takes: with less, attaching
   * them would trap or call_perform would refuse the call. */
  uint64_t spend = attached + call_charges(request_bytes);
  uint64_t liquid = call_liquid_cycles();
  if (spend > liquid) {
    rt_format(line, sizeof line,
              "this canister has %llu cycles it can spend and an answer takes %llu: its controllers top it up",
              (unsigned long long)liquid, (unsigned long long)spend);
    return line;
  }
  *p = (pending_call){.in_use = 1, .shape = shape, .caller = *caller, .arg_size = arg_size, .request_bytes = request_bytes};
  memcpy(p->model, route.model, sizeof p->model);
  route_via(p->via, sizeof p->via);
  uint32_t failed;
  if (route.kind == ROUTE_ENDPOINT) {
    call_callbacks callbacks = {on_outcall_reply, on_outcall_reject, on_cleanup, env};
    failed = outcall_start(&c, caller, callbacks, &p->cycles);
  } else {
    call_callbacks callbacks = {on_forward_reply, on_forward_reject, on_cleanup, env};
    failed = forward_start(&c, callbacks);
  }
  if (!failed) return 0;
  p->in_use = 0;
  rt_format(line, sizeof line, "the call to the %s could not be made now (call_perform returned %u); try again",
            p->via, failed);
  return line;
}

static void answer(answer_shape shape) {
  rt_message_begin();
  if (route.kind == ROUTE_NONE) {
    rt_reject(ROUTE_NOT_CONFIGURED);
    return;
  }
  principal_id caller = caller_id();
  uint64_t arg_size = ic0_msg_arg_data_size(), limit;
  const char *refusal = inference_admit(&caller, arg_size, answer_min_cost(), ic0_time(), &limit, 1);
  if (!refusal) refusal = start_answer(shape, &caller, arg_size, limit);
  if (!refusal) return; /* the callback answers and charges */
  rt_reject(refusal);
  inference_charge(&caller, ic0_performance_counter(0) + inference_overhead(arg_size));
}

/* update v1_chat : (chat_request_v1) -> (chat_response_v1): the LLM canister's own method. */
__attribute__((export_name("canister_update v1_chat"))) void v1_chat(void) { answer(SHAPE_V1_CHAT); }

/* update chat : (chat_request_v1) -> (ChatAnswer): the same answer, with its model, route and cost. */
__attribute__((export_name("canister_update chat"))) void chat(void) { answer(SHAPE_CHAT); }
