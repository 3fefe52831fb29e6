"""The `ic0` System API: host functions a canister instance imports, with the IC's semantics.

Each function charges the meter first (per-call and per-byte costs, as the IC does), then checks
that the current execution mode allows it (the spec's availability table in `api_table`), then
acts on the current `Execution`. Violations raise `ExecutionError`s worded as the IC words them;
raising inside a host function unwinds the WASM call, and the caller rolls the execution back.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import wasmtime

from icchat.ic.principal import MAX_LENGTH, Principal
from icchat.replica import errors
from icchat.replica.api_table import SYSTEM_API, Mode
from icchat.replica.call_context import Closure
from icchat.replica.cycles import OutOfCycles, call_charges
from icchat.replica.errors import RejectCode, TrapCode
from icchat.replica.execution import CallUnderConstruction, Execution, OutgoingCall
from icchat.replica.limits import (
    CERTIFIED_DATA_MAX_LENGTH,
    MAX_32_BIT_STABLE_PAGES,
    MAX_DEBUG_MESSAGE,
    MAX_INTER_CANISTER_PAYLOAD,
    MAX_TRAP_MESSAGE,
    WASM_PAGE,
)
from icchat.replica.queues import QUEUE_CAPACITY

if TYPE_CHECKING:
    from icchat.replica.heap import Heap

U32 = 0xFFFFFFFF
U64 = 0xFFFFFFFFFFFFFFFF
_VALTYPES = {"i32": wasmtime.ValType.i32, "i64": wasmtime.ValType.i64}


def _signed32(value: int) -> int:
    value &= U32
    return value - (1 << 32) if value >= 1 << 31 else value


def _signed64(value: int) -> int:
    value &= U64
    return value - (1 << 64) if value >= 1 << 63 else value


class SystemApi:
    """The `ic0` functions of one canister instance (one wasmtime store). They act on the
    current `Execution` only (its view of the canister, its stable memory, its recorded
    changes), and write debug messages to `log`, the canister's log."""

    def __init__(self, meter: Any, log: Callable[[str], None]) -> None:
        self.meter = meter
        self.execution: Execution | None = None
        self._memory: wasmtime.Memory | None = None
        self._caller: Any = None
        self.heap: Heap | None = None  # set by the instance once its heap exists
        self.log = log

    # --- linking ----------------------------------------------------------------------------------

    def define(self, linker: wasmtime.Linker, names: set[str]) -> None:
        """Define the supported functions among `names` (the module's ic0 imports)."""
        for name in sorted(names):
            api = SYSTEM_API[name]
            impl = getattr(self, f"_ic0_{name}")
            functype = wasmtime.FuncType([_VALTYPES[t]() for t in api.params], [_VALTYPES[t]() for t in api.results])
            linker.define_func("ic0", name, functype, self._wrap(name, impl, api.results), access_caller=True)

    def _wrap(self, name: str, impl: Callable[..., Any], results: tuple[str, ...]) -> Callable[..., Any]:
        allowed = SYSTEM_API[name].allowed
        convert = _signed64 if results == ("i64",) else _signed32

        def host(caller: Any, *args: int) -> Any:
            execution = self.execution
            if execution is None:  # only during a restore; nothing may run then
                raise errors.engine_error(f"ic0.{name} called outside of an execution")
            self._caller = caller
            mode = execution.mode
            if mode.letter not in allowed:
                self._charge(name, 0)
                raise errors.wrong_mode(name, mode.label)
            result = impl(execution, *args)
            return None if not results else convert(result)

        return host

    # --- memory helpers ---------------------------------------------------------------------------

    def _heap(self) -> tuple[int, int]:
        """(address, length) of the canister's WASM memory right now."""
        if self._memory is None:
            memory = self._caller.get("memory") if self._caller is not None else None
            if not isinstance(memory, wasmtime.Memory):
                raise errors.contract_violation("WebAssembly module must define memory")
            self._memory = memory
        pointer = self._memory.data_ptr(self._caller)
        return ctypes.cast(pointer, ctypes.c_void_p).value or 0, self._memory.data_len(self._caller)

    def attach_memory(self, memory: wasmtime.Memory | None) -> None:
        self._memory = memory

    def _read(self, what: str, src: int, size: int) -> bytes:
        address, length = self._heap()
        _check_slice(what, src, size, length)
        return ctypes.string_at(address + src, size) if size else b""

    def _write(self, dst: int, data: bytes) -> None:
        address, _ = self._heap()
        ctypes.memmove(address + dst, data, len(data))

    def _copy_out(self, name: str, what: str, blob: bytes, dst: int, offset: int, size: int) -> None:
        """The `_copy` half of a blob accessor: blob[offset:offset+size] to memory[dst:]."""
        dst, offset, size = dst & U32, offset & U32, size & U32
        self._charge(name, size)
        _, length = self._heap()
        _check_slice(f"ic0.{name} heap", dst, size, length)
        _check_slice(f"ic0.{name} {what}", offset, size, len(blob))
        self._write(dst, blob[offset : offset + size])

    def _charge(self, name: str, size: int) -> None:
        self.meter.charge_system_api(name, size)

    def _write_u128(self, name: str, dst: int, amount: int) -> None:
        dst &= U32
        _, length = self._heap()
        _check_slice(f"ic0.{name}", dst, 16, length)
        self._write(dst, amount.to_bytes(16, "little"))

    # --- message arguments, caller, method name -----------------------------------------------------

    def _ic0_msg_arg_data_size(self, e: Execution) -> int:
        self._charge("msg_arg_data_size", 0)
        return len(e.arg)

    def _ic0_msg_arg_data_copy(self, e: Execution, dst: int, offset: int, size: int) -> None:
        self._copy_out("msg_arg_data_copy", "payload", e.arg, dst, offset, size)

    def _ic0_msg_caller_size(self, e: Execution) -> int:
        self._charge("msg_caller_size", 0)
        return len(e.caller.raw)

    def _ic0_msg_caller_copy(self, e: Execution, dst: int, offset: int, size: int) -> None:
        self._copy_out("msg_caller_copy", "id", e.caller.raw, dst, offset, size)

    # Callers are never authenticated by canister signatures here: caller info is always empty.
    def _ic0_msg_caller_info_data_size(self, e: Execution) -> int:
        self._charge("msg_caller_info_data_size", 0)
        return 0

    def _ic0_msg_caller_info_data_copy(self, e: Execution, dst: int, offset: int, size: int) -> None:
        self._copy_out("msg_caller_info_data_copy", "data", b"", dst, offset, size)

    def _ic0_msg_caller_info_signer_size(self, e: Execution) -> int:
        self._charge("msg_caller_info_signer_size", 0)
        return 0

    def _ic0_msg_caller_info_signer_copy(self, e: Execution, dst: int, offset: int, size: int) -> None:
        self._copy_out("msg_caller_info_signer_copy", "signer", b"", dst, offset, size)

    # Reject code and message: only in callbacks (the availability table above); 0 after a reply.
    def _ic0_msg_reject_code(self, e: Execution) -> int:
        self._charge("msg_reject_code", 0)
        return e.reject_code

    def _ic0_msg_reject_msg_size(self, e: Execution) -> int:
        self._charge("msg_reject_msg_size", 0)
        return len(e.reject_message.encode())

    def _ic0_msg_reject_msg_copy(self, e: Execution, dst: int, offset: int, size: int) -> None:
        self._copy_out("msg_reject_msg_copy", "message", e.reject_message.encode(), dst, offset, size)

    def _ic0_msg_deadline(self, e: Execution) -> int:
        self._charge("msg_deadline", 0)
        return 0  # ingress messages and queries have no deadline

    def _ic0_msg_method_name_size(self, e: Execution) -> int:
        self._charge("msg_method_name_size", 0)
        return len(e.method_name.encode())

    def _ic0_msg_method_name_copy(self, e: Execution, dst: int, offset: int, size: int) -> None:
        self._copy_out("msg_method_name_copy", "payload", e.method_name.encode(), dst, offset, size)

    def _ic0_accept_message(self, e: Execution) -> None:
        self._charge("accept_message", 0)
        if e.accepted:
            raise errors.contract_violation("ic0.accept_message: the function was already called.")
        e.accepted = True

    # --- responding -------------------------------------------------------------------------------

    def _ic0_msg_reply_data_append(self, e: Execution, src: int, size: int) -> None:
        src, size = src & U32, size & U32
        self._charge("msg_reply_data_append", size)
        if e.responded:
            raise errors.contract_violation("ic0.msg_reply_data_append: the call is already replied.")
        total = e.reply_size + size
        if total > e.reply_limit:
            raise errors.user_contract_violation(
                f"ic0.msg_reply_data_append: application payload size ({total}) cannot be larger than {e.reply_limit}."
            )
        piece = self._read("msg.reply", src, size)
        if piece:
            e.reply_pieces.append(piece)
            e.reply_size = total

    def _ic0_msg_reply(self, e: Execution) -> None:
        self._charge("msg_reply", 0)
        if e.responded:
            raise errors.contract_violation("ic0.msg_reply: the call is already replied")
        pieces = e.reply_pieces
        e.response = ("reply", pieces[0] if len(pieces) == 1 else b"".join(pieces))
        e.clear_reply()

    def _ic0_msg_reject(self, e: Execution, src: int, size: int) -> None:
        src, size = src & U32, size & U32
        self._charge("msg_reject", size)
        if e.responded:
            raise errors.contract_violation("ic0.msg_reject: the call is already replied")
        if size > e.reply_limit:
            raise errors.user_contract_violation(
                f"ic0.msg_reject: application payload size ({size}) cannot be larger than {e.reply_limit}."
            )
        data = self._read("ic0.msg_reject", src, size)
        try:
            message = data.decode("utf-8")
        except UnicodeDecodeError:
            raise errors.contract_violation("ic0.msg_reject: invalid UTF-8 string provided") from None
        e.response = ("reject", message)
        e.clear_reply()

    # --- cycles: those the caller attached (ingress carries none), refunds, the balance ---------------

    def _ic0_msg_cycles_available128(self, e: Execution, dst: int) -> None:
        self._charge("msg_cycles_available128", 0)
        self._write_u128("msg_cycles_available128", dst, e.cycles_available)

    def _ic0_msg_cycles_available(self, e: Execution) -> int:
        self._charge("msg_cycles_available", 0)
        return _fits_64_bit(e.cycles_available)

    def _ic0_msg_cycles_refunded128(self, e: Execution, dst: int) -> None:
        self._charge("msg_cycles_refunded128", 0)
        self._write_u128("msg_cycles_refunded128", dst, e.refunded)

    def _ic0_msg_cycles_refunded(self, e: Execution) -> int:
        self._charge("msg_cycles_refunded", 0)
        return _fits_64_bit(e.refunded)

    def _accept(self, e: Execution, max_amount: int) -> int:
        """Move up to `max_amount` of the available cycles to the balance (spec: msg_cycles_accept)."""
        amount = min(max_amount, e.cycles_available)
        e.changes.cycles_accepted += amount
        return amount

    def _ic0_msg_cycles_accept128(self, e: Execution, high: int, low: int, dst: int) -> None:
        self._charge("msg_cycles_accept128", 0)
        accepted = self._accept(e, ((high & U64) << 64) | (low & U64))
        self._write_u128("msg_cycles_accept128", dst, accepted)

    def _ic0_msg_cycles_accept(self, e: Execution, max_amount: int) -> int:
        self._charge("msg_cycles_accept", 0)
        return self._accept(e, max_amount & U64)

    def _ic0_cycles_burn128(self, e: Execution, high: int, low: int, dst: int) -> None:
        self._charge("cycles_burn128", 0)
        amount = ((high & U64) << 64) | (low & U64)
        # Spec: "It burns no more cycles than the amount of cycles available for spending".
        burned = min(amount, e.liquid_balance)
        self._write_u128("cycles_burn128", dst, burned)
        e.changes.cycles_burned += burned

    def _ic0_canister_cycle_balance128(self, e: Execution, dst: int) -> None:
        self._charge("canister_cycle_balance128", 0)
        self._write_u128("canister_cycle_balance128", dst, e.balance)

    def _ic0_canister_liquid_cycle_balance128(self, e: Execution, dst: int) -> None:
        self._charge("canister_liquid_cycle_balance128", 0)
        self._write_u128("canister_liquid_cycle_balance128", dst, e.liquid_balance)

    def _ic0_canister_cycle_balance(self, e: Execution) -> int:
        self._charge("canister_cycle_balance", 0)
        return _fits_64_bit(e.balance)

    # --- the canister and its subnet ----------------------------------------------------------------

    def _ic0_canister_self_size(self, e: Execution) -> int:
        self._charge("canister_self_size", 0)
        return len(e.system.canister_id.raw)

    def _ic0_canister_self_copy(self, e: Execution, dst: int, offset: int, size: int) -> None:
        self._copy_out("canister_self_copy", "id", e.system.canister_id.raw, dst, offset, size)

    def _ic0_canister_status(self, e: Execution) -> int:
        self._charge("canister_status", 0)
        return e.system.status_code

    def _ic0_canister_version(self, e: Execution) -> int:
        self._charge("canister_version", 0)
        return e.system.version

    def _ic0_subnet_self_size(self, e: Execution) -> int:
        self._charge("subnet_self_size", 0)
        return len(e.system.subnet_id.raw)

    def _ic0_subnet_self_copy(self, e: Execution, dst: int, offset: int, size: int) -> None:
        self._copy_out("subnet_self_copy", "id", e.system.subnet_id.raw, dst, offset, size)

    # --- stable memory --------------------------------------------------------------------------------

    def _stable_read(self, e: Execution, name: str, dst: int, offset: int, size: int) -> None:
        self._charge(name, size)
        stable = e.stable
        if offset + size > stable.size_bytes:
            raise errors.trapped(TrapCode.STABLE_MEMORY_OUT_OF_BOUNDS)
        address, length = self._heap()
        if dst + size > length:
            raise errors.trapped(TrapCode.HEAP_OUT_OF_BOUNDS)
        if self.heap is not None:
            self.heap.host_will_write(dst, size)
        stable.read_to(address + dst, offset, size)

    def _stable_write(self, e: Execution, name: str, offset: int, src: int, size: int) -> None:
        self._charge(name, size)
        stable = e.stable
        address, length = self._heap()
        if src + size > length:
            raise errors.trapped(TrapCode.HEAP_OUT_OF_BOUNDS)
        if offset + size > stable.size_bytes:
            raise errors.trapped(TrapCode.STABLE_MEMORY_OUT_OF_BOUNDS)
        stable.write_from(address + src, offset, size)

    def _ic0_stable64_size(self, e: Execution) -> int:
        self._charge("stable64_size", 0)
        return e.stable.size_pages

    def _ic0_stable64_grow(self, e: Execution, new_pages: int) -> int:
        self._charge("stable64_grow", 0)
        return e.stable.grow(new_pages & U64)

    def _ic0_stable64_read(self, e: Execution, dst: int, offset: int, size: int) -> None:
        self._stable_read(e, "stable64_read", dst & U64, offset & U64, size & U64)

    def _ic0_stable64_write(self, e: Execution, offset: int, src: int, size: int) -> None:
        self._stable_write(e, "stable64_write", offset & U64, src & U64, size & U64)

    def _check_32_bit(self, e: Execution) -> None:
        if e.stable.size_pages > MAX_32_BIT_STABLE_PAGES:
            raise errors.trapped(TrapCode.STABLE_MEMORY_TOO_BIG_FOR_32_BIT)

    def _ic0_stable_size(self, e: Execution) -> int:
        self._charge("stable_size", 0)
        self._check_32_bit(e)
        return e.stable.size_pages

    def _ic0_stable_grow(self, e: Execution, new_pages: int) -> int:
        self._charge("stable_grow", 0)
        self._check_32_bit(e)
        return e.stable.grow(new_pages & U32, MAX_32_BIT_STABLE_PAGES * WASM_PAGE)

    def _ic0_stable_read(self, e: Execution, dst: int, offset: int, size: int) -> None:
        self._check_32_bit(e)
        self._stable_read(e, "stable_read", dst & U32, offset & U32, size & U32)

    def _ic0_stable_write(self, e: Execution, offset: int, src: int, size: int) -> None:
        self._check_32_bit(e)
        self._stable_write(e, "stable_write", offset & U32, src & U32, size & U32)

    # --- certification ----------------------------------------------------------------------------------

    def _ic0_root_key_size(self, e: Execution) -> int:
        self._charge("root_key_size", 0)
        return len(e.system.root_key_der)

    def _ic0_root_key_copy(self, e: Execution, dst: int, offset: int, size: int) -> None:
        self._copy_out("root_key_copy", "key", e.system.root_key_der, dst, offset, size)

    def _ic0_certified_data_set(self, e: Execution, src: int, size: int) -> None:
        src, size = src & U32, size & U32
        self._charge("certified_data_set", size)
        if size > CERTIFIED_DATA_MAX_LENGTH:
            raise errors.user_contract_violation(
                "ic0_certified_data_set failed because the passed data must be no larger than "
                f"{CERTIFIED_DATA_MAX_LENGTH} bytes. Found {size} bytes."
            )
        _check_bounds("certified_data_set", "src", src, size, self._heap()[1])
        e.changes.certified_data = self._read("certified_data_set", src, size)

    def _ic0_data_certificate_present(self, e: Execution) -> int:
        self._charge("data_certificate_present", 0)
        return int(e.data_certificate is not None)

    def _ic0_data_certificate_size(self, e: Execution) -> int:
        self._charge("data_certificate_size", 0)
        certificate = e.certificate()
        if certificate is None:
            raise errors.wrong_mode("data_certificate_size", e.mode.label)
        return len(certificate)

    def _ic0_data_certificate_copy(self, e: Execution, dst: int, offset: int, size: int) -> None:
        dst, offset, size = dst & U32, offset & U32, size & U32
        self._charge("data_certificate_copy", size)
        certificate = e.certificate()
        if certificate is None:
            raise errors.wrong_mode("data_certificate_copy", e.mode.label)
        _check_bounds("data_certificate_copy", "offset", offset, size, len(certificate))
        _check_bounds("data_certificate_copy", "dst", dst, size, self._heap()[1])
        self._write(dst, certificate[offset : offset + size])

    # --- inter-canister calls -----------------------------------------------------------------------

    def _ic0_call_new(
        self, e: Execution, callee_src: int, callee_size: int, name_src: int, name_size: int,
        reply_fun: int, reply_env: int, reject_fun: int, reject_env: int,
    ) -> None:
        callee_src, callee_size, name_src, name_size = callee_src & U32, callee_size & U32, name_src & U32, name_size & U32
        self._charge("call_new", callee_size + name_size)
        if e.mode is Mode.COMPOSITE_QUERY:
            raise errors.contract_violation("ic0.call_new: calls from composite queries are not supported by the icchat local replica")
        callee = self._read("ic0.call_new callee", callee_src, callee_size)
        name = self._read("ic0.call_new method_name", name_src, name_size)
        if callee_size > MAX_LENGTH:
            raise errors.contract_violation("Canister provided invalid principal id")
        try:
            method = name.decode("utf-8")
        except UnicodeDecodeError:
            raise errors.contract_violation("ic0.call_new: invalid UTF-8 string provided") from None
        # A call still under construction is discarded, and its cycles go back to the balance.
        e.call = CallUnderConstruction(
            Principal(callee), method, Closure(reply_fun & U32, reply_env & U32), Closure(reject_fun & U32, reject_env & U32)
        )

    def _under_construction(self, e: Execution, name: str) -> CallUnderConstruction:
        if e.call is None:
            raise errors.contract_violation(f"{name} called when no call is under construction.")
        return e.call

    def _ic0_call_on_cleanup(self, e: Execution, fun: int, env: int) -> None:
        self._charge("call_on_cleanup", 0)
        call = self._under_construction(e, "ic0.call_on_cleanup")
        if call.on_cleanup is not None:
            raise errors.contract_violation("ic0.call_on_cleanup: the cleanup closure is already set.")
        call.on_cleanup = Closure(fun & U32, env & U32)

    def _ic0_call_data_append(self, e: Execution, src: int, size: int) -> None:
        src, size = src & U32, size & U32
        self._charge("call_data_append", size)
        call = self._under_construction(e, "ic0.call_data_append")
        if call.arg_size + size > MAX_INTER_CANISTER_PAYLOAD:
            raise errors.user_contract_violation(
                f"ic0.call_data_append: the payload size ({call.arg_size + size}) of a call cannot be larger than "
                f"{MAX_INTER_CANISTER_PAYLOAD}."
            )
        piece = self._read("ic0.call_data_append", src, size)
        if piece:
            call.arg_pieces.append(piece)
            call.arg_size += size

    def _add_cycles(self, e: Execution, amount: int) -> None:
        """Move cycles from the balance onto the call (spec: "traps if trying to transfer more
        cycles than are in the current balance"; only the liquid balance can go, as on the IC)."""
        call = self._under_construction(e, "ic0.call_cycles_add")
        if amount > e.liquid_balance:
            kept = max(0, e.system.freezing_threshold - e.system.reserved_cycles)
            short = OutOfCycles(e.system.canister_id, e.balance, amount, kept, reveal_top_up=True)
            raise errors.ExecutionError(errors.ErrorCode.CANISTER_OUT_OF_CYCLES, str(short))
        call.cycles += amount

    def _ic0_call_cycles_add128(self, e: Execution, high: int, low: int) -> None:
        self._charge("call_cycles_add128", 0)
        self._add_cycles(e, ((high & U64) << 64) | (low & U64))

    def _ic0_call_cycles_add(self, e: Execution, amount: int) -> None:
        self._charge("call_cycles_add", 0)
        self._add_cycles(e, amount & U64)

    def _ic0_call_perform(self, e: Execution) -> int:
        self._charge("call_perform", 0)
        call = self._under_construction(e, "ic0.call_perform")
        e.call = None
        performed = sum(1 for c in e.changes.calls if c.callee == call.callee)
        if e.system.open_calls_to.get(call.callee, 0) + performed >= QUEUE_CAPACITY:
            # No slot for the request and its response: not sent, its cycles back on the balance.
            return int(RejectCode.SYS_TRANSIENT)
        charges = call_charges(len(call.method.encode()) + call.arg_size)
        if charges > e.liquid_balance - call.cycles:
            # The fee and the response's reservations do not fit (the IC's withdraw_request_cycles
            # fails): not sent either.
            return int(RejectCode.SYS_TRANSIENT)
        arg = call.arg_pieces[0] if len(call.arg_pieces) == 1 else b"".join(call.arg_pieces)
        e.changes.calls.append(
            OutgoingCall(call.callee, call.method, arg, call.cycles, call.on_reply, call.on_reject, call.on_cleanup)
        )
        e.changes.cycles_sent += call.cycles
        e.changes.call_charges += charges
        return 0

    # --- time, timers, counters, controllers ----------------------------------------------------------

    def _ic0_time(self, e: Execution) -> int:
        self._charge("time", 0)
        return e.time_ns

    def _ic0_global_timer_set(self, e: Execution, timestamp: int) -> int:
        self._charge("global_timer_set", 0)
        previous = e.changes.global_timer if e.changes.global_timer is not None else e.system.global_timer
        e.changes.global_timer = timestamp & U64
        return previous

    def _ic0_performance_counter(self, e: Execution, counter_type: int) -> int:
        self._charge("performance_counter", 0)
        # Type 0: this message's instructions; type 1: its call context's, over all its messages.
        if counter_type & U32 not in (0, 1):
            raise errors.contract_violation(f"Error getting performance counter type {counter_type & U32}")
        before = e.context.instructions if counter_type & U32 == 1 and e.context is not None else 0
        return before + self.meter.used()

    def _ic0_is_controller(self, e: Execution, src: int, size: int) -> int:
        src, size = src & U32, size & U32
        self._charge("is_controller", size)
        data = self._read("ic0.is_controller", src, size)
        if size > MAX_LENGTH:
            raise errors.ExecutionError(
                errors.ErrorCode.CANISTER_CONTRACT_VIOLATION, "Canister provided invalid principal id", errors.TOOLCHAIN_HELP
            )
        return int(Principal(data) in e.system.controllers)

    def _ic0_in_replicated_execution(self, e: Execution) -> int:
        self._charge("in_replicated_execution", 0)
        return int(e.mode.replicated)

    # --- debugging -----------------------------------------------------------------------------------

    def _ic0_debug_print(self, e: Execution, src: int, size: int) -> None:
        src, size = src & U32, min(size & U32, MAX_DEBUG_MESSAGE)
        self._charge("debug_print", size)
        try:
            text = self._read("ic0.debug_print", src, size).decode("utf-8", "replace")
        except errors.ExecutionError:
            text = "(debug message out of memory bounds)"  # never traps, as on the IC
        self.log(text)

    def _ic0_trap(self, e: Execution, src: int, size: int) -> None:
        src, size = src & U32, min(size & U32, MAX_TRAP_MESSAGE)
        self._charge("trap", size)
        try:
            message = self._read("trap", src, size).decode("utf-8", "replace")
        except errors.ExecutionError:
            message = "(trap message out of memory bounds)"
        raise errors.called_trap(message)


def _fits_64_bit(cycles: int) -> int:
    """The 64-bit cycles functions trap on amounts they cannot represent (spec: "This call traps
    if the amount ... does not fit into a 64-bit value")."""
    if cycles > U64:
        raise errors.trapped(TrapCode.CYCLES_AMOUNT_TOO_BIG_FOR_64_BIT)
    return cycles


def _check_bounds(api: str, name: str, start: int, size: int, limit: int) -> None:
    """The IC's wording for the certification calls' bounds checks."""
    if start + size > limit:
        raise errors.contract_violation(
            f"ic0_{api} failed because {name} + size is out of bounds. "
            f"Found {name} = {start} and size = {size} while {name} + size must be <= {limit}"
        )


def _check_slice(what: str, start: int, size: int, length: int) -> None:
    """The IC's `valid_subslice`: a bounds violation is a contract violation, not a trap code."""
    if start + size > length:
        raise errors.contract_violation(f"{what}: src={start} + length={size} exceeds the slice size={length}")

