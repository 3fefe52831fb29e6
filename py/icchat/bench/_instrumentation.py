"""What IC-accurate metering costs: wall-clock time of a compute-heavy canister method with and
without the instrumentation (and with/without the fuel backstop), and the time to instrument a
large module. `icchat bench replica` includes `measure()` under "instrumentation"."""

from __future__ import annotations

import statistics
import time
from typing import Any

import wasmtime

from icchat.build.canister import compile_c
from icchat.paths import BUILD, REPO
from icchat.replica.meter import FUEL_PER_INSTRUCTION, Meter, MeteredModule, configure_engine
from icchat.replica.wasm.instrument import instrument

MATMUL = REPO / "canister" / "probes" / "matmul.c"
ROUNDS = 40  # matrix-vector products (256 x 256) per call


def _ic0_stubs(linker: wasmtime.Linker, store: wasmtime.Store, memory_ref: list) -> None:
    i32, i64 = wasmtime.ValType.i32(), wasmtime.ValType.i64()

    def arg_copy(dst: int, offset: int, size: int) -> None:
        memory_ref[0].write(store, bytes([ROUNDS]), dst)

    stubs = {
        "msg_arg_data_size": ([], [i32], lambda: 1),
        "msg_arg_data_copy": ([i32, i32, i32], [], arg_copy),
        "performance_counter": ([i32], [i64], lambda kind: 0),
        "msg_reply_data_append": ([i32, i32], [], lambda src, size: None),
        "msg_reply": ([], [], lambda: None),
    }
    for name, (params, results, fn) in stubs.items():
        linker.define_func("ic0", name, wasmtime.FuncType(params, results), fn)


def _time_plain(wasm: bytes, fuel: bool, repeat: int) -> float:
    config = wasmtime.Config()
    config.consume_fuel = fuel
    engine = wasmtime.Engine(config)
    store = wasmtime.Store(engine)
    if fuel:
        store.set_fuel(10**15)
    linker, memory = wasmtime.Linker(engine), []
    _ic0_stubs(linker, store, memory)
    instance = linker.instantiate(store, wasmtime.Module(engine, wasm))
    memory.append(instance.exports(store)["memory"])
    instance.exports(store)["canister_init"](store)
    return _best(repeat, lambda: instance.exports(store)["canister_update matvec"](store))


def _time_metered(wasm: bytes, fuel: bool, repeat: int) -> tuple[float, int]:
    config = wasmtime.Config()
    configure_engine(config)
    config.consume_fuel = fuel
    engine = wasmtime.Engine(config)
    metered = MeteredModule.load(engine, wasm)
    store = wasmtime.Store(engine)
    meter = Meter(store, fuel_backstop=fuel)
    linker, memory = wasmtime.Linker(engine), []
    metered.define_host_functions(linker, store, meter)
    _ic0_stubs(linker, store, memory)
    meter.begin(10**12)
    instance = linker.instantiate(store, metered.module)
    meter.attach(instance)
    memory.append(instance.exports(store)["memory"])
    instance.exports(store)["canister_init"](store)
    run = instance.exports(store)["canister_update matvec"]

    def call() -> None:
        meter.begin(10**12)
        run(store)

    seconds = _best(repeat, call)
    return seconds, meter.used()


def _best(repeat: int, fn) -> float:
    fn()  # warm up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _large_module(functions: int = 2000, body_ops: int = 120) -> bytes:
    body = " ".join(["(local.set 0 (i32.add (local.get 0) (i32.mul (local.get 0) (i32.const 3))))"]
                    * (body_ops // 6))
    loop = f"(loop $l {body} (br_if $l (i32.lt_u (local.get 0) (i32.const 1000))))"
    funcs = "\n".join(f"(func (export \"f{i}\") (param i32) {loop})" for i in range(functions))
    return wasmtime.wat2wasm(f"(module {funcs})")


def measure(repeat: int = 5) -> dict[str, Any]:
    wasm = compile_c([MATMUL], BUILD / "bench" / "matmul.wasm").read_bytes()
    plain = _time_plain(wasm, fuel=False, repeat=repeat)
    plain_fuel = _time_plain(wasm, fuel=True, repeat=repeat)
    metered, counted = _time_metered(wasm, fuel=True, repeat=repeat)
    metered_no_fuel, _ = _time_metered(wasm, fuel=False, repeat=repeat)
    big = _large_module()
    start = time.perf_counter()
    instrumented = instrument(big)
    instrument_s = time.perf_counter() - start
    config = wasmtime.Config()
    configure_engine(config)
    start = time.perf_counter()
    wasmtime.Module(wasmtime.Engine(config), instrumented.wasm)
    compile_s = time.perf_counter() - start
    return {
        "compute_method": f"matmul.c `matvec`: {ROUNDS} x (256 x 256 f32, f32x4), one call",
        "ic_instructions_per_call": counted,
        "seconds_per_call": {
            "uninstrumented": round(plain, 5),
            "uninstrumented_with_fuel": round(plain_fuel, 5),
            "ic_metering_with_fuel_backstop": round(metered, 5),
            "ic_metering_without_fuel": round(metered_no_fuel, 5),
        },
        "overhead_vs_uninstrumented": {
            "ic_metering_with_fuel_backstop": round(metered / plain - 1, 3),
            "ic_metering_without_fuel": round(metered_no_fuel / plain - 1, 3),
            "fuel_alone": round(plain_fuel / plain - 1, 3),
        },
        "ic_instructions_per_second": round(counted / metered),
        "instrument_large_module": {
            "module_bytes": len(big),
            "instrumented_bytes": len(instrumented.wasm),
            "functions": instrumented.functions,
            "instrument_seconds": round(instrument_s, 3),
            "compile_seconds": round(compile_s, 3),
            "mb_per_second": round(len(big) / 1e6 / instrument_s, 2),
        },
        "fuel_backstop": f"fuel = {FUEL_PER_INSTRUCTION} x limit + 1e9",
    }

