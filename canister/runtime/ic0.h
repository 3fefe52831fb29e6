/* ic0.h: every function of the Internet Computer System API, as WASM imports from "ic0".
 *
 * Signatures follow the IC interface specification ("Overview of imports") for 32-bit canisters
 * (I = i32): pointers and sizes are 32-bit, cycle amounts are split into high/low 64-bit halves
 * or written as 16 little-endian bytes to `dst`, times are nanoseconds since 1970-01-01.
 * Declaring a function costs nothing: only the functions a canister calls become imports.
 *
 * The comment after each function lists where the IC lets a canister call it:
 *   I init/post_upgrade  G pre_upgrade  U update  RQ/NRQ query (replicated/not)  CQ composite
 *   query  Ry/Rt reply/reject callback  CRy/CRt the same in composite queries  C/CC cleanup
 *   F inspect_message  T heartbeat/global timer  s the (start) function  * = everywhere but s.
 * Calling one elsewhere traps. The icchat local replica implements all of them except
 * call_with_best_effort_response, the cost_* and env_var_* families; a module importing one of
 * those is refused at install with its name.
 */
#ifndef IC0_H
#define IC0_H

#include <stddef.h>
#include <stdint.h>

#define IC0_IMPORT(name) __attribute__((import_module("ic0"), import_name(#name)))

/* Message argument, caller and rejects. */
IC0_IMPORT(msg_arg_data_size) size_t ic0_msg_arg_data_size(void);                        /* I U RQ NRQ CQ Ry CRy F */
IC0_IMPORT(msg_arg_data_copy) void ic0_msg_arg_data_copy(void *dst, size_t offset, size_t size);
IC0_IMPORT(msg_caller_size) size_t ic0_msg_caller_size(void);                            /* * */
IC0_IMPORT(msg_caller_copy) void ic0_msg_caller_copy(void *dst, size_t offset, size_t size);
IC0_IMPORT(msg_caller_info_data_size) size_t ic0_msg_caller_info_data_size(void);        /* U RQ NRQ CQ Ry Rt CRy CRt C CC F */
IC0_IMPORT(msg_caller_info_data_copy) void ic0_msg_caller_info_data_copy(void *dst, size_t offset, size_t size);
IC0_IMPORT(msg_caller_info_signer_size) size_t ic0_msg_caller_info_signer_size(void);
IC0_IMPORT(msg_caller_info_signer_copy) void ic0_msg_caller_info_signer_copy(void *dst, size_t offset, size_t size);
IC0_IMPORT(msg_reject_code) uint32_t ic0_msg_reject_code(void);                          /* Ry Rt CRy CRt C */
IC0_IMPORT(msg_reject_msg_size) size_t ic0_msg_reject_msg_size(void);                    /* Rt CRt */
IC0_IMPORT(msg_reject_msg_copy) void ic0_msg_reject_msg_copy(void *dst, size_t offset, size_t size);
IC0_IMPORT(msg_deadline) uint64_t ic0_msg_deadline(void);                                /* U Q CQ Ry Rt CRy CRt */

/* Responding. */
IC0_IMPORT(msg_reply_data_append) void ic0_msg_reply_data_append(const void *src, size_t size); /* U RQ NRQ CQ Ry Rt CRy CRt */
IC0_IMPORT(msg_reply) void ic0_msg_reply(void);
IC0_IMPORT(msg_reject) void ic0_msg_reject(const void *src, size_t size);

/* Cycles (128-bit amounts: high and low halves in, 16 little-endian bytes out). */
IC0_IMPORT(msg_cycles_available128) void ic0_msg_cycles_available128(void *dst);         /* U RQ Rt Ry */
IC0_IMPORT(msg_cycles_refunded128) void ic0_msg_cycles_refunded128(void *dst);           /* Rt Ry */
IC0_IMPORT(msg_cycles_accept128) void ic0_msg_cycles_accept128(uint64_t max_high, uint64_t max_low, void *dst); /* U RQ Rt Ry */
IC0_IMPORT(cycles_burn128) void ic0_cycles_burn128(uint64_t high, uint64_t low, void *dst); /* I G U RQ Ry Rt C T */
IC0_IMPORT(msg_cycles_available) uint64_t ic0_msg_cycles_available(void);               /* U RQ Rt Ry (32-bit only) */
IC0_IMPORT(msg_cycles_refunded) uint64_t ic0_msg_cycles_refunded(void);                 /* Rt Ry (32-bit only) */
IC0_IMPORT(msg_cycles_accept) uint64_t ic0_msg_cycles_accept(uint64_t max_amount);      /* U RQ Rt Ry (32-bit only) */

/* The canister itself. */
IC0_IMPORT(canister_self_size) size_t ic0_canister_self_size(void);                      /* * */
IC0_IMPORT(canister_self_copy) void ic0_canister_self_copy(void *dst, size_t offset, size_t size);
IC0_IMPORT(canister_cycle_balance) uint64_t ic0_canister_cycle_balance(void);           /* * (32-bit only) */
IC0_IMPORT(canister_cycle_balance128) void ic0_canister_cycle_balance128(void *dst);     /* * */
IC0_IMPORT(canister_liquid_cycle_balance128) void ic0_canister_liquid_cycle_balance128(void *dst); /* * */
IC0_IMPORT(canister_status) uint32_t ic0_canister_status(void);                          /* * : 1 running, 2 stopping, 3 stopped */
IC0_IMPORT(canister_version) uint64_t ic0_canister_version(void);                        /* * */
IC0_IMPORT(subnet_self_size) size_t ic0_subnet_self_size(void);                          /* * */
IC0_IMPORT(subnet_self_copy) void ic0_subnet_self_copy(void *dst, size_t offset, size_t size);

/* Ingress message inspection. */
IC0_IMPORT(msg_method_name_size) size_t ic0_msg_method_name_size(void);                  /* F */
IC0_IMPORT(msg_method_name_copy) void ic0_msg_method_name_copy(void *dst, size_t offset, size_t size);
IC0_IMPORT(accept_message) void ic0_accept_message(void);                                /* F */

/* Inter-canister calls (not supported by the icchat local replica). */
IC0_IMPORT(call_new) void ic0_call_new(const void *callee_src, size_t callee_size, const void *name_src, size_t name_size,
                                       uint32_t reply_fun, uint32_t reply_env, uint32_t reject_fun, uint32_t reject_env); /* U CQ Ry Rt CRy CRt T */
IC0_IMPORT(call_on_cleanup) void ic0_call_on_cleanup(uint32_t fun, uint32_t env);
IC0_IMPORT(call_data_append) void ic0_call_data_append(const void *src, size_t size);
IC0_IMPORT(call_with_best_effort_response) void ic0_call_with_best_effort_response(uint32_t timeout_seconds);
IC0_IMPORT(call_cycles_add) void ic0_call_cycles_add(uint64_t amount);                  /* U Ry Rt T (32-bit only) */
IC0_IMPORT(call_cycles_add128) void ic0_call_cycles_add128(uint64_t high, uint64_t low); /* U Ry Rt T */
IC0_IMPORT(call_perform) uint32_t ic0_call_perform(void);                                /* U CQ Ry Rt CRy CRt T */

/* Stable memory (64 KiB pages; grow returns the old page count or -1). */
IC0_IMPORT(stable64_size) uint64_t ic0_stable64_size(void);                              /* * s */
IC0_IMPORT(stable64_grow) int64_t ic0_stable64_grow(uint64_t new_pages);
IC0_IMPORT(stable64_write) void ic0_stable64_write(uint64_t offset, uint64_t src, uint64_t size);
IC0_IMPORT(stable64_read) void ic0_stable64_read(uint64_t dst, uint64_t offset, uint64_t size);
IC0_IMPORT(stable_size) uint32_t ic0_stable_size(void);                                  /* * s (32-bit, deprecated) */
IC0_IMPORT(stable_grow) int32_t ic0_stable_grow(uint32_t new_pages);
IC0_IMPORT(stable_write) void ic0_stable_write(uint32_t offset, const void *src, size_t size);
IC0_IMPORT(stable_read) void ic0_stable_read(void *dst, uint32_t offset, size_t size);

/* Certification. */
IC0_IMPORT(root_key_size) size_t ic0_root_key_size(void);                                /* I G U RQ Ry Rt C T */
IC0_IMPORT(root_key_copy) void ic0_root_key_copy(void *dst, size_t offset, size_t size);
IC0_IMPORT(certified_data_set) void ic0_certified_data_set(const void *src, size_t size); /* I G U Ry Rt T ; at most 32 bytes */
IC0_IMPORT(data_certificate_present) uint32_t ic0_data_certificate_present(void);        /* * */
IC0_IMPORT(data_certificate_size) size_t ic0_data_certificate_size(void);                /* NRQ CQ */
IC0_IMPORT(data_certificate_copy) void ic0_data_certificate_copy(void *dst, size_t offset, size_t size);

/* Time, timers, counters, controllers. */
IC0_IMPORT(time) uint64_t ic0_time(void);                                                /* * */
IC0_IMPORT(global_timer_set) uint64_t ic0_global_timer_set(uint64_t timestamp);          /* I G U Ry Rt C T */
IC0_IMPORT(performance_counter) uint64_t ic0_performance_counter(uint32_t counter_type); /* * s : 0 message, 1 call context */
IC0_IMPORT(is_controller) uint32_t ic0_is_controller(const void *src, size_t size);      /* * s */
IC0_IMPORT(in_replicated_execution) uint32_t ic0_in_replicated_execution(void);          /* * s */

/* Cycle costs (not supported by the icchat local replica). */
IC0_IMPORT(cost_call) void ic0_cost_call(uint64_t method_name_size, uint64_t payload_size, void *dst); /* * s */
IC0_IMPORT(cost_create_canister) void ic0_cost_create_canister(void *dst);
IC0_IMPORT(cost_http_request) void ic0_cost_http_request(uint64_t request_size, uint64_t max_res_bytes, void *dst);
IC0_IMPORT(cost_sign_with_ecdsa) uint32_t ic0_cost_sign_with_ecdsa(const void *src, size_t size, uint32_t curve, void *dst);
IC0_IMPORT(cost_sign_with_schnorr) uint32_t ic0_cost_sign_with_schnorr(const void *src, size_t size, uint32_t algorithm, void *dst);
IC0_IMPORT(cost_vetkd_derive_key) uint32_t ic0_cost_vetkd_derive_key(const void *src, size_t size, uint32_t curve, void *dst);

/* Environment variables (not supported by the icchat local replica). */
IC0_IMPORT(env_var_count) size_t ic0_env_var_count(void);                                /* * */
IC0_IMPORT(env_var_name_size) size_t ic0_env_var_name_size(size_t index);
IC0_IMPORT(env_var_name_copy) void ic0_env_var_name_copy(size_t index, void *dst, size_t offset, size_t size);
IC0_IMPORT(env_var_name_exists) uint32_t ic0_env_var_name_exists(const void *name_src, size_t name_size);
IC0_IMPORT(env_var_value_size) size_t ic0_env_var_value_size(const void *name_src, size_t name_size);
IC0_IMPORT(env_var_value_copy) void ic0_env_var_value_copy(const void *name_src, size_t name_size, void *dst, size_t offset, size_t size);

/* Debugging. */
IC0_IMPORT(debug_print) void ic0_debug_print(const void *src, size_t size);             /* * s */
IC0_IMPORT(trap) _Noreturn void ic0_trap(const void *src, size_t size);                 /* * s */

#undef IC0_IMPORT
#endif /* IC0_H */
