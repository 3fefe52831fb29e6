/* caller.c: a test canister for inter-canister calls (both the caller and the callee).
 *
 * Raw little-endian arguments and text replies (no Candid): the tests drive the call machinery.
 *
 * `call` makes calls described by its argument, each:
 *     u8 callee_len | callee | u8 method_len | method | u64 cycles | u32 payload_len | payload | u8 flags
 * after a u16 count. Flags: TRAP_IN_REPLY (the reply callback bumps `counter` by 100, then
 * traps), CLEANUP (a cleanup closure that bumps `cleanups`), TRAP_AFTER (the update traps after
 * performing its calls). The update replies "perform <i>=<code>" lines for calls that were not
 * made; otherwise the last callback replies with one line per response, in arrival order:
 * "reply <i> <payload> refund=<n>" or "reject <i> code=<c> refund=<n> <message>".
 *
 * As a callee: `echo` (replies its argument), `accept` (u64 max: accepts up to it, replies
 * "available=<a> accepted=<n>"), `reject` (ic0.msg_reject with its argument), `trap`, `noreply`,
 * `seq` (appends its argument to `seen`), `bump` (counter += 1). Queries: `counters`
 * ("counter=<n> cleanups=<n>"), `seen`, `qecho` and `transform` ("T:" + argument: an HTTPS
 * outcall's transform).
 */
#include "ic0.h"

typedef unsigned char u8;

enum { TRAP_IN_REPLY = 1, CLEANUP = 2, TRAP_AFTER = 4 };
#define MAX_CALLS 1024

static u8 arg[64 * 1024];
static size_t arg_size;
static char out[64 * 1024];
static size_t out_size;
static u8 flags_of[MAX_CALLS];
static uint32_t pending;  /* calls of the current `call` still waiting for their response */
static uint64_t counter, cleanups;
static u8 seen[4096];
static size_t seen_size;

static size_t length(const char *s) {
  size_t n = 0;
  while (s[n]) n++;
  return n;
}

static void trap_text(const char *message) { ic0_trap(message, length(message)); }

static void read_arg(void) {
  arg_size = ic0_msg_arg_data_size();
  if (arg_size > sizeof arg) trap_text("argument too large");
  ic0_msg_arg_data_copy(arg, 0, arg_size);
}

static void put(const void *data, size_t n) {
  const u8 *p = data;
  while (n-- && out_size < sizeof out) out[out_size++] = (char)*p++;
}

static void put_text(const char *s) { put(s, length(s)); }

static void put_u64(uint64_t v) {
  char digits[24];
  size_t n = 0;
  do digits[n++] = (char)('0' + v % 10); while (v /= 10);
  while (n) put(&digits[--n], 1);
}

static uint64_t read_u64(const u8 *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
  return v;
}

static uint64_t cycles128_low(void (*read)(void *)) {
  u8 amount[16];
  read(amount);
  return read_u64(amount);
}

static void reply_out(void) {
  ic0_msg_reply_data_append(out, out_size);
  ic0_msg_reply();
}

/* ---- the caller ------------------------------------------------------------------------------ */

static void on_reply(uint32_t i) {
  if (flags_of[i] & TRAP_IN_REPLY) {
    counter += 100;  /* rolled back with the trap */
    trap_text("reply callback trapped");
  }
  size_t n = ic0_msg_arg_data_size();
  u8 data[1024];
  if (n > sizeof data) n = sizeof data;
  ic0_msg_arg_data_copy(data, 0, n);
  put_text("reply ");
  put_u64(i);
  put_text(" ");
  put(data, n);
  put_text(" refund=");
  put_u64(cycles128_low(ic0_msg_cycles_refunded128));
  put_text("\n");
  if (--pending == 0) reply_out();
}

static void on_reject(uint32_t i) {
  char message[1024];
  size_t n = ic0_msg_reject_msg_size();
  if (n > sizeof message) n = sizeof message;
  ic0_msg_reject_msg_copy(message, 0, n);
  put_text("reject ");
  put_u64(i);
  put_text(" code=");
  put_u64(ic0_msg_reject_code());
  put_text(" refund=");
  put_u64(cycles128_low(ic0_msg_cycles_refunded128));
  put_text(" ");
  put(message, n);
  put_text("\n");
  if (--pending == 0) reply_out();
}

static void on_cleanup(uint32_t i) {
  (void)i;
  cleanups += 1;
}

__attribute__((export_name("canister_update call"))) void call(void) {
  read_arg();
  out_size = 0;
  pending = 0;
  const u8 *p = arg;
  uint32_t count = p[0] | p[1] << 8;
  u8 trap_after = 0;
  p += 2;
  if (count > MAX_CALLS) trap_text("too many calls");
  for (uint32_t i = 0; i < count; i++) {
    const u8 *callee = p + 1;
    size_t callee_len = p[0];
    p += 1 + callee_len;
    const u8 *method = p + 1;
    size_t method_len = p[0];
    p += 1 + method_len;
    uint64_t cycles = read_u64(p);
    p += 8;
    uint32_t payload_len = p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
    const u8 *payload = p + 4;
    p += 4 + payload_len;
    u8 flags = *p++;
    flags_of[i] = flags;
    trap_after |= flags & TRAP_AFTER;
    ic0_call_new(callee, callee_len, method, method_len, (uint32_t)(uintptr_t)&on_reply, i,
                 (uint32_t)(uintptr_t)&on_reject, i);
    ic0_call_data_append(payload, payload_len);
    if (cycles) ic0_call_cycles_add128(0, cycles);
    if (flags & CLEANUP) ic0_call_on_cleanup((uint32_t)(uintptr_t)&on_cleanup, i);
    uint32_t code = ic0_call_perform();
    if (code == 0) {
      pending++;
    } else {
      put_text("perform ");
      put_u64(i);
      put_text("=");
      put_u64(code);
      put_text("\n");
    }
  }
  if (trap_after) trap_text("trapped after calling");
  if (pending == 0) reply_out();
}

/* ---- the callee ------------------------------------------------------------------------------ */

static void reply_arg(void) {
  read_arg();
  ic0_msg_reply_data_append(arg, arg_size);
  ic0_msg_reply();
}

__attribute__((export_name("canister_update echo"))) void echo(void) { reply_arg(); }

__attribute__((export_name("canister_update accept"))) void accept(void) {
  read_arg();
  uint64_t available = cycles128_low(ic0_msg_cycles_available128);
  u8 accepted[16];
  ic0_msg_cycles_accept128(0, read_u64(arg), accepted);
  out_size = 0;
  put_text("available=");
  put_u64(available);
  put_text(" accepted=");
  put_u64(read_u64(accepted));
  reply_out();
}

/* The argument is the reject message / the trap message. */
__attribute__((export_name("canister_update reject"))) void reject(void) { read_arg(), ic0_msg_reject(arg, arg_size); }
__attribute__((export_name("canister_update trap"))) void trap(void) { read_arg(), ic0_trap(arg, arg_size); }

__attribute__((export_name("canister_update noreply"))) void noreply(void) { counter += 1; }

__attribute__((export_name("canister_update seq"))) void seq(void) {
  read_arg();
  for (size_t i = 0; i < arg_size && seen_size < sizeof seen; i++) seen[seen_size++] = arg[i];
  ic0_msg_reply();
}

__attribute__((export_name("canister_update bump"))) void bump(void) {
  counter += 1;
  ic0_msg_reply();
}

__attribute__((export_name("canister_query counters"))) void counters(void) {
  out_size = 0;
  put_text("counter=");
  put_u64(counter);
  put_text(" cleanups=");
  put_u64(cleanups);
  reply_out();
}

__attribute__((export_name("canister_query seen"))) void seen_query(void) {
  ic0_msg_reply_data_append(seen, seen_size);
  ic0_msg_reply();
}

__attribute__((export_name("canister_query qecho"))) void qecho(void) { reply_arg(); }

__attribute__((export_name("canister_query transform"))) void transform(void) {
  read_arg();
  ic0_msg_reply_data_append("T:", 2);
  ic0_msg_reply_data_append(arg, arg_size);
  ic0_msg_reply();
}
