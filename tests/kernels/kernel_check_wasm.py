"""A kernel-check module (icchat.build.kernel_check) in wasmtime: numpy arrays in, the fast kernel
or its reference run on them, numpy arrays out. Relaxed SIMD is enabled, as Chromium has it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import wasmtime


class KernelTrap(RuntimeError):
    pass


class KernelModule:
    def __init__(self, wasm: Path) -> None:
        config = wasmtime.Config()
        config.wasm_relaxed_simd = True
        engine = wasmtime.Engine(config)
        self.store = wasmtime.Store(engine)
        linker = wasmtime.Linker(engine)
        linker.define_func("ic0", "trap", wasmtime.FuncType([wasmtime.ValType.i32(), wasmtime.ValType.i32()], []),
                           self._trap)
        instance = linker.instantiate(self.store, wasmtime.Module.from_file(engine, str(wasm)))
        self.exports = instance.exports(self.store)
        self.memory: wasmtime.Memory = self.exports["memory"]

    def _trap(self, ptr: int, size: int) -> None:
        raise KernelTrap(bytes(self.memory.read(self.store, ptr, ptr + size)).decode())

    def call(self, name: str, *args: int | float) -> int | None:
        return self.exports[name](self.store, *args)

    def has(self, name: str) -> bool:
        return name in self.exports

    def reset(self) -> None:
        """Free every buffer of the previous case."""
        self.call("check_reset")

    def put(self, array: np.ndarray) -> int:
        """A copy of `array` in the module's memory; its address."""
        data = np.ascontiguousarray(array).tobytes()
        ptr = self.call("check_alloc", max(len(data), 1))
        assert isinstance(ptr, int)
        self.memory.write(self.store, data, ptr)
        return ptr

    def zeros(self, dtype: type, count: int) -> int:
        return self.put(np.zeros(count, dtype))

    def get(self, ptr: int, dtype: type, count: int) -> np.ndarray:
        size = np.dtype(dtype).itemsize * count
        return np.frombuffer(bytes(self.memory.read(self.store, ptr, ptr + size)), dtype).copy()


def bits(array: np.ndarray) -> np.ndarray:
    """f32 values as their bit patterns: equality of these is bit-identity (NaNs and -0 included)."""
    return np.ascontiguousarray(array, np.float32).view(np.uint32)


def assert_same_bits(fast: np.ndarray, ref: np.ndarray, what: str) -> None:
    fast_bits, ref_bits = bits(fast), bits(ref)
    differ = np.flatnonzero(fast_bits != ref_bits)
    if differ.size:
        i = differ[0]
        raise AssertionError(f"{what}: {differ.size} of {fast.size} values differ from the reference; first at "
                             f"[{i}]: fast {fast.flat[i]!r} (0x{fast_bits.flat[i]:08x}), "
                             f"reference {ref.flat[i]!r} (0x{ref_bits.flat[i]:08x})")
