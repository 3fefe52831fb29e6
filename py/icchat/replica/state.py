"""A canister's state as plain data: the IC's replicated_state (`SystemState`, `ExecutionState`).

`SystemState` is what the system keeps about a canister (settings, status, cycles, certified
data, the global timer, logs, history, the chunk store); `ExecutionState` is its code and
memories. Neither runs anything: executions read them through a per-execution view and change
them only on commit (icchat.replica.canister), the management canister and persistence read and
write the fields.
"""

from __future__ import annotations

import collections
import enum
from dataclasses import dataclass, field
from typing import Any, Protocol

from icchat.ic.principal import Principal
from icchat.replica.call_context import CallContextManager, Origin
from icchat.replica.heap import Heap
from icchat.replica.limits import (
    DEFAULT_FREEZING_THRESHOLD,
    DEFAULT_RESERVED_CYCLES_LIMIT,
    DEFAULT_WASM_MEMORY_LIMIT,
)
from icchat.replica.module import CanisterModule
from icchat.replica.stable_memory import StableMemory

MAX_LOG_RECORDS = 1000


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


@dataclass
class LogRecord:
    index: int
    time_ns: int
    content: bytes


@dataclass
class SystemState:
    id: Principal
    settings: Settings
    cycles: int = 0
    reserved_cycles: int = 0  # never charged here: canister_status reports it
    status: Status = Status.RUNNING
    version: int = 0
    certified_data: bytes = b""
    global_timer: int = 0  # 0: inactive
    chunks: dict[bytes, bytes] = field(default_factory=dict)  # wasm chunk store: sha256 -> chunk
    logs: collections.deque[LogRecord] = field(default_factory=lambda: collections.deque(maxlen=MAX_LOG_RECORDS))
    log_index: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)  # canister_info changes (newest last)
    history_total: int = 0
    # Replica time storage was last charged up to; 0: not yet since this replica started (not
    # persisted: a stopped local replica charges nothing for the time it was down).
    idle_charged_ns: int = 0
    meta_dirty: bool = True  # changed since the last checkpoint
    # Open call contexts and callbacks (not persisted: a restarted local replica has no calls in
    # flight), and the stop_canister calls waiting for them to close.
    call_contexts: CallContextManager = field(default_factory=CallContextManager)
    stop_waiters: list[tuple[Origin, int]] = field(default_factory=list)  # (caller, cycles attached)

    @property
    def controllers(self) -> list[Principal]:
        return self.settings.controllers

    def append_log(self, time_ns: int, content: bytes) -> None:
        self.logs.append(LogRecord(self.log_index, time_ns, content))
        self.log_index += 1


class WasmInstance(Protocol):
    """The live instance holding the canister's heap and globals (icchat.replica.instance's)."""

    heap: Heap

    def snapshot_globals(self) -> list[Any]: ...
    def close(self) -> None: ...


@dataclass
class ExecutionState:
    """The code and memories: the module, the instance whose heap's shadow holds the committed
    WASM memory (and whose globals are the committed ones between executions), stable memory."""

    module: CanisterModule | None = None
    instance: WasmInstance | None = None
    stable: StableMemory = field(default_factory=StableMemory)
    code_replaced: bool = False  # a new module/heap since the last checkpoint

    def release(self) -> None:
        """Close the instance and its committed heap (the canister is gone or got new code)."""
        if self.instance is not None:
            self.instance.close()
            self.instance.heap.shadow.close()
            self.instance = None


@dataclass
class CanisterState:
    """One canister: its system state and its execution state (the IC's CanisterState)."""

    system: SystemState
    execution_state: ExecutionState = field(default_factory=ExecutionState)

    @property
    def id(self) -> Principal:
        return self.system.id

    @property
    def module(self) -> CanisterModule | None:
        return self.execution_state.module

    @property
    def module_hash(self) -> bytes | None:
        module = self.execution_state.module
        return module.hash if module is not None else None

    def touch(self) -> None:
        """Record that persistent state changed (the next checkpoint writes this canister)."""
        self.system.meta_dirty = True
