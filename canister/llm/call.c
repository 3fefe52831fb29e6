/* call.c: the System API's call_* functions behind one function (call.h). */
#include "call.h"

#include "rt.h"

const principal_id MANAGEMENT_CANISTER = {.size = 0};

/* A function pointer is the function's index in the module's table, as the IC expects it. */
static uint32_t table_index(call_callback f) { return (uint32_t)(uintptr_t)f; }

uint32_t call_perform(const principal_id *callee, const char *method, const uint8_t *arg, size_t size,
                      uint64_t cycles, call_callbacks callbacks) {
  ic0_call_new(callee->bytes, callee->size, method, strlen(method), table_index(callbacks.on_reply), callbacks.env,
               table_index(callbacks.on_reject), callbacks.env);
  ic0_call_on_cleanup(table_index(callbacks.on_cleanup), callbacks.env);
  ic0_call_data_append(arg, size);
  if (cycles) ic0_call_cycles_add128(0, cycles);
  return ic0_call_perform();
}

/* A 128-bit amount as the System API writes it (little-endian: low, high), capped at 2^64 - 1. */
static uint64_t capped(const uint64_t amount[2]) { return amount[1] ? UINT64_MAX : amount[0]; }

uint64_t call_liquid_cycles(void) {
  uint64_t amount[2];
  ic0_canister_liquid_cycle_balance128(amount);
  return capped(amount);
}

#define XNET_CALL_CYCLES 260000ull
#define XNET_BYTE_CYCLES 1000ull
#define MAX_RESPONSE_BYTES (2ull * 1024 * 1024)         /* MAX_INTER_CANISTER_PAYLOAD_IN_BYTES */
#define CALLBACK_EXECUTION_CYCLES (5000000ull + 40000000000ull) /* 5M + the update instruction limit */

uint64_t call_fee(uint64_t request_bytes, uint64_t reply_bytes) {
  return XNET_CALL_CYCLES + XNET_BYTE_CYCLES * (request_bytes + reply_bytes);
}

uint64_t call_charges(uint64_t request_bytes) {
  return call_fee(request_bytes, MAX_RESPONSE_BYTES) + CALLBACK_EXECUTION_CYCLES;
}

uint64_t call_cycles_refunded(void) {
  uint64_t amount[2];
  ic0_msg_cycles_refunded128(amount);
  return capped(amount);
}

void call_reject_text(char *out, size_t capacity) {
  static const char *const CODES[] = {"", "SYS_FATAL", "SYS_TRANSIENT", "DESTINATION_INVALID", "CANISTER_REJECT",
                                      "CANISTER_ERROR", "SYS_UNKNOWN"};
  uint32_t code = ic0_msg_reject_code();
  size_t n = ic0_msg_reject_msg_size();
  char message[512];
  if (n > sizeof message - 1) {
    ic0_msg_reject_msg_copy(message, 0, sizeof message - 1);
    for (n = sizeof message - 1; n > 0 && (message[n] & 0xC0) == 0x80;) n--; /* a whole UTF-8 character */
  } else {
    ic0_msg_reject_msg_copy(message, 0, n);
  }
  message[n] = 0;
  rt_format(out, capacity, "%s: %s", code < 7 ? CODES[code] : "reject", message);
}
