"""Executing messages over canisters' state (the IC's ExecutionEnvironment).

Every execution either commits all of its effects (heap, globals, stable memory, certified
data, global timer, cycles) or none: updates, heartbeats and timers commit on success; queries,
inspect_message and every failed execution roll back. The System API sees the canister only
through the execution's `SandboxSafeSystemState` and records its writes in its
`SystemStateModifications`, applied to the `SystemState` on commit. Code installation is atomic
across its steps: install/reinstall build a fresh instance and swap it in only if `(start)` and
`canister_init` succeed; upgrade runs `canister_pre_upgrade` on the old instance, `(start)` and
`canister_post_upgrade` on the new one, keeping stable memory, and undoes all of it on failure.

Messages that belong to a call context (updates, callbacks, cleanups, system tasks) see it
through their `Execution`; a committed one hands back the calls it performed and the cycles
it accepted (`Outcome`), which the scheduler sends and books. A trapped execution's calls are
never sent. Callbacks run the table functions the canister named in `ic0.call_new`.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import wasmtime

from icchat.ic.principal import Principal
from icchat.replica import cycles, errors
from icchat.replica.api_table import Mode
from icchat.replica.call_context import Callback, CallContext, Closure
from icchat.replica.errors import ExecutionError
from icchat.replica.execution import Execution, Outcome, SandboxSafeSystemState
from icchat.replica.heap import Shadow
from icchat.replica.instance import Instance
from icchat.replica.limits import (
    INSPECT_MESSAGE_INSTRUCTION_LIMIT,
    INSTALL_INSTRUCTION_LIMIT,
    QUERY_INSTRUCTION_LIMIT,
    STABLE_ACCESS_LIMIT,
    STABLE_DIRTY_LIMIT,
    SYSTEM_TASK_INSTRUCTION_LIMIT,
    UPDATE_INSTRUCTION_LIMIT,
)
from icchat.replica.module import CanisterModule
from icchat.replica.queues import Response
from icchat.replica.stable_memory import StableMemory
from icchat.replica.state import CanisterState, SystemState

# Executions the IC charges (5M + instructions, prepaid for the limit); queries and
# inspect_message are free. install_code is charged in install()/upgrade().
CHARGED_MODES = frozenset({
    Mode.UPDATE, Mode.REPLICATED_QUERY, Mode.HEARTBEAT, Mode.GLOBAL_TIMER, Mode.REPLY_CALLBACK, Mode.REJECT_CALLBACK,
    Mode.CLEANUP,
})
CALLING_MODES = frozenset({Mode.UPDATE, Mode.HEARTBEAT, Mode.GLOBAL_TIMER, Mode.REPLY_CALLBACK, Mode.REJECT_CALLBACK})
Certificate = bytes | Callable[[], bytes] | None


@dataclass(frozen=True)
class Subnet:
    """What executions need of the replica around them."""

    engine: wasmtime.Engine
    subnet_id: Principal
    root_key_der: bytes
    print_debug: bool


class ExecutionEnvironment:
    def __init__(self, subnet: Subnet) -> None:
        self.subnet = subnet

    def log_debug(self, system: SystemState, text: str) -> None:
        now = time.time_ns()
        system.append_log(now, text.encode())
        if self.subnet.print_debug:
            print(f"{now}: [Canister {system.id}] {text}", file=sys.stderr, flush=True)

    # --- messages --------------------------------------------------------------------------------------

    def execute_update(
        self, canister: CanisterState, method: str, arg: bytes, caller: Principal, now: int,
        context: CallContext | None = None,
    ) -> Outcome:
        """An update call (or a query method called by an update: replicated, never persisted),
        from a user or a canister, in its call `context`."""
        module = _require_module(canister)
        if module.has_method("update", method):
            return self._execute(
                canister, Mode.UPDATE, f"canister_update {method}", arg, caller, now, UPDATE_INSTRUCTION_LIMIT, context=context
            )
        if module.has_method("query", method):
            return self._execute(
                canister, Mode.REPLICATED_QUERY, f"canister_query {method}", arg, caller, now, UPDATE_INSTRUCTION_LIMIT,
                context=context,
            )
        if module.has_method("composite_query", method):
            raise ExecutionError(
                errors.ErrorCode.COMPOSITE_QUERY_CALLED_IN_REPLICATED_MODE,
                "Composite query cannot be called in replicated mode",
            )
        raise errors.method_not_found("update", method)

    def execute_query(
        self, canister: CanisterState, method: str, arg: bytes, caller: Principal, now: int, certificate: Certificate
    ) -> Outcome:
        module = _require_module(canister)
        if module.has_method("query", method):
            mode, export = Mode.NON_REPLICATED_QUERY, f"canister_query {method}"
        elif module.has_method("composite_query", method):
            mode, export = Mode.COMPOSITE_QUERY, f"canister_composite_query {method}"
        else:
            raise errors.method_not_found("query", method)
        return self._execute(canister, mode, export, arg, caller, now, QUERY_INSTRUCTION_LIMIT, certificate=certificate)

    def inspect_message(self, canister: CanisterState, method: str, arg: bytes, caller: Principal, now: int) -> None:
        """Run `canister_inspect_message` if exported; raise if the message is not accepted."""
        if not _require_module(canister).has_system("canister_inspect_message"):
            return
        outcome = self._execute(
            canister, Mode.INSPECT_MESSAGE, "canister_inspect_message", arg, caller, now, INSPECT_MESSAGE_INSTRUCTION_LIMIT,
            method_name=method,
        )
        if not outcome.accepted:
            raise errors.message_rejected()

    def run_system_task(self, canister: CanisterState, mode: Mode, now: int, context: CallContext) -> Outcome:
        export = "canister_heartbeat" if mode is Mode.HEARTBEAT else "canister_global_timer"
        return self._execute(
            canister, mode, export, b"", Principal.management(), now, SYSTEM_TASK_INSTRUCTION_LIMIT, context=context
        )

    def execute_callback(
        self, canister: CanisterState, context: CallContext, callback: Callback, response: Response, now: int
    ) -> Outcome:
        """The reply or reject callback of a call this canister made (its refund is already
        on the balance). msg_caller is the caller of the call context, as the spec says. It runs
        on the execution reserved when the call was made (cycles.RESPONSE_EXECUTION_RESERVE)."""
        _require_module(canister)
        reserved = cycles.RESPONSE_EXECUTION_RESERVE
        if response.reply is not None:
            return self._execute(
                canister, Mode.REPLY_CALLBACK, callback.on_reply, response.reply, context.caller, now,
                UPDATE_INSTRUCTION_LIMIT, context=context, refunded=response.refund, prepaid=reserved,
            )
        return self._execute(
            canister, Mode.REJECT_CALLBACK, callback.on_reject, b"", context.caller, now, UPDATE_INSTRUCTION_LIMIT,
            context=context, reject=(response.reject_code, response.reject_message), refunded=response.refund,
            prepaid=reserved,
        )

    def execute_cleanup(
        self, canister: CanisterState, context: CallContext, cleanup: Closure, response: Response, now: int
    ) -> Outcome:
        """The cleanup closure, after the callback trapped: its own changes persist."""
        return self._execute(
            canister, Mode.CLEANUP, cleanup, b"", context.caller, now, UPDATE_INSTRUCTION_LIMIT, context=context,
            reject=(response.reject_code, response.reject_message),
        )

    def execute_transform(self, canister: CanisterState, method: str, arg: bytes, now: int) -> Outcome:
        """An HTTPS outcall's transform: a query method of the calling canister, never persisted."""
        if not _require_module(canister).has_method("query", method):
            raise errors.method_not_found("query", method)
        return self._execute(
            canister, Mode.TRANSFORM, f"canister_query {method}", arg, Principal.management(), now, QUERY_INSTRUCTION_LIMIT
        )

    def _execute(
        self, canister: CanisterState, mode: Mode, export: str | Closure, arg: bytes, caller: Principal, now: int,
        limit: int, *, method_name: str = "", certificate: Certificate = None, context: CallContext | None = None,
        reject: tuple[int, str] = (0, ""), refunded: int = 0, prepaid: int = 0,
    ) -> Outcome:
        """`prepaid`: the execution was paid for already (a callback, by its call's reservation)."""
        instance = _require_instance(canister)
        if not prepaid and mode in CHARGED_MODES:
            prepaid = _prepay(canister, limit, caller)
        stable = canister.execution_state.stable
        kind = mode.stable_limit_kind
        stable.begin(STABLE_ACCESS_LIMIT[kind], STABLE_DIRTY_LIMIT[kind])
        execution = self._execution(canister, mode, caller, now, arg, method_name, certificate)
        execution.context = context
        execution.reject_code, execution.reject_message = reject
        execution.refunded = refunded
        globals_before = instance.snapshot_globals()
        heap_before = instance.heap.live_size
        try:
            used = instance.run(export, execution, limit)
            if mode.persists:
                _check_wasm_memory_limit(canister, instance, heap_before)
        except BaseException:
            spent = instance.meter.used()  # read before a rollback may replace the instance
            self._rollback(canister, instance, globals_before)
            if prepaid:  # a trap pays for the instructions it ran, like a reply
                cycles.settle_execution(canister, prepaid, limit, spent)
            raise
        if prepaid:
            cycles.settle_execution(canister, prepaid, limit, used)
        if mode.persists:
            instance.heap.commit()
            stable.commit()
            execution.changes.apply_to(canister.system)
            canister.system.version += 1
            canister.touch()
            changes = execution.changes
            return Outcome(execution.response, used, execution.accepted, changes.calls, changes.cycles_accepted)
        self._rollback(canister, instance, globals_before)
        return Outcome(execution.response, used, execution.accepted)

    def _execution(
        self, canister: CanisterState, mode: Mode, caller: Principal, now: int, arg: bytes = b"", method_name: str = "",
        certificate: Certificate = None, stable: StableMemory | None = None,
    ) -> Execution:
        """An execution seeing the canister as it is now (and its stable memory, or `stable`)."""
        system = canister.system
        view = SandboxSafeSystemState(
            canister_id=system.id,
            subnet_id=self.subnet.subnet_id,
            root_key_der=self.subnet.root_key_der,
            status_code=system.status.code,
            version=system.version,
            controllers=frozenset(system.controllers),
            cycles_balance=system.cycles,
            freezing_threshold=cycles.freezing_threshold(canister),
            reserved_cycles=system.reserved_cycles,
            global_timer=system.global_timer,
            open_calls_to=system.call_contexts.open_calls_to() if mode in CALLING_MODES else {},
        )
        memory = canister.execution_state.stable if stable is None else stable
        return Execution(mode, caller, now, view, memory, arg, method_name, certificate)

    # --- code installation ------------------------------------------------------------------------------

    def install(
        self, canister: CanisterState, module: CanisterModule, arg: bytes, caller: Principal, now: int, *, reinstall: bool
    ) -> int:
        """install/reinstall: a fresh instance and stable memory, swapped in only on success."""
        code, system = canister.execution_state, canister.system
        if code.module is not None and not reinstall:
            raise errors.Reject.of(
                errors.ErrorCode.CANISTER_NON_EMPTY,
                f"Canister {canister.id} cannot be installed because the canister is not empty. "
                "Try installing with mode='reinstall' instead.",
            )
        prepaid = _prepay(canister, INSTALL_INSTRUCTION_LIMIT, caller, installing=True)
        stable = StableMemory()
        stable.begin(STABLE_ACCESS_LIMIT["upgrade"], STABLE_DIRTY_LIMIT["upgrade"])
        old_version = system.version
        system.version += 1
        meter = _InstallMeter()
        try:
            instance, init = self._new_code(canister, module, "canister_init", arg, caller, now, stable, meter)
        except BaseException:
            system.version = old_version
            cycles.settle_execution(canister, prepaid, INSTALL_INSTRUCTION_LIMIT, meter.spent)
            raise
        cycles.settle_execution(canister, prepaid, INSTALL_INSTRUCTION_LIMIT, meter.used)
        stable.commit()
        stable.mark_all_dirty()
        code.stable = stable
        _replace_instance(canister, module, instance)
        system.certified_data = b""
        system.global_timer = 0
        init.changes.apply_to(system)
        canister.touch()
        return meter.used

    def upgrade(
        self, canister: CanisterState, module: CanisterModule, arg: bytes, caller: Principal, now: int, *, skip_pre_upgrade: bool
    ) -> int:
        """upgrade: pre_upgrade (old code) -> (start) + post_upgrade (new code); stable memory kept."""
        old = _require_instance(canister)
        code, system = canister.execution_state, canister.system
        prepaid = _prepay(canister, INSTALL_INSTRUCTION_LIMIT, caller, installing=True)
        code.stable.begin(STABLE_ACCESS_LIMIT["upgrade"], STABLE_DIRTY_LIMIT["upgrade"])
        globals_before = old.snapshot_globals()
        pre = self._execution(canister, Mode.PRE_UPGRADE, caller, now)
        old_version = system.version
        meter = _InstallMeter()
        try:
            if not skip_pre_upgrade:
                meter.run(old, "canister_pre_upgrade", pre)
            system.version += 1  # canister_post_upgrade sees the new version
            instance, post = self._new_code(canister, module, "canister_post_upgrade", arg, caller, now, code.stable, meter)
        except BaseException:
            system.version = old_version
            code.stable.rollback()
            cycles.settle_execution(canister, prepaid, INSTALL_INSTRUCTION_LIMIT, meter.spent)
            self._rollback_heap(canister, old, globals_before)
            raise
        cycles.settle_execution(canister, prepaid, INSTALL_INSTRUCTION_LIMIT, meter.used)
        code.stable.commit()
        _replace_instance(canister, module, instance)
        pre.changes.apply_to(system)
        system.global_timer = 0  # new code deactivates the timer; post_upgrade may set a new one
        post.changes.apply_to(system)
        canister.touch()
        return meter.used

    def _new_code(
        self, canister: CanisterState, module: CanisterModule, export: str, arg: bytes, caller: Principal, now: int,
        stable: StableMemory, meter: _InstallMeter,
    ) -> tuple[Instance, Execution]:
        """Instantiate `module` on `stable` and run its `export` (canister_init or post_upgrade):
        the new instance, ready to be swapped in, and that execution's changes still to apply.
        On failure nothing of the new instance is left."""
        start = self._execution(canister, Mode.START, caller, now, stable=stable)
        instance = self._new_instance(
            canister, module, start, INSTALL_INSTRUCTION_LIMIT - meter.used, report_limit=INSTALL_INSTRUCTION_LIMIT
        )
        try:
            meter.used += instance.instructions_at_start
            execution = self._execution(canister, Mode.INIT, caller, now, arg, stable=stable)
            meter.run(instance, export, execution)
            _check_wasm_memory_limit(canister, instance, instance.initial_heap_size)
        except BaseException:
            _discard(instance)
            raise
        instance.heap.adopt_live()
        return instance, execution

    def uninstall(self, canister: CanisterState) -> None:
        """uninstall_code: drop code, heap, stable memory, certified data and the timer."""
        code, system = canister.execution_state, canister.system
        code.release()
        code.module = None
        code.stable = StableMemory()
        code.stable.mark_all_dirty()
        code.code_replaced = True
        system.certified_data = b""
        system.global_timer = 0
        system.version += 1
        canister.touch()

    def restore(
        self, canister: CanisterState, module: CanisterModule, heap_size: int, fill_heap: Callable[[Any], None],
        globals_values: list[Any],
    ) -> None:
        """Recreate the instance from persisted state (see persistence.py)."""
        instance = self._reinstantiate(canister, module)
        instance.heap.load_shadow(heap_size)
        fill_heap(instance.heap.shadow)
        instance.heap.restore_live_from_shadow()
        instance.restore_globals(globals_values)
        canister.execution_state.module, canister.execution_state.instance = module, instance

    def _reinstantiate(self, canister: CanisterState, module: CanisterModule, shadow: Shadow | None = None) -> Instance:
        """An instance re-made from committed state: its `(start)` runs again on a scratch stable
        memory that allows no access, so it cannot change the canister's."""
        scratch = StableMemory()
        scratch.begin(0, 0)
        start = self._execution(canister, Mode.START, Principal.management(), 0, stable=scratch)
        return self._new_instance(canister, module, start, INSTALL_INSTRUCTION_LIMIT, shadow=shadow)

    def _new_instance(
        self, canister: CanisterState, module: CanisterModule, start: Execution, limit: int, *, shadow: Shadow | None = None,
        report_limit: int | None = None,
    ) -> Instance:
        system = canister.system
        return Instance(
            self.subnet.engine, module, start, limit, log=lambda text: self.log_debug(system, text), shadow=shadow,
            report_limit=report_limit,
        )

    # --- rolling back ------------------------------------------------------------------------------------

    def _rollback(self, canister: CanisterState, instance: Instance, globals_before: list[Any]) -> None:
        canister.execution_state.stable.rollback()
        self._rollback_heap(canister, instance, globals_before)

    def _rollback_heap(self, canister: CanisterState, instance: Instance, globals_before: list[Any]) -> None:
        if instance.heap.rollback():
            instance.restore_globals(globals_before)
            return
        # The heap grew: WASM memory cannot shrink, so rebuild the instance from the committed state.
        self._rebuild(canister, instance, globals_before)

    def _rebuild(self, canister: CanisterState, instance: Instance, globals_values: list[Any]) -> None:
        """A fresh instance of the same module carrying the committed heap and globals."""
        code = canister.execution_state
        assert code.module is not None
        fresh = self._reinstantiate(canister, code.module, shadow=instance.heap.shadow)
        fresh.heap.dirty = instance.heap.dirty
        fresh.heap.dirty_size_changed = instance.heap.dirty_size_changed
        fresh.heap.restore_live_from_shadow()
        fresh.restore_globals(globals_values)
        instance.close()
        if code.instance is instance:
            code.instance = fresh


class _InstallMeter:
    """The instructions of code installation's steps, which share one install limit: those of
    the finished steps, and the step under way (its instance's meter), which a failure pays too."""

    def __init__(self) -> None:
        self.used = 0
        self._running: Instance | None = None

    def run(self, instance: Instance, export: str, execution: Execution) -> None:
        """Run the step, if the module has it, within what is left of the limit (exceeding it
        reports the whole limit, as the IC does)."""
        if not instance.module.has_system(export):
            return
        self._running = instance
        self.used += instance.run(export, execution, INSTALL_INSTRUCTION_LIMIT - self.used, INSTALL_INSTRUCTION_LIMIT)
        self._running = None

    @property
    def spent(self) -> int:
        return self.used + (self._running.meter.used() if self._running is not None else 0)


def _prepay(canister: CanisterState, limit: int, caller: Principal, *, installing: bool = False) -> int:
    """Withdraw an execution's prepayment, or refuse it with the IC's IC0207."""
    try:
        return cycles.prepay_execution(canister, limit, caller)
    except cycles.OutOfCycles as exc:
        raise (errors.install_out_of_cycles(str(exc)) if installing else exc.reject()) from None


def _require_module(canister: CanisterState) -> CanisterModule:
    if canister.module is None:
        raise errors.wasm_module_not_found()
    return canister.module


def _require_instance(canister: CanisterState) -> Instance:
    instance = canister.execution_state.instance
    if not isinstance(instance, Instance):
        raise errors.wasm_module_not_found()
    return instance


def _replace_instance(canister: CanisterState, module: CanisterModule, instance: Instance) -> None:
    code = canister.execution_state
    code.release()
    code.module, code.instance = module, instance
    code.code_replaced = True


def _check_wasm_memory_limit(canister: CanisterState, instance: Instance, size_before: int) -> None:
    """The IC checks `wasm_memory_limit` when the heap grows (0 means no limit)."""
    limit = canister.system.settings.wasm_memory_limit
    size = instance.heap.live_size
    if limit and size > size_before and size > limit:
        raise errors.wasm_memory_limit_exceeded(size, limit)


def _discard(instance: Instance) -> None:
    """Close an instance that was never swapped in, with its committed heap."""
    instance.close()
    instance.heap.shadow.close()
