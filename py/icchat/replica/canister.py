"""A canister: settings, status, cycles, code, memories, and atomic execution of its entry points.

Every execution either commits all of its effects (heap, globals, stable memory, certified
data, global timer, cycles) or none: updates, heartbeats and timers commit on success; queries,
inspect_message and every failed execution roll back. Code installation is atomic across its
steps: install/reinstall build a fresh instance and swap it in only if `(start)` and
`canister_init` succeed; upgrade runs `canister_pre_upgrade` on the old instance, `(start)` and
`canister_post_upgrade` on the new one, keeping stable memory, and undoes all of it on failure.
"""

from __future__ import annotations

import collections
import enum
import hashlib
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import wasmtime

from icchat.ic.principal import Principal
from icchat.replica import cycles, errors
from icchat.replica.api_table import Mode
from icchat.replica.errors import ExecutionError
from icchat.replica.execution import Execution, Outcome
from icchat.replica.instance import Instance
from icchat.replica.limits import (
    DEFAULT_FREEZING_THRESHOLD,
    DEFAULT_RESERVED_CYCLES_LIMIT,
    DEFAULT_WASM_MEMORY_LIMIT,
    INSPECT_MESSAGE_INSTRUCTION_LIMIT,
    INSTALL_INSTRUCTION_LIMIT,
    QUERY_INSTRUCTION_LIMIT,
    STABLE_ACCESS_LIMIT,
    STABLE_DIRTY_LIMIT,
    SYSTEM_TASK_INSTRUCTION_LIMIT,
    UPDATE_INSTRUCTION_LIMIT,
)
from icchat.replica.module import CanisterModule
from icchat.replica.stable_memory import StableMemory

log = logging.getLogger("icchat.replica")
MAX_LOG_RECORDS = 1000
# Executions the IC charges (5M + instructions, prepaid for the limit); queries and
# inspect_message are free. install_code is charged in install()/upgrade().
CHARGED_MODES = frozenset({Mode.UPDATE, Mode.REPLICATED_QUERY, Mode.HEARTBEAT, Mode.GLOBAL_TIMER})


class Status(enum.Enum):
    RUNNING = (1, "running")
    STOPPING = (2, "stopping")
    STOPPED = (3, "stopped")

    @property
    def code(self) -> int:
        return self.value[0]

    @property
    def label(self) -> str:
        return self.value[1]


@dataclass
class Settings:
    """The canister settings of the management canister's `definite_canister_settings`."""

    controllers: list[Principal]
    compute_allocation: int = 0
    memory_allocation: int = 0
    freezing_threshold: int = DEFAULT_FREEZING_THRESHOLD
    reserved_cycles_limit: int = DEFAULT_RESERVED_CYCLES_LIMIT
    log_visibility: Any = "controllers"  # "controllers" | "public" | {"allowed_viewers": [...]}
    wasm_memory_limit: int = DEFAULT_WASM_MEMORY_LIMIT
    wasm_memory_threshold: int = 0


class Environment(Protocol):
    """What a canister needs from the replica around it."""

    engine: wasmtime.Engine
    subnet_id: Principal
    print_debug: bool

    def root_key_der(self) -> bytes: ...


@dataclass
class LogRecord:
    index: int
    time_ns: int
    content: bytes


@dataclass
class Canister:
    id: Principal
    environment: Environment
    settings: Settings
    cycles: int = 0
    status: Status = Status.RUNNING
    version: int = 0
    certified_data: bytes = b""
    global_timer: int = 0  # 0: inactive
    module: CanisterModule | None = None
    instance: Instance | None = None
    stable: StableMemory = field(default_factory=StableMemory)
    chunks: dict[bytes, bytes] = field(default_factory=dict)  # wasm chunk store: sha256 -> chunk
    logs: collections.deque = field(default_factory=lambda: collections.deque(maxlen=MAX_LOG_RECORDS))
    log_index: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)  # canister_info changes (newest last)
    history_total: int = 0
    meta_dirty: bool = True  # settings/status/... changed since the last checkpoint
    code_replaced: bool = False  # a new module/heap since the last checkpoint
    # Replica time storage was last charged up to; 0: not yet since this replica started (not
    # persisted: a stopped local replica charges nothing for the time it was down).
    idle_charged_ns: int = 0

    @property
    def controllers(self) -> list[Principal]:
        return self.settings.controllers

    @property
    def module_hash(self) -> bytes | None:
        return self.module.hash if self.module is not None else None

    def touch(self) -> None:
        """Record that persistent state changed (the next checkpoint writes this canister)."""
        self.meta_dirty = True

    def log_debug(self, text: str) -> None:
        now = time.time_ns()
        self.logs.append(LogRecord(self.log_index, now, text.encode()))
        self.log_index += 1
        if self.environment.print_debug:
            print(f"{now}: [Canister {self.id}] {text}", file=sys.stderr, flush=True)

    # --- messages --------------------------------------------------------------------------------------

    def execute_update(self, method: str, arg: bytes, caller: Principal, now: int) -> Outcome:
        """An update call (or a query method called by an update: replicated, never persisted)."""
        if self.module.has_method("update", method):
            return self._execute(Mode.UPDATE, f"canister_update {method}", arg, caller, now, UPDATE_INSTRUCTION_LIMIT)
        if self.module.has_method("query", method):
            return self._execute(
                Mode.REPLICATED_QUERY, f"canister_query {method}", arg, caller, now, UPDATE_INSTRUCTION_LIMIT
            )
        if self.module.has_method("composite_query", method):
            raise ExecutionError(
                errors.ErrorCode.COMPOSITE_QUERY_CALLED_IN_REPLICATED_MODE,
                "Composite query cannot be called in replicated mode",
            )
        raise errors.method_not_found("update", method)

    def execute_query(self, method: str, arg: bytes, caller: Principal, now: int, certificate: bytes | Callable[[], bytes] | None) -> Outcome:
        if self.module.has_method("query", method):
            mode, export = Mode.NON_REPLICATED_QUERY, f"canister_query {method}"
        elif self.module.has_method("composite_query", method):
            mode, export = Mode.COMPOSITE_QUERY, f"canister_composite_query {method}"
        else:
            raise errors.method_not_found("query", method)
        return self._execute(mode, export, arg, caller, now, QUERY_INSTRUCTION_LIMIT, certificate=certificate)

    def inspect_message(self, method: str, arg: bytes, caller: Principal, now: int) -> None:
        """Run `canister_inspect_message` if exported; raise if the message is not accepted."""
        if not self.module.has_system("canister_inspect_message"):
            return
        outcome = self._execute(
            Mode.INSPECT_MESSAGE, "canister_inspect_message", arg, caller, now, INSPECT_MESSAGE_INSTRUCTION_LIMIT,
            method_name=method,
        )
        if not outcome.accepted:
            raise errors.message_rejected()

    def run_system_task(self, mode: Mode, now: int) -> Outcome | None:
        export = "canister_heartbeat" if mode is Mode.HEARTBEAT else "canister_global_timer"
        if self.module is None or not self.module.has_system(export):
            return None
        return self._execute(mode, export, b"", Principal.management(), now, SYSTEM_TASK_INSTRUCTION_LIMIT)

    def _execute(
        self, mode: Mode, export: str, arg: bytes, caller: Principal, now: int, limit: int,
        *, method_name: str = "", certificate: bytes | Callable[[], bytes] | None = None,
    ) -> Outcome:
        instance = self._require_instance()
        execution = Execution(mode, caller, now, arg, method_name, certificate)
        prepaid = self._prepay(limit, caller) if mode in CHARGED_MODES else 0
        self._begin(mode)
        globals_before = instance.snapshot_globals()
        heap_before = instance.heap.live_size
        try:
            used = instance.run(export, execution, limit)
            if mode.persists:
                self._check_wasm_memory_limit(instance, heap_before)
        except BaseException:
            spent = instance.meter.used()  # read before a rollback may replace the instance
            self._rollback(instance, globals_before)
            if prepaid:  # a trap pays for the instructions it ran, like a reply
                cycles.settle_execution(self, prepaid, limit, spent)
            raise
        if prepaid:
            cycles.settle_execution(self, prepaid, limit, used)
        if mode.persists:
            self._commit(instance, execution)
            self.version += 1
            self.touch()
        else:
            self._rollback(instance, globals_before)
        return Outcome(execution.response, used, execution.accepted)

    # --- code installation ------------------------------------------------------------------------------

    def install(self, module: CanisterModule, arg: bytes, caller: Principal, now: int, *, reinstall: bool) -> int:
        """install/reinstall: a fresh instance and stable memory, swapped in only on success."""
        if self.module is not None and not reinstall:
            raise errors.Reject.of(
                errors.ErrorCode.CANISTER_NON_EMPTY,
                f"Canister {self.id} cannot be installed because the canister is not empty. "
                "Try installing with mode='reinstall' instead.",
            )
        prepaid = self._prepay(INSTALL_INSTRUCTION_LIMIT, caller, installing=True)
        old_stable, self.stable = self.stable, StableMemory()
        self.stable.begin(STABLE_ACCESS_LIMIT["upgrade"], STABLE_DIRTY_LIMIT["upgrade"])
        old_version = self.version
        self.version += 1
        init = Execution(Mode.INIT, caller, now, arg)
        instance: Instance | None = None
        used = 0  # instructions of the finished steps
        in_init = False  # canister_init under way: its meter holds what it ran
        try:
            instance = self._instantiate(module, caller, now)
            used = instance.instructions_at_start
            if module.has_system("canister_init"):
                in_init = True
                used += instance.run("canister_init", init, INSTALL_INSTRUCTION_LIMIT - used, INSTALL_INSTRUCTION_LIMIT)
                in_init = False
            self._check_wasm_memory_limit(instance, instance.initial_heap_size)
        except BaseException:
            self.stable, self.version = old_stable, old_version
            spent = used + (instance.meter.used() if in_init and instance is not None else 0)
            cycles.settle_execution(self, prepaid, INSTALL_INSTRUCTION_LIMIT, spent)
            _discard(instance)
            raise
        cycles.settle_execution(self, prepaid, INSTALL_INSTRUCTION_LIMIT, used)
        self.stable.commit()
        self.stable.mark_all_dirty()
        instance.heap.adopt_live()
        self._replace_instance(module, instance)
        self.certified_data = b""
        self.global_timer = 0
        self._apply_system_changes(init)
        self.touch()
        return used

    def upgrade(self, module: CanisterModule, arg: bytes, caller: Principal, now: int, *, skip_pre_upgrade: bool) -> int:
        """upgrade: pre_upgrade (old code) -> (start) + post_upgrade (new code); stable memory kept."""
        old = self._require_instance()
        assert self.module is not None
        prepaid = self._prepay(INSTALL_INSTRUCTION_LIMIT, caller, installing=True)
        self.stable.begin(STABLE_ACCESS_LIMIT["upgrade"], STABLE_DIRTY_LIMIT["upgrade"])
        globals_before = old.snapshot_globals()
        pre = Execution(Mode.PRE_UPGRADE, caller, now)
        post = Execution(Mode.INIT, caller, now, arg)
        old_version = self.version
        instance: Instance | None = None
        used = 0
        running: Instance | None = None  # the instance running the step under way
        try:
            if not skip_pre_upgrade and self.module.has_system("canister_pre_upgrade"):
                running = old
                used = old.run("canister_pre_upgrade", pre, INSTALL_INSTRUCTION_LIMIT)
                running = None
            self.version += 1  # canister_post_upgrade sees the new version
            instance = self._instantiate(module, caller, now, INSTALL_INSTRUCTION_LIMIT - used)
            used += instance.instructions_at_start
            if module.has_system("canister_post_upgrade"):
                running = instance
                used += instance.run("canister_post_upgrade", post, INSTALL_INSTRUCTION_LIMIT - used, INSTALL_INSTRUCTION_LIMIT)
                running = None
            self._check_wasm_memory_limit(instance, instance.initial_heap_size)
        except BaseException:
            self.version = old_version
            self.stable.rollback()
            spent = used + (running.meter.used() if running is not None else 0)
            cycles.settle_execution(self, prepaid, INSTALL_INSTRUCTION_LIMIT, spent)
            _discard(instance)
            self._rollback_heap(old, globals_before)
            raise
        cycles.settle_execution(self, prepaid, INSTALL_INSTRUCTION_LIMIT, used)
        self.stable.commit()
        instance.heap.adopt_live()
        self._replace_instance(module, instance)
        self._apply_system_changes(pre)
        self.global_timer = 0  # new code deactivates the timer; post_upgrade may set a new one
        self._apply_system_changes(post)
        self.touch()
        return used

    def uninstall(self) -> None:
        """uninstall_code: drop code, heap, stable memory, certified data and the timer."""
        if self.instance is not None:
            self.instance.close()
            self.instance.heap.shadow.close()
        self.instance = None
        self.module = None
        self.stable = StableMemory()
        self.stable.mark_all_dirty()
        self.certified_data = b""
        self.global_timer = 0
        self.version += 1
        self.code_replaced = True
        self.touch()

    def _instantiate(self, module: CanisterModule, caller: Principal, now: int, limit: int = INSTALL_INSTRUCTION_LIMIT) -> Instance:
        start = Execution(Mode.START, caller, now)
        return Instance(self.environment.engine, module, self, start, limit, report_limit=INSTALL_INSTRUCTION_LIMIT)

    def _replace_instance(self, module: CanisterModule, instance: Instance) -> None:
        if self.instance is not None:
            self.instance.close()
            self.instance.heap.shadow.close()
        self.module, self.instance = module, instance
        self.code_replaced = True

    # --- transactions ------------------------------------------------------------------------------------

    def _prepay(self, limit: int, caller: Principal, *, installing: bool = False) -> int:
        """Withdraw an execution's prepayment, or refuse it with the IC's IC0207."""
        try:
            return cycles.prepay_execution(self, limit, caller)
        except cycles.OutOfCycles as exc:
            raise (errors.install_out_of_cycles(str(exc)) if installing else exc.reject()) from None

    def _require_instance(self) -> Instance:
        if self.instance is None:
            raise errors.wasm_module_not_found()
        return self.instance

    def _begin(self, mode: Mode) -> None:
        kind = mode.stable_limit_kind
        self.stable.begin(STABLE_ACCESS_LIMIT[kind], STABLE_DIRTY_LIMIT[kind])

    def _commit(self, instance: Instance, execution: Execution) -> None:
        instance.heap.commit()
        self.stable.commit()
        self._apply_system_changes(execution)

    def _apply_system_changes(self, execution: Execution) -> None:
        if execution.certified_data is not None:
            self.certified_data = execution.certified_data
        if execution.global_timer is not None:
            self.global_timer = execution.global_timer
        self.cycles = max(0, self.cycles - execution.cycles_burned)

    def _rollback(self, instance: Instance, globals_before: list[Any]) -> None:
        self.stable.rollback()
        self._rollback_heap(instance, globals_before)

    def _rollback_heap(self, instance: Instance, globals_before: list[Any]) -> None:
        if instance.heap.rollback():
            instance.restore_globals(globals_before)
            return
        # The heap grew: WASM memory cannot shrink, so rebuild the instance from the committed state.
        self._rebuild(instance, globals_before)

    def _rebuild(self, instance: Instance, globals_values: list[Any]) -> None:
        """A fresh instance of the same module carrying the committed heap and globals."""
        assert self.module is not None
        stable_before = self.stable
        self.stable = StableMemory()  # (start) of the throwaway instantiation must not touch stable memory
        self.stable.begin(0, 0)
        try:
            fresh = Instance(
                self.environment.engine, self.module, self, Execution(Mode.START, Principal.management(), 0),
                INSTALL_INSTRUCTION_LIMIT, shadow=instance.heap.shadow,
            )
        finally:
            self.stable = stable_before
        fresh.heap.dirty = instance.heap.dirty
        fresh.heap.dirty_size_changed = instance.heap.dirty_size_changed
        fresh.heap.restore_live_from_shadow()
        fresh.restore_globals(globals_values)
        instance.close()
        if self.instance is instance:
            self.instance = fresh

    def _check_wasm_memory_limit(self, instance: Instance, size_before: int) -> None:
        """The IC checks `wasm_memory_limit` when the heap grows (0 means no limit)."""
        limit = self.settings.wasm_memory_limit
        size = instance.heap.live_size
        if limit and size > size_before and size > limit:
            raise errors.wasm_memory_limit_exceeded(size, limit)

    def restore(self, module: CanisterModule, heap_size: int, fill_heap: Callable[[Any], None], globals_values: list[Any]) -> None:
        """Recreate the instance from persisted state (see persistence.py)."""
        stable_before = self.stable
        self.stable = StableMemory()
        self.stable.begin(0, 0)
        try:
            instance = Instance(
                self.environment.engine, module, self, Execution(Mode.START, Principal.management(), 0),
                INSTALL_INSTRUCTION_LIMIT,
            )
        finally:
            self.stable = stable_before
        instance.heap.load_shadow(heap_size)
        fill_heap(instance.heap.shadow)
        instance.heap.restore_live_from_shadow()
        instance.restore_globals(globals_values)
        self.module, self.instance = module, instance


def _discard(instance: Instance | None) -> None:
    if instance is not None:
        instance.close()
        instance.heap.shadow.close()


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()
