/* sysapi.c: a test canister that exercises every System API function the local replica offers.
 *
 * Arguments and replies are raw little-endian bytes (no Candid): the tests drive the System API,
 * not a serialization format. `call_api` calls one ic0 function chosen by index (see API_NAMES)
 * with valid arguments, so tests can check in which execution contexts each one traps.
 */
#include "ic0.h"

typedef unsigned char u8;

/* ---- tiny helpers (no libc) ---------------------------------------------------------------- */

static void copy(void *dst, const void *src, size_t n) {
  u8 *d = dst;
  const u8 *s = src;
  while (n--) *d++ = *s++;
}

static size_t length(const char *s) {
  size_t n = 0;
  while (s[n]) n++;
  return n;
}

static int starts_with(const u8 *data, size_t size, const char *prefix) {
  size_t n = length(prefix);
  if (size < n) return 0;
  for (size_t i = 0; i < n; i++)
    if (data[i] != (u8)prefix[i]) return 0;
  return 1;
}

static void trap_text(const char *message) { ic0_trap(message, length(message)); }

static u8 arg[2 * 1024 * 1024 + 64];
static size_t arg_size;

static void read_arg(void) {
  arg_size = ic0_msg_arg_data_size();
  if (arg_size > sizeof arg) trap_text("argument too large");
  ic0_msg_arg_data_copy(arg, 0, arg_size);
}

static uint64_t arg_u64(size_t at) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | (at + i < arg_size ? arg[at + i] : 0);
  return v;
}

static void reply(const void *data, size_t size) {
  ic0_msg_reply_data_append(data, size);
  ic0_msg_reply();
}

static void reply_u64(uint64_t v) { reply(&v, 8); }

static void reply_text(const char *s) { reply(s, length(s)); }

/* ---- persistent state (heap) ---------------------------------------------------------------- */

static uint64_t counter;
static uint64_t timer_fired;
static uint64_t heartbeats;
static uint64_t heartbeat_on;
static uint64_t task_api = 0xFF;  /* call_api selector for heartbeat/timer, 0xFF: none */
static uint64_t task_ok;          /* system tasks that ran call_api without trapping */
static uint64_t pre_upgrade_api = 0xFF;
static uint64_t pre_upgrade_trap;
static u8 init_arg[64];
static size_t init_arg_size;
static u8 init_caller[32];
static size_t init_caller_size;
static uint64_t post_upgrade_counter; /* counter value read back from stable memory after upgrade */
static uint64_t upgraded;
static u8 big[3 * 1024 * 1024 + 16];

/* ---- one call of every supported ic0 function, by index ------------------------------------- */

static const char *API_NAMES[] = {
    "msg_arg_data_size", "msg_arg_data_copy", "msg_caller_size", "msg_caller_copy",
    "msg_caller_info_data_size", "msg_caller_info_data_copy", "msg_caller_info_signer_size",
    "msg_caller_info_signer_copy", "msg_reject_code", "msg_reject_msg_size", "msg_reject_msg_copy",
    "msg_deadline", "msg_reply_data_append", "msg_reply", "msg_reject", "msg_cycles_available128",
    "msg_cycles_refunded128", "msg_cycles_accept128", "cycles_burn128", "canister_self_size",
    "canister_self_copy", "canister_cycle_balance128", "canister_liquid_cycle_balance128",
    "canister_status", "canister_version", "subnet_self_size", "subnet_self_copy",
    "msg_method_name_size", "msg_method_name_copy", "accept_message", "stable64_size",
    "stable64_grow", "stable64_write", "stable64_read", "root_key_size", "root_key_copy",
    "certified_data_set", "data_certificate_present", "data_certificate_size",
    "data_certificate_copy", "time", "global_timer_set", "performance_counter", "is_controller",
    "in_replicated_execution", "debug_print", "msg_cycles_available", "msg_cycles_refunded",
    "msg_cycles_accept", "canister_cycle_balance", "stable_size", "stable_grow", "stable_write",
    "stable_read",
};
#define API_COUNT (sizeof API_NAMES / sizeof API_NAMES[0])

static u8 scratch[256];

static void call_api(unsigned which) {
  switch (which) {
    case 0: (void)ic0_msg_arg_data_size(); break;
    case 1: ic0_msg_arg_data_copy(scratch, 0, 0); break;
    case 2: (void)ic0_msg_caller_size(); break;
    case 3: ic0_msg_caller_copy(scratch, 0, ic0_msg_caller_size()); break;
    case 4: (void)ic0_msg_caller_info_data_size(); break;
    case 5: ic0_msg_caller_info_data_copy(scratch, 0, 0); break;
    case 6: (void)ic0_msg_caller_info_signer_size(); break;
    case 7: ic0_msg_caller_info_signer_copy(scratch, 0, 0); break;
    case 8: (void)ic0_msg_reject_code(); break;
    case 9: (void)ic0_msg_reject_msg_size(); break;
    case 10: ic0_msg_reject_msg_copy(scratch, 0, 0); break;
    case 11: (void)ic0_msg_deadline(); break;
    case 12: ic0_msg_reply_data_append(scratch, 1); break;
    case 13: ic0_msg_reply(); break;
    case 14: ic0_msg_reject("no", 2); break;
    case 15: ic0_msg_cycles_available128(scratch); break;
    case 16: ic0_msg_cycles_refunded128(scratch); break;
    case 17: ic0_msg_cycles_accept128(0, 0, scratch); break;
    case 18: ic0_cycles_burn128(0, 0, scratch); break;
    case 19: (void)ic0_canister_self_size(); break;
    case 20: ic0_canister_self_copy(scratch, 0, ic0_canister_self_size()); break;
    case 21: ic0_canister_cycle_balance128(scratch); break;
    case 22: ic0_canister_liquid_cycle_balance128(scratch); break;
    case 23: (void)ic0_canister_status(); break;
    case 24: (void)ic0_canister_version(); break;
    case 25: (void)ic0_subnet_self_size(); break;
    case 26: ic0_subnet_self_copy(scratch, 0, ic0_subnet_self_size()); break;
    case 27: (void)ic0_msg_method_name_size(); break;
    case 28: ic0_msg_method_name_copy(scratch, 0, 0); break;
    case 29: ic0_accept_message(); break;
    case 30: (void)ic0_stable64_size(); break;
    case 31: (void)ic0_stable64_grow(0); break;
    case 32: ic0_stable64_write(0, (uint64_t)(uintptr_t)scratch, 0); break;
    case 33: ic0_stable64_read((uint64_t)(uintptr_t)scratch, 0, 0); break;
    case 34: (void)ic0_root_key_size(); break;
    case 35: ic0_root_key_copy(scratch, 0, 0); break;
    case 36: ic0_certified_data_set(scratch, 0); break;
    case 37: (void)ic0_data_certificate_present(); break;
    case 38: (void)ic0_data_certificate_size(); break;
    case 39: ic0_data_certificate_copy(scratch, 0, 0); break;
    case 40: (void)ic0_time(); break;
    case 41: (void)ic0_global_timer_set(0); break;
    case 42: (void)ic0_performance_counter(0); break;
    case 43: (void)ic0_is_controller(scratch, 0); break;
    case 44: (void)ic0_in_replicated_execution(); break;
    case 45: ic0_debug_print("hi", 2); break;
    case 46: (void)ic0_msg_cycles_available(); break;
    case 47: (void)ic0_msg_cycles_refunded(); break;
    case 48: (void)ic0_msg_cycles_accept(0); break;
    case 49: (void)ic0_canister_cycle_balance(); break;
    case 50: (void)ic0_stable_size(); break;
    case 51: (void)ic0_stable_grow(0); break;
    case 52: ic0_stable_write(0, scratch, 0); break;
    case 53: ic0_stable_read(scratch, 0, 0); break;
    default: trap_text("unknown api index");
  }
}

/* The selector travels as "api:" + one byte. */
static int api_selector(unsigned *which) {
  if (!starts_with(arg, arg_size, "api:") || arg_size < 5) return 0;
  *which = arg[4];
  return 1;
}

__attribute__((export_name("canister_query api_names"))) void api_names(void) {
  for (unsigned i = 0; i < API_COUNT; i++) {
    ic0_msg_reply_data_append(API_NAMES[i], length(API_NAMES[i]));
    ic0_msg_reply_data_append("\n", 1);
  }
  ic0_msg_reply();
}

/* Call the API; reply "ok" unless the call itself replied or rejected. */
static void try_api(void) {
  read_arg();
  unsigned which;
  if (!api_selector(&which)) trap_text("expected api:<index>");
  call_api(which);
  if (which != 13 && which != 14) reply_text("ok");
}

__attribute__((export_name("canister_update try_update"))) void try_update(void) { try_api(); }
__attribute__((export_name("canister_query try_query"))) void try_query(void) { try_api(); }
__attribute__((export_name("canister_composite_query try_composite"))) void try_composite(void) { try_api(); }
/* An update method that inspect_message handles specially (see below). */
__attribute__((export_name("canister_update try_inspect"))) void try_inspect(void) { reply_text("executed"); }

__attribute__((export_name("canister_update set_task_api"))) void set_task_api(void) {
  read_arg();
  task_api = arg_size ? arg[0] : 0xFF;
  task_ok = 0;
  reply_u64(task_api);
}

__attribute__((export_name("canister_update set_pre_upgrade"))) void set_pre_upgrade(void) {
  read_arg();
  pre_upgrade_api = arg_size > 0 ? arg[0] : 0xFF;
  pre_upgrade_trap = arg_size > 1 ? arg[1] : 0;
  reply_u64(pre_upgrade_api);
}

/* ---- lifecycle ------------------------------------------------------------------------------ */

__attribute__((export_name("canister_init"))) void init(void) {
  read_arg();
  unsigned which;
  if (api_selector(&which)) call_api(which);
  init_arg_size = arg_size < sizeof init_arg ? arg_size : sizeof init_arg;
  copy(init_arg, arg, init_arg_size);
  init_caller_size = ic0_msg_caller_size();
  ic0_msg_caller_copy(init_caller, 0, init_caller_size);
  if (starts_with(arg, arg_size, "trap")) trap_text("init trapped on request");
}

__attribute__((export_name("canister_pre_upgrade"))) void pre_upgrade(void) {
  if (pre_upgrade_api != 0xFF) call_api((unsigned)pre_upgrade_api);
  /* Save the counter at stable offset 0 (grow to one page if needed). */
  if (ic0_stable64_size() == 0 && ic0_stable64_grow(1) < 0) trap_text("stable grow failed");
  ic0_stable64_write(0, (uint64_t)(uintptr_t)&counter, 8);
  if (pre_upgrade_trap) trap_text("pre_upgrade trapped on request");
}

__attribute__((export_name("canister_post_upgrade"))) void post_upgrade(void) {
  read_arg();
  unsigned which;
  if (api_selector(&which)) call_api(which);
  if (ic0_stable64_size() > 0) ic0_stable64_read((uint64_t)(uintptr_t)&post_upgrade_counter, 0, 8);
  counter = post_upgrade_counter;
  upgraded += 1;
  init_arg_size = arg_size < sizeof init_arg ? arg_size : sizeof init_arg;
  copy(init_arg, arg, init_arg_size);
  if (starts_with(arg, arg_size, "trap")) trap_text("post_upgrade trapped on request");
}

__attribute__((export_name("canister_inspect_message"))) void inspect(void) {
  u8 name[64];
  size_t n = ic0_msg_method_name_size();
  if (n > sizeof name) trap_text("method name too long");
  ic0_msg_method_name_copy(name, 0, n);
  read_arg();
  if (starts_with(name, n, "try_inspect")) {
    unsigned which;
    if (api_selector(&which)) call_api(which);
    if (which != 29) ic0_accept_message();
    return;
  }
  if (starts_with(name, n, "deny")) return;                    /* not accepted */
  if (starts_with(arg, arg_size, "inspect-trap")) trap_text("inspect trapped");
  if (starts_with(arg, arg_size, "inspect-spin")) {
    volatile uint64_t acc = 0;
    for (;;) acc += 1;
  }
  ic0_accept_message();
}

__attribute__((export_name("canister_update deny_me"))) void deny_me(void) { reply_text("should not run"); }

__attribute__((export_name("canister_heartbeat"))) void heartbeat(void) {
  if (!heartbeat_on) return;
  heartbeats += 1;
  if (task_api != 0xFF) {
    call_api((unsigned)task_api);
    task_ok += 1;
  }
}

__attribute__((export_name("canister_global_timer"))) void global_timer(void) {
  timer_fired += 1;
  if (task_api != 0xFF && !heartbeat_on) {
    call_api((unsigned)task_api);
    task_ok += 1;
  }
}

/* ---- state, rollback, replies --------------------------------------------------------------- */

__attribute__((export_name("canister_update inc"))) void inc(void) { reply_u64(++counter); }
__attribute__((export_name("canister_query read"))) void read(void) { reply_u64(counter); }
/* A query that changes state: the change must not persist. */
__attribute__((export_name("canister_query inc_in_query"))) void inc_in_query(void) { reply_u64(++counter); }

__attribute__((export_name("canister_query state"))) void state(void) {
  uint64_t values[8] = {counter, timer_fired, heartbeats, task_ok, upgraded, post_upgrade_counter,
                        init_arg_size, init_caller_size};
  reply(values, sizeof values);
}

__attribute__((export_name("canister_query init_arg"))) void get_init_arg(void) { reply(init_arg, init_arg_size); }
__attribute__((export_name("canister_query init_caller"))) void get_init_caller(void) { reply(init_caller, init_caller_size); }

__attribute__((export_name("canister_update set_heartbeat"))) void set_heartbeat(void) {
  read_arg();
  heartbeat_on = arg_size ? arg[0] : 0;
  reply_u64(heartbeat_on);
}

/* Change the heap, stable memory, certified data and the timer, then trap: nothing may remain. */
__attribute__((export_name("canister_update change_then_trap"))) void change_then_trap(void) {
  counter += 1000;
  if (ic0_stable64_size() == 0) ic0_stable64_grow(1);
  ic0_stable64_write(100, (uint64_t)(uintptr_t)"changed", 7);
  ic0_certified_data_set("changed", 7);
  ic0_global_timer_set(123);
  trap_text("trapped after changing state");
}

/* Same, but the trap comes from the wasm itself after growing the heap (rollback needs a rebuild). */
__attribute__((export_name("canister_update grow_then_trap"))) void grow_then_trap(void) {
  counter += 1000;
  read_arg();
  uint64_t pages = arg_size ? arg_u64(0) : 16;
  size_t old = __builtin_wasm_memory_grow(0, pages);
  if (old == (size_t)-1) trap_text("grow failed");
  ((u8 *)(old * 65536))[0] = 1;
  __builtin_trap();
}

__attribute__((export_name("canister_update grow"))) void grow(void) {
  read_arg();
  uint64_t pages = arg_size ? arg_u64(0) : 1;
  size_t old = __builtin_wasm_memory_grow(0, pages);
  if (old != (size_t)-1 && pages) ((u8 *)(old * 65536))[pages * 65536 - 1] = 7;
  reply_u64(old == (size_t)-1 ? (uint64_t)-1 : (uint64_t)__builtin_wasm_memory_size(0));
}

__attribute__((export_name("canister_query memory_size"))) void memory_size(void) {
  reply_u64((uint64_t)__builtin_wasm_memory_size(0));
}

__attribute__((export_name("canister_update trap"))) void trap_update(void) {
  read_arg();
  ic0_trap(arg, arg_size);
}

__attribute__((export_name("canister_update unreachable"))) void unreachable_update(void) { __builtin_trap(); }

__attribute__((export_name("canister_update heap_oob"))) void heap_oob(void) {
  volatile u8 *p = (u8 *)(uintptr_t)0xFFFFFFF0u;
  u8 v = p[0];
  reply(&v, 1);
}

/* Hand the System API a buffer outside the heap. */
__attribute__((export_name("canister_update reply_oob"))) void reply_oob(void) {
  reply((const void *)(uintptr_t)0xFFFFFFF0u, 1);
}

__attribute__((export_name("canister_update reject"))) void reject_update(void) {
  read_arg();
  ic0_msg_reject(arg, arg_size);
}

__attribute__((export_name("canister_update no_reply"))) void no_reply(void) { counter += 1; }

__attribute__((export_name("canister_update reply_twice"))) void reply_twice(void) {
  reply_text("once");
  ic0_msg_reply();
}

__attribute__((export_name("canister_update reply_then_reject"))) void reply_then_reject(void) {
  reply_text("once");
  ic0_msg_reject("and again", 9);
}

/* Reply with `size` bytes (u64 argument), appended in 64 KiB pieces. */
static void reply_size(void) {
  read_arg();
  uint64_t size = arg_u64(0);
  if (size > sizeof big) trap_text("size too large for the test buffer");
  for (uint64_t done = 0; done < size; done += 65536) {
    uint64_t n = size - done < 65536 ? size - done : 65536;
    ic0_msg_reply_data_append(big + done, n);
  }
  ic0_msg_reply();
}

__attribute__((export_name("canister_update reply_size"))) void reply_size_update(void) { reply_size(); }
__attribute__((export_name("canister_query reply_size_q"))) void reply_size_query(void) { reply_size(); }

__attribute__((export_name("canister_update echo"))) void echo(void) {
  read_arg();
  reply(arg, arg_size);
}

__attribute__((export_name("canister_query echo_q"))) void echo_q(void) {
  read_arg();
  reply(arg, arg_size);
}

__attribute__((export_name("canister_update empty"))) void empty_update(void) { ic0_msg_reply(); }
__attribute__((export_name("canister_query empty_q"))) void empty_query(void) { ic0_msg_reply(); }

/* Spin `n` iterations (u64 argument), then reply the instruction counter. */
static void spin(void) {
  read_arg();
  uint64_t n = arg_u64(0);
  volatile uint64_t acc = 0;
  for (uint64_t i = 0; i < n; i++) acc += i;
  reply_u64(ic0_performance_counter(0));
}

__attribute__((export_name("canister_update spin"))) void spin_update(void) { spin(); }
__attribute__((export_name("canister_query spin_q"))) void spin_query(void) { spin(); }

__attribute__((export_name("canister_update debug"))) void debug(void) {
  read_arg();
  ic0_debug_print(arg, arg_size);
  ic0_msg_reply();
}

/* ---- stable memory -------------------------------------------------------------------------- */

/* Argument: u64 offset, then data. Grows stable memory as needed. */
__attribute__((export_name("canister_update stable_write"))) void stable_write(void) {
  read_arg();
  uint64_t offset = arg_u64(0);
  uint64_t size = arg_size - 8;
  uint64_t need = (offset + size + 65535) / 65536;
  uint64_t have = ic0_stable64_size();
  if (need > have && ic0_stable64_grow(need - have) < 0) trap_text("stable64_grow failed");
  ic0_stable64_write(offset, (uint64_t)(uintptr_t)(arg + 8), size);
  reply_u64(ic0_stable64_size());
}

/* Argument: u64 offset, u64 size. */
__attribute__((export_name("canister_query stable_read"))) void stable_read(void) {
  read_arg();
  uint64_t offset = arg_u64(0), size = arg_u64(8);
  if (size > sizeof big) trap_text("read too large");
  ic0_stable64_read((uint64_t)(uintptr_t)big, offset, size);
  reply(big, size);
}

__attribute__((export_name("canister_update stable_grow"))) void stable_grow(void) {
  read_arg();
  reply_u64((uint64_t)ic0_stable64_grow(arg_u64(0)));
}

__attribute__((export_name("canister_query stable_size"))) void stable_size(void) { reply_u64(ic0_stable64_size()); }

/* The deprecated 32-bit API: write the argument at offset 8, read it back, reply (size, data). */
__attribute__((export_name("canister_update stable32"))) void stable32(void) {
  read_arg();
  if (ic0_stable_size() == 0 && ic0_stable_grow(1) < 0) trap_text("stable_grow failed");
  ic0_stable_write(8, arg, arg_size);
  u8 back[256];
  size_t n = arg_size < sizeof back ? arg_size : sizeof back;
  ic0_stable_read(back, 8, n);
  uint32_t pages = ic0_stable_size();
  ic0_msg_reply_data_append(&pages, 4);
  ic0_msg_reply_data_append(back, n);
  ic0_msg_reply();
}

/* Touch `count` (u64) distinct stable pages spaced 4 KiB apart starting at 0, writing 1 byte each. */
__attribute__((export_name("canister_update stable_touch"))) void stable_touch(void) {
  read_arg();
  uint64_t count = arg_u64(0);
  uint64_t need = (count * 4096 + 65535) / 65536;
  uint64_t have = ic0_stable64_size();
  if (need > have && ic0_stable64_grow(need - have) < 0) trap_text("stable64_grow failed");
  u8 one = 1;
  for (uint64_t i = 0; i < count; i++) ic0_stable64_write(i * 4096, (uint64_t)(uintptr_t)&one, 1);
  reply_u64(count);
}

/* ---- identity, cycles, time, certification -------------------------------------------------- */

__attribute__((export_name("canister_query caller"))) void caller(void) {
  u8 id[32];
  size_t n = ic0_msg_caller_size();
  ic0_msg_caller_copy(id, 0, n);
  reply(id, n);
}

__attribute__((export_name("canister_update caller_u"))) void caller_u(void) { caller(); }

__attribute__((export_name("canister_query self"))) void self(void) {
  u8 id[32];
  size_t n = ic0_canister_self_size();
  ic0_canister_self_copy(id, 0, n);
  reply(id, n);
}

__attribute__((export_name("canister_query subnet"))) void subnet(void) {
  u8 id[32];
  size_t n = ic0_subnet_self_size();
  ic0_subnet_self_copy(id, 0, n);
  reply(id, n);
}

__attribute__((export_name("canister_update root_key"))) void root_key(void) {
  static u8 key[256];
  size_t n = ic0_root_key_size();
  if (n > sizeof key) trap_text("root key too long");
  ic0_root_key_copy(key, 0, n);
  reply(key, n);
}

/* Reply: balance128, liquid balance128, balance64, status u32, version u64, time u64, deadline u64,
 * replicated u32, available128, accepted128, burned128 (argument: u64 amount to burn). */
static void facts(void) {
  read_arg();
  u8 out[16 * 6 + 8 * 4 + 4 * 2];
  u8 *p = out;
  ic0_canister_cycle_balance128(p); p += 16;
  ic0_canister_liquid_cycle_balance128(p); p += 16;
  uint64_t b = ic0_canister_cycle_balance(); copy(p, &b, 8); p += 8;
  uint32_t status = ic0_canister_status(); copy(p, &status, 4); p += 4;
  uint64_t version = ic0_canister_version(); copy(p, &version, 8); p += 8;
  uint64_t now = ic0_time(); copy(p, &now, 8); p += 8;
  uint64_t deadline = ic0_msg_deadline(); copy(p, &deadline, 8); p += 8;
  uint32_t replicated = ic0_in_replicated_execution(); copy(p, &replicated, 4); p += 4;
  ic0_msg_cycles_available128(p); p += 16;
  ic0_msg_cycles_accept128(0, 1000, p); p += 16;
  ic0_cycles_burn128(0, arg_u64(0), p); p += 16;
  (void)ic0_msg_cycles_available();
  (void)ic0_msg_cycles_accept(5);
  reply(out, (size_t)(p - out));
}

__attribute__((export_name("canister_update facts"))) void facts_update(void) { facts(); }

__attribute__((export_name("canister_query is_controller"))) void is_controller(void) {
  read_arg();
  reply_u64(ic0_is_controller(arg, arg_size));
}

__attribute__((export_name("canister_query caller_info"))) void caller_info(void) {
  uint64_t sizes[2] = {ic0_msg_caller_info_data_size(), ic0_msg_caller_info_signer_size()};
  reply(sizes, sizeof sizes);
}

__attribute__((export_name("canister_update set_certified"))) void set_certified(void) {
  read_arg();
  ic0_certified_data_set(arg, arg_size);
  ic0_msg_reply();
}

/* Reply: present u32, then the certificate. */
__attribute__((export_name("canister_query certificate"))) void certificate(void) {
  uint32_t present = ic0_data_certificate_present();
  ic0_msg_reply_data_append(&present, 4);
  if (present) {
    size_t n = ic0_data_certificate_size();
    if (n > sizeof big) trap_text("certificate too large");
    ic0_data_certificate_copy(big, 0, n);
    ic0_msg_reply_data_append(big, n);
  }
  ic0_msg_reply();
}

__attribute__((export_name("canister_update certificate_u"))) void certificate_u(void) { certificate(); }

/* Argument: u64 timestamp. Reply: the previous timer. */
__attribute__((export_name("canister_update set_timer"))) void set_timer(void) {
  read_arg();
  reply_u64(ic0_global_timer_set(arg_u64(0)));
}

/* Argument: u32 counter type. */
__attribute__((export_name("canister_query perf"))) void perf(void) {
  read_arg();
  reply_u64(ic0_performance_counter((uint32_t)arg_u64(0)));
}

/* Call a cheap System API function `n` (u64) times: the cost of the System API boundary. */
__attribute__((export_name("canister_query api_loop"))) void api_loop(void) {
  read_arg();
  uint64_t n = arg_u64(0), sum = 0;
  for (uint64_t i = 0; i < n; i++) sum += ic0_canister_self_size();
  reply_u64(sum);
}

/* Write one byte in each of `n` (u64) distinct 4 KiB heap pages of `big`, then reply. */
__attribute__((export_name("canister_update touch_heap"))) void touch_heap(void) {
  read_arg();
  uint64_t n = arg_u64(0);
  if (n * 4096 > sizeof big) trap_text("too many pages");
  for (uint64_t i = 0; i < n; i++) big[i * 4096] += 1;
  ic0_msg_reply();
}

__attribute__((export_name("canister_query touch_heap_q"))) void touch_heap_q(void) { touch_heap(); }

/* Read `total` (u64) bytes of stable memory from offset 0 in 3 MiB pieces (growing it first). */
__attribute__((export_name("canister_update stable_scan"))) void stable_scan(void) {
  read_arg();
  uint64_t total = arg_u64(0);
  uint64_t need = (total + 65535) / 65536, have = ic0_stable64_size();
  if (need > have && ic0_stable64_grow(need - have) < 0) trap_text("stable64_grow failed");
  for (uint64_t done = 0; done < total;) {
    uint64_t n = total - done < 3 * 1024 * 1024 ? total - done : 3 * 1024 * 1024;
    ic0_stable64_read((uint64_t)(uintptr_t)big, done, n);
    done += n;
  }
  reply_u64(total);
}

__attribute__((export_name("canister_query replicated"))) void replicated_q(void) { reply_u64(ic0_in_replicated_execution()); }
__attribute__((export_name("canister_update replicated_u"))) void replicated_u(void) { replicated_q(); }

/* Increment the counter and mirror it at stable offset 8: heap and stable memory must agree. */
__attribute__((export_name("canister_update inc_both"))) void inc_both(void) {
  counter += 1;
  if (ic0_stable64_size() == 0 && ic0_stable64_grow(1) < 0) trap_text("stable grow failed");
  ic0_stable64_write(8, (uint64_t)(uintptr_t)&counter, 8);
  reply_u64(counter);
}

/* Reply, then trap: the reply must be discarded along with every other effect. */
__attribute__((export_name("canister_update reply_then_trap"))) void reply_then_trap(void) {
  counter += 1;
  reply_text("too early");
  trap_text("trapped after replying");
}
