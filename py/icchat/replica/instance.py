"""One instantiation of a canister module: wasmtime store, metering, System API, heap, globals.

Instantiating runs the module's `(start)` function (the `s` context) as the `start` execution,
which brings the memories `(start)` may touch: its stable memory, and the committed heap
(`shadow`) when an instance is rebuilt or restored. The instance never holds the canister.
`run` calls one exported entry point (or a callback: a function of the table, called with its
environment value, as the spec calls reply, reject and cleanup closures) under an instruction limit and turns every way it can fail
into the IC's error: `OutOfInstructions` from the meter and wasmtime's fuel backstop into
"exceeded the limit of N instructions", WASM traps into the IC's trap codes. Committing or
rolling back is the caller's decision (see `ExecutionEnvironment`); `snapshot_globals`/
`restore_globals` and the `Heap` make both cheap.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import wasmtime

from icchat.replica import errors
from icchat.replica.call_context import Closure
from icchat.replica.errors import TrapCode
from icchat.replica.execution import Execution
from icchat.replica.fast_global import fast_global
from icchat.replica.heap import Heap, Shadow
from icchat.replica.meter import Meter, OutOfInstructions
from icchat.replica.system_api import SystemApi

if TYPE_CHECKING:
    from icchat.replica.module import CanisterModule

log = logging.getLogger("icchat.replica")
_TRAP_CODES = {
    wasmtime.TrapCode.STACK_OVERFLOW: TrapCode.STACK_OVERFLOW,
    wasmtime.TrapCode.MEMORY_OUT_OF_BOUNDS: TrapCode.HEAP_OUT_OF_BOUNDS,
    wasmtime.TrapCode.HEAP_MISALIGNED: TrapCode.HEAP_OUT_OF_BOUNDS,
    wasmtime.TrapCode.TABLE_OUT_OF_BOUNDS: TrapCode.TABLE_OUT_OF_BOUNDS,
    wasmtime.TrapCode.INDIRECT_CALL_TO_NULL: TrapCode.TABLE_OUT_OF_BOUNDS,
    wasmtime.TrapCode.INTEGER_DIVISION_BY_ZERO: TrapCode.INTEGER_DIV_BY_ZERO,
    wasmtime.TrapCode.UNREACHABLE: TrapCode.UNREACHABLE,
}


class Instance:
    def __init__(
        self,
        engine: wasmtime.Engine,
        module: CanisterModule,
        start: Execution,
        limit: int,
        *,
        log: Callable[[str], None],
        shadow: Shadow | None = None,
        report_limit: int | None = None,
    ) -> None:
        """Instantiate `module` (running `(start)` as the `start` execution, within `limit`);
        `log` receives the canister's debug messages, `shadow` is the committed heap to keep."""
        self.module = module
        self.store = wasmtime.Store(engine)
        self.meter = Meter(self.store)
        linker = wasmtime.Linker(engine)
        module.metered.define_host_functions(linker, self.store, self.meter)
        self.api = SystemApi(self.meter, log)
        self.api.define(linker, module.ic0_imports)
        self.api.execution = start
        self.meter.begin(limit)
        try:
            self.instance = linker.instantiate(self.store, module.metered.module)
            self.meter.attach(self.instance)
            # Instrumentation turns the start section into an export run once metering is on.
            start_export = module.metered.start_export
            if start_export is not None:
                self.instance.exports(self.store)[start_export](self.store)
        except BaseException as exc:
            raise _as_execution_error(exc, report_limit or limit) from None
        finally:
            self.api.execution = None
        self._exports: dict[str, Any] = dict(self.instance.exports(self.store))
        memory = self._exports.get("memory")
        self.memory = memory if isinstance(memory, wasmtime.Memory) else None
        self.api.attach_memory(self.memory)
        self.globals = [self._exports[name] for name in module.persistent_globals if name in self._exports]
        self._fast_globals = [fast_global(g, self.store) for g in self.globals]  # around every execution
        self.heap = Heap(self.memory, self.store, shadow)
        self.api.heap = self.heap
        self.initial_heap_size = self.heap.live_size
        self.instructions_at_start = self.meter.used()

    def run(self, export: str | Closure, execution: Execution, limit: int, report_limit: int | None = None) -> int:
        """Call `export` (or the table function of a callback closure) as `execution` within
        `limit` instructions; returns those used.

        Raises ExecutionError; an exceeded limit is reported as `report_limit` (the message's
        whole limit when earlier steps of the same message used part of it, as the IC does).
        """
        self.api.execution = execution
        self.meter.begin(limit)
        try:
            if isinstance(export, Closure):
                self._table_function(export.fun)(self.store, _signed32(export.env))
            else:
                self._exports[export](self.store)
        except BaseException as exc:
            raise _as_execution_error(exc, report_limit or limit) from None
        finally:
            self.api.execution = None
        return self.meter.used()

    def _table_function(self, index: int) -> wasmtime.Func:
        table = self._exports.get("table")
        if not isinstance(table, wasmtime.Table) or index >= table.size(self.store):
            raise errors.trapped(TrapCode.TABLE_OUT_OF_BOUNDS)
        func = table.get(self.store, index)
        if not isinstance(func, wasmtime.Func):
            raise errors.trapped(TrapCode.TABLE_OUT_OF_BOUNDS)
        kind = func.type(self.store)
        if [str(t) for t in kind.params] != ["i32"] or list(kind.results):
            raise errors.contract_violation("function invocation does not match its signature")
        return func

    def snapshot_globals(self) -> list[Any]:
        return [g.value(self.store) if f is None else f.get() for g, f in zip(self.globals, self._fast_globals, strict=True)]

    def restore_globals(self, values: list[Any]) -> None:
        for g, f, value in zip(self.globals, self._fast_globals, values, strict=True):
            if f is None:
                g.set_value(self.store, value)
            else:
                f.set(value)

    def close(self) -> None:
        self.heap.close()


def _signed32(value: int) -> int:
    return value - (1 << 32) if value >= 1 << 31 else value


def _as_execution_error(exc: BaseException, limit: int) -> BaseException:
    if isinstance(exc, errors.ExecutionError):
        return exc
    if isinstance(exc, OutOfInstructions):
        return errors.instruction_limit_exceeded(limit)
    if isinstance(exc, wasmtime.Trap):
        code = exc.trap_code
        if code == wasmtime.TrapCode.OUT_OF_FUEL:
            return errors.instruction_limit_exceeded(limit)
        if code == wasmtime.TrapCode.BAD_SIGNATURE:
            return errors.contract_violation("function invocation does not match its signature")
        return errors.trapped(_TRAP_CODES.get(code, TrapCode.OTHER))
    if isinstance(exc, wasmtime.WasmtimeError):
        return errors.engine_error(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    if isinstance(exc, (KeyboardInterrupt, SystemExit, MemoryError)):
        return exc
    log.warning("unexpected error inside a canister execution", exc_info=exc)
    return errors.engine_error(f"{type(exc).__name__}: {exc}")
