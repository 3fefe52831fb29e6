"""The gpt2 canister's token choice for host engines, as compiled C: icchat-sampler.wasm (the
module web/sampler.mjs runs over onnxruntime-web's logits) in wasmtime.

icchat.chat.sampling is the same algorithm in pure Python, bit for bit (tests/engine's
test_sampler_parity.py holds them together), and costs ~0.2 s a sampled token over GPT-2's
50,257 logits; this costs well under a millisecond. Host backends that sample many tokens
(`icchat serve`, icchat.model.native_backend) use this one.
"""

from __future__ import annotations

import threading

import numpy as np
import wasmtime

from icchat.build.engine import build_sampler_wasm

ERROR_BYTES = 128  # sampler.c's error buffer


def _i32(value: int) -> int:
    """The low 32 bits of `value` as wasm's i32 argument (a C uint32_t), which wasmtime takes signed."""
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


class SamplerTrap(RuntimeError):
    pass


class CSampler:
    """One wasmtime instance of icchat-sampler.wasm; `next_token` is sampling.next_token."""

    def __init__(self) -> None:
        engine = wasmtime.Engine()
        self.store = wasmtime.Store(engine)
        module = wasmtime.Module.from_file(engine, str(build_sampler_wasm()))
        linker = wasmtime.Linker(engine)
        linker.define_func("ic0", "trap", wasmtime.FuncType([wasmtime.ValType.i32(), wasmtime.ValType.i32()], []),
                           self._trap)
        self.exports = linker.instantiate(self.store, module).exports(self.store)
        self.memory: wasmtime.Memory = self.exports["memory"]
        self.lock = threading.Lock()  # one instance, one buffer: callers from several threads take turns

    def _trap(self, ptr: int, size: int) -> None:
        raise SamplerTrap(bytes(self.memory.read(self.store, ptr, ptr + size)).decode(errors="replace"))

    def next_token(self, logits: np.ndarray, temperature: float, top_k: int, top_p: float, seed: int,
                   position: int) -> int:
        """The token at absolute `position` from one position's float32 logits; ValueError with
        the sampler's reason for settings it refuses."""
        row = np.ascontiguousarray(logits, dtype=np.float32)
        n = int(row.size)
        with self.lock:
            ptr = self.exports["sampler_logits"](self.store, n)
            if not ptr:
                raise ValueError(f"{n} logits: the sampler takes 1 to 2^26")
            self.memory.write(self.store, row.tobytes(), ptr)
            token = self.exports["sampler_next"](self.store, n, float(temperature), _i32(top_k), float(top_p),
                                                 _i32(seed), _i32(seed >> 32), _i32(position))
            if token < 0:
                at = self.exports["sampler_error"](self.store)
                raise ValueError(bytes(self.memory.read(self.store, at, at + ERROR_BYTES)).split(b"\0", 1)[0].decode())
        return int(token)
