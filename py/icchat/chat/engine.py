"""On-device GPT-2 on the icchat engine: the gpt2 canister's own C model, compiled for the
browser (web/engine.mjs over icchat-engine.wasm; docs/on-device-engine.md).

The KV cache, the logits and the sampler live in the engine's memory: per step Python hands it
one token id and gets one back, and never copies a tensor. Tokens are chosen by the canister's
sampling.c (argmax at temperature 0, else the draw keyed by (seed, position)), so for the same
weight file, prompt and settings the engine gives the gpt2 canister's tokens: for q8 files bit
for bit (exact integer sums), for f32 files too (the same kernels, the same order of additions).

The engine keeps the keys and values of what it was fed, so a new answer feeds only what differs
from the last one's context (the conversation's common prefix is reused): a position's keys,
values and logits are the same bit for bit however its token was fed (docs/gpt2-canister.md), so
the tokens stay the canister's.

`engine` is anything with `forward(tokens, pos)` and `next(temperature, top_k, top_p, seed:
str, position) -> int` raising on bad input: engine.mjs's Engine (a JsProxy) in Pyodide,
tests/engine's wasmtime runner in CPython. Importable in CPython: nothing here imports `js`.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

from icchat.chat.backend import BackendError, GenerateRequest, TokenBatch

PROMPT_CHUNK = 64  # prompt tokens per forward call: `cancelled` is read between chunks


class EngineBackend:
    """A `Backend` over one icchat engine instance holding a canister weight file."""

    def __init__(self, engine: Any, n_ctx: int, label: str = "device") -> None:
        self.engine, self.n_ctx, self.label = engine, int(n_ctx), label
        self.fed: list[int] = []  # the tokens whose keys and values the engine holds, from position 0

    def _forward(self, tokens: list[int], pos: int) -> float:
        start = time.perf_counter()
        kept = self.fed[:pos]
        self.fed = []  # unknown until the call returns
        try:
            self.engine.forward(tokens, pos)
        except Exception as exc:  # a JsException (or ValueError from a host runner): one line
            raise BackendError(f"the icchat engine failed: {_last_line(exc)}") from None
        self.fed = kept + list(tokens)
        return (time.perf_counter() - start) * 1000.0

    def reusable(self, prompt: list[int]) -> int:
        """How many of the prompt's first tokens the engine holds already (the last one is always
        fed again: its logits are needed)."""
        n = 0
        for a, b in zip(self.fed, prompt[:-1], strict=False):
            if a != b:
                break
            n += 1
        return n

    def _next(self, request: GenerateRequest, position: int) -> int:
        s = request.settings
        try:
            return int(self.engine.next(s.temperature, s.top_k, s.top_p, str(s.seed or 0), position))
        except Exception as exc:
            raise BackendError(f"the icchat engine could not choose a token: {_last_line(exc)}") from None

    async def generate(self, request: GenerateRequest) -> AsyncIterator[TokenBatch]:
        """The prompt in chunks, then one token per step; `cancelled` is read before every
        forward call, so a stop takes effect within one token."""
        prompt = list(request.prompt)
        if not prompt:
            raise BackendError("the prompt is empty")
        if len(prompt) + request.max_new_tokens > self.n_ctx:
            raise BackendError(f"prompt ({len(prompt)} tokens) + max_new_tokens "
                               f"({request.max_new_tokens}) exceeds the context of {self.n_ctx}")
        tick, run_ms = time.perf_counter(), 0.0
        pos = reused = self.reusable(prompt)
        while pos < len(prompt):
            if request.cancelled():
                return
            chunk = prompt[pos:pos + PROMPT_CHUNK]  # feeding at pos drops what the engine held from pos on
            run_ms += self._forward(chunk, pos)
            pos += len(chunk)
        for produced in range(request.max_new_tokens):
            start = time.perf_counter()
            token = self._next(request, pos)  # the draw for the token at absolute position pos
            now = time.perf_counter()
            stats = {"python_ms": (now - tick) * 1000.0 - run_ms, "run_ms": run_ms, "sample_ms": (now - start) * 1000.0}
            if produced == 0:
                stats["reused"] = reused  # prompt tokens whose keys and values were kept from the last answer
            yield TokenBatch([token], stats)
            tick = time.perf_counter()
            if token in request.stop_tokens or produced + 1 == request.max_new_tokens or request.cancelled():
                return
            run_ms = self._forward([token], pos)
            pos += 1


def _last_line(exc: Exception) -> str:
    lines = [line for line in str(exc).splitlines() if line.strip()]
    return lines[-1].removeprefix("Error: ") if lines else type(exc).__name__
