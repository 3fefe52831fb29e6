"""IC instruction accounting for canister executions (what the execution engine calls).

`MeteredModule.load` validates a canister module, rewrites it the way the IC does at install
(`icchat.replica.wasm.instrument`: a counter global decremented by each basic block's static
cost, checks at function entries and loop headers, run-time charges for bulk memory) and
compiles it. A `Meter` per store sets the counter to a message's limit, charges System API calls
with the IC's overheads, reports `used()` for `performance_counter`, and raises
`OutOfInstructions` when the counter runs out. wasmtime fuel stays on only as a backstop against
runaway code; it is never the reported figure. See docs/instruction-accounting.md.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass

import wasmtime

from icchat.replica.fast_global import FastGlobal, fast_global
from icchat.replica.wasm import instrument as ic_instrument
from icchat.replica.wasm.module import KIND_NAMES, VALTYPES, Module
from icchat.replica.wasm.reader import WasmDecodeError

IC_INSTRUCTION_LIMIT_MESSAGE = (
    "Canister exceeded the limit of {limit} instructions for single message execution.")
GZIP_MAGIC = b"\x1f\x8b\x08"
MAX_DECOMPRESSED = 100 * 1024 * 1024
# Fuel only stops code that would never reach a metering check; each IC instruction costs at
# most a dozen wasm operators including the injected ones.
FUEL_PER_INSTRUCTION = 16
FUEL_SLACK = 1_000_000_000

# System API charges: (fixed overhead, instructions per byte), from the IC's
# rs/embedders/src/wasmtime_embedder/system_api_complexity.rs (`overhead`) and linker.rs
# (`charge_for_cpu_and_mem`: one instruction per byte copied; replies, rejects and call payloads
# cost 50 per byte, BYTE_TRANSMISSION_COST_FACTOR). Stable memory follows the native-stable
# path's overheads (`overhead_native`). Names not listed cost DEFAULT_SYSTEM_API_OVERHEAD.
BYTE_TRANSMISSION_COST_FACTOR = 50
DEFAULT_SYSTEM_API_OVERHEAD = 500
SYSTEM_API_COSTS: dict[str, tuple[int, int]] = {
    "msg_arg_data_copy": (500, 1),
    "msg_caller_copy": (500, 1),
    "msg_method_name_copy": (500, 1),
    "msg_reject_msg_copy": (500, 1),
    "msg_reply_data_append": (500, BYTE_TRANSMISSION_COST_FACTOR),
    "msg_reject": (500, BYTE_TRANSMISSION_COST_FACTOR),
    "call_data_append": (500, BYTE_TRANSMISSION_COST_FACTOR),
    "canister_self_copy": (500, 1),
    "subnet_self_copy": (500, 1),
    "root_key_copy": (500, 1),
    "data_certificate_copy": (500, 1),
    "certified_data_set": (500, 1),
    "is_controller": (1_000, 1),
    "performance_counter": (200, 0),
    "stable_size": (20, 0),
    "stable64_size": (20, 0),
    "stable_grow": (100, 0),
    "stable64_grow": (100, 0),
    "stable_read": (20, 1),
    "stable64_read": (20, 1),
    "stable_write": (20, 1),
    "stable64_write": (20, 1),
}
# debug_print and trap also pay for the canister log: 2 per byte stored, 50 per byte sent
# (here: a log with room for the message, capped at the 4 KiB log capacity).
LOG_CAPACITY = 4096
DEBUG_PRINT_OVERHEAD = 100
TRAP_OVERHEAD = 500


def system_api_cost(name: str, size: int = 0) -> int:
    """The instructions the IC charges for one call of ic0.<name> moving `size` bytes."""
    if name in ("debug_print", "trap"):
        logged = min(size, LOG_CAPACITY)
        overhead = DEBUG_PRINT_OVERHEAD if name == "debug_print" else TRAP_OVERHEAD
        return overhead + size + 2 * logged + BYTE_TRANSMISSION_COST_FACTOR * logged
    overhead, per_byte = SYSTEM_API_COSTS.get(name, (DEFAULT_SYSTEM_API_OVERHEAD, 0))
    return overhead + per_byte * size


class OutOfInstructions(Exception):
    """The message used up its instruction limit (the engine reports the IC's trap)."""


class InvalidModule(ValueError):
    """The IC would refuse this module; the message says why."""


@dataclass(frozen=True)
class Import:
    module: str
    name: str
    kind: str  # "func" | "table" | "memory" | "global" | "tag"
    params: tuple[str, ...] = ()
    results: tuple[str, ...] = ()


@dataclass(frozen=True)
class Export:
    name: str
    kind: str
    params: tuple[str, ...] = ()
    results: tuple[str, ...] = ()


def configure_engine(config: wasmtime.Config) -> None:
    config.consume_fuel = True  # the backstop; the IC count lives in the instrumented counter
    # The WASM features the IC accepts (rs/embedders/src/wasm_utils/validation.rs,
    # `wasmtime_validation_config`): SIMD128 and bulk memory yes; relaxed SIMD (not
    # deterministic), tail calls, threads, GC, function references, multiple memories and
    # 64-bit memories no, so a module the IC would refuse is refused here at install.
    config.wasm_simd = True
    config.wasm_bulk_memory = True
    config.wasm_reference_types = True
    config.wasm_multi_value = True
    for feature in ("relaxed_simd", "tail_call", "threads", "gc", "function_references", "multi_memory",
                    "memory64", "exceptions", "wide_arithmetic", "custom_page_sizes", "stack_switching",
                    "component_model"):
        setattr(config, f"wasm_{feature}", False)


def gunzip(wasm: bytes) -> bytes:
    if not wasm.startswith(GZIP_MAGIC):
        return wasm
    try:
        data = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(wasm, MAX_DECOMPRESSED + 1)
    except zlib.error as exc:
        raise InvalidModule(f"Failed to decode wasm module: failed to decompress gzip: {exc}") from None
    if len(data) > MAX_DECOMPRESSED:
        raise InvalidModule(f"Wasm module decompresses to more than {MAX_DECOMPRESSED} bytes.")
    return data


class MeteredModule:
    def __init__(self, module: wasmtime.Module, imports: list[Import], exports: list[Export],
                 persistent_globals: list[str], start_export: str | None) -> None:
        self.module = module  # compiled instrumented module
        self.imports = imports  # of the original canister module
        self.exports = exports  # of the original canister module
        self.persistent_globals = persistent_globals
        self.start_export = start_export  # "canister_start": run it after instantiating

    @classmethod
    def load(cls, engine: wasmtime.Engine, wasm: bytes) -> MeteredModule:
        """Decompress (gzip magic), validate, instrument, compile."""
        raw = gunzip(bytes(wasm))
        try:
            wasmtime.Module.validate(engine, raw)
        except wasmtime.WasmtimeError as exc:
            raise InvalidModule(f"Wasmtime failed to validate wasm module {_first_line(exc)}") from None
        try:
            original = Module.decode(raw)
            imports, exports = _signatures(original)
            instrumented = ic_instrument.instrument(raw)
        except WasmDecodeError as exc:
            raise InvalidModule(f"Wasm module cannot be instrumented: {exc}") from None
        try:
            module = wasmtime.Module(engine, instrumented.wasm)
        except wasmtime.WasmtimeError as exc:  # would be a bug in the instrumentation
            raise InvalidModule(f"Instrumented module failed to compile: {_first_line(exc)}") from None
        return cls(module, imports, exports, instrumented.persistent_globals,
                   instrumented.start_export)

    def define_host_functions(self, linker: wasmtime.Linker, store: wasmtime.Store,
                              meter: Meter) -> None:
        """Define the helper imports the instrumentation adds (module "__", as on the IC)."""
        i32 = wasmtime.ValType.i32()
        linker.define_func(ic_instrument.HELPER_MODULE, "out_of_instructions",
                           wasmtime.FuncType([], []), meter.out_of_instructions)
        linker.define_func(ic_instrument.HELPER_MODULE, "try_grow_wasm_memory",
                           wasmtime.FuncType([i32, i32], [i32]), meter.try_grow_wasm_memory)


class Meter:
    """The instruction counter of one store. The count lives in the instrumented module's
    exported counter global; before `attach` (nothing runs then) it is kept here."""

    def __init__(self, store: wasmtime.Store, fuel_backstop: bool = True) -> None:
        self.store = store
        self.fuel_backstop = fuel_backstop  # False only for engines without consume_fuel
        self.limit = 0
        self._counter: wasmtime.Global | None = None
        self._fast: FastGlobal | None = None
        self._remaining = 0  # used until the counter global is attached
        # Called with (memory.grow result, pages) after every successful-or-not memory.grow;
        # the engine may raise to trap (the canister's memory limit). Returns nothing.
        self.on_memory_grow: Callable[[int, int], None] | None = None

    def attach(self, instance: wasmtime.Instance) -> None:
        counter = instance.exports(self.store).get(ic_instrument.COUNTER_EXPORT)
        if not isinstance(counter, wasmtime.Global):
            raise InvalidModule("instrumented module lacks its instruction counter")
        self._counter = counter
        self._fast = fast_global(counter, self.store)  # charged on every System API call
        self._set_remaining(self._remaining)

    def begin(self, limit: int) -> None:
        """Start counting a new message execution (or a step of one) with this limit."""
        self.limit = limit
        self._set_remaining(limit)
        if self.fuel_backstop:
            self.store.set_fuel(limit * FUEL_PER_INSTRUCTION + FUEL_SLACK)

    def remaining(self) -> int:
        if self._counter is None:
            return self._remaining
        if self._fast is not None:
            return self._fast.get()
        return self._counter.value(self.store)

    def used(self) -> int:
        """IC instructions executed since `begin` (ic0.performance_counter(0))."""
        return self.limit - self.remaining()

    def charge(self, n: int) -> None:
        """Charge n instructions from the host (System API); OutOfInstructions if exhausted."""
        left = self.remaining() - n
        self._set_remaining(max(left, -(1 << 63)))
        if left < 0:
            raise OutOfInstructions(IC_INSTRUCTION_LIMIT_MESSAGE.format(limit=self.limit))

    def charge_system_api(self, name: str, size: int = 0) -> None:
        self.charge(system_api_cost(name, size))

    # -- host functions the instrumented code calls --------------------------------------------

    def out_of_instructions(self) -> None:
        raise OutOfInstructions(IC_INSTRUCTION_LIMIT_MESSAGE.format(limit=self.limit))

    def try_grow_wasm_memory(self, grow_result: int, pages: int) -> int:
        if self.on_memory_grow is not None:
            self.on_memory_grow(grow_result, pages & 0xFFFFFFFF)
        return grow_result

    def _set_remaining(self, value: int) -> None:
        if self._counter is None:
            self._remaining = value
        elif self._fast is not None:
            self._fast.set(value)
        else:
            self._counter.set_value(self.store, value)


def _signatures(m: Module) -> tuple[list[Import], list[Export]]:
    def types(index: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
        t = m.function_type(index)
        return (tuple(VALTYPES.get(v, hex(v)) for v in t.params),
                tuple(VALTYPES.get(v, hex(v)) for v in t.results))

    imports, func_index = [], 0
    for i in m.imports:
        signature: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())
        if i.kind == 0:
            signature = types(func_index)
            func_index += 1
        imports.append(Import(i.module, i.name, KIND_NAMES[i.kind], *signature))
    exports = [Export(e.name, KIND_NAMES[e.kind], *(types(e.index) if e.kind == 0 else ((), ())))
               for e in m.exports]
    return imports, exports


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
