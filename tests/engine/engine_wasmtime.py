"""icchat-engine.wasm in wasmtime, with the same methods web/engine.mjs gives Python in Pyodide
(forward, next, info), so icchat.chat.device.DeviceBackend runs on the real module in CPython."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import wasmtime

INFO_NAMES = ("n_layer", "n_head", "n_embd", "n_ctx", "vocab_size", "q8", "eos_token_id")


class EngineTrap(RuntimeError):
    pass


class WasmtimeEngine:
    def __init__(self, wasm: Path, weights: bytes) -> None:
        engine = wasmtime.Engine()
        self.store = wasmtime.Store(engine)
        module = wasmtime.Module.from_file(engine, str(wasm))
        linker = wasmtime.Linker(engine)
        linker.define_func("ic0", "trap", wasmtime.FuncType([wasmtime.ValType.i32(), wasmtime.ValType.i32()], []),
                           self._trap)
        self.instance = linker.instantiate(self.store, module)
        self.exports = self.instance.exports(self.store)
        self.memory: wasmtime.Memory = self.exports["memory"]
        ptr = self.call("engine_alloc", len(weights))
        self.memory.write(self.store, weights, ptr)
        if self.call("engine_load", ptr, len(weights)) != 0:
            raise ValueError(self.error())
        self.info = {name: self.call("engine_info", i) for i, name in enumerate(INFO_NAMES)}

    def _trap(self, ptr: int, size: int) -> None:
        raise EngineTrap(bytes(self.memory.read(self.store, ptr, ptr + size)).decode())

    def call(self, name: str, *args: Any) -> Any:
        return self.exports[name](self.store, *args)

    def error(self) -> str:
        ptr = self.call("engine_error")
        raw = bytes(self.memory.read(self.store, ptr, ptr + 256))
        return raw.split(b"\0", 1)[0].decode()

    def forward(self, tokens: list[int], pos: int) -> None:
        ptr = self.call("engine_tokens")
        self.memory.write(self.store, b"".join(int(t).to_bytes(4, "little") for t in tokens), ptr)
        if self.call("engine_forward", len(tokens), pos) != 0:
            raise ValueError(self.error())

    def logits(self) -> list[float]:
        import struct

        ptr = self.call("engine_logits")
        if not ptr:
            raise ValueError("no logits")
        n = self.info["vocab_size"]
        return list(struct.unpack(f"<{n}f", bytes(self.memory.read(self.store, ptr, ptr + 4 * n))))

    def next(self, temperature: float, top_k: int, top_p: float, seed: str, position: int) -> int:
        s = int(seed)
        token = self.call("engine_next", temperature, _i32(top_k), top_p, _i32(s & 0xFFFFFFFF), _i32(s >> 32),
                          position)
        if token < 0:
            raise ValueError(self.error())
        return token


def _i32(value: int) -> int:
    """An unsigned 32-bit value as the signed i32 wasmtime takes."""
    return value - (1 << 32) if value >= 1 << 31 else value
