"""Run hand-written WAT through the real instrumentation and Meter, with a tiny linker."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import wasmtime

from icchat.replica.meter import Meter, MeteredModule, configure_engine


@dataclass
class Run:
    meter: Meter
    instance: wasmtime.Instance
    store: wasmtime.Store

    def call(self, export: str, *args, limit: int = 10**9) -> int:
        """Instructions the IC would count for one call of `export`."""
        self.meter.begin(limit)
        self.instance.exports(self.store)[export](self.store, *args)
        return self.meter.used()


@pytest.fixture(scope="session")
def engine() -> wasmtime.Engine:
    config = wasmtime.Config()
    configure_engine(config)
    return wasmtime.Engine(config)


@pytest.fixture
def load(engine):
    def load(wat: str, host: dict | None = None) -> Run:
        metered = MeteredModule.load(engine, wasmtime.wat2wasm(wat))
        store = wasmtime.Store(engine)
        meter = Meter(store)
        linker = wasmtime.Linker(engine)
        metered.define_host_functions(linker, store, meter)
        for (module, name), (functype, fn) in (host or {}).items():
            linker.define_func(module, name, functype, lambda *a, fn=fn: fn(meter, *a),
                               access_caller=False)
        meter.begin(10**9)
        instance = linker.instantiate(store, metered.module)
        meter.attach(instance)
        return Run(meter, instance, store)

    return load
