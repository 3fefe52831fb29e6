"""On-device answers: the chat's `Backend` over an engine, a thing that runs the model on this
device and has the decoder shape

    forward(tokens, pos)          feed tokens at positions pos, pos + 1, ...; feeding at pos drops
                                  what the engine held from pos on; may return an awaitable
    next(temperature, top_k, top_p, seed: str, position) -> int
                                  the token at absolute `position`, chosen by the gpt2 canister's
                                  sampler (canister/gpt2/sampling.c: the draw keyed by (seed, position))

both raising on bad input (one line). The engines: the icchat engine (web/engine.mjs: the gpt2
canister's C model in WASM; tests/engine's wasmtime runner in CPython), the onnxruntime-web
engine (web/ort-engine.mjs: forward is async, session.run is) and native onnxruntime on a host
(icchat.model.native_backend). Each keeps its KV cache, logits and sampler on its side: per step
Python hands it a token id and gets one back, and never copies a tensor. The icchat engine gives
the gpt2 canister's tokens (q8 bit for bit, f32 too: the same kernels, the same order of
additions); the ONNX engines give their runtime's logits and the canister's choice over them.

The engine keeps the keys and values of what it was fed, so a new answer feeds only what differs
from the last one's context (the conversation's common prefix is reused). On the icchat engine a
position's keys, values and logits are the same bit for bit however its token was fed
(docs/gpt2-canister.md), so all of the common prefix is reused and the tokens stay the
canister's. An engine whose results depend on how tokens were batched says so with
`batch_invariant = False` (onnxruntime: int8 models quantize each run's activations as a whole):
there only the whole PROMPT_CHUNK runs a fresh feed would also make are reused (positions 0-63,
64-127, ... fed as such), so an answer is the same bit for bit as on a fresh engine and a seed
gives the same tokens every time.

Importable in CPython: nothing here imports `js`.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import AsyncIterator
from typing import Any

from icchat.chat.backend import BackendError, GenerateRequest, TokenBatch

PROMPT_CHUNK = 64  # prompt tokens per forward call: `cancelled` is read between chunks


class DeviceBackend:
    """A `Backend` over one engine instance (see the module docstring for the engine's shape)."""

    def __init__(self, engine: Any, n_ctx: int, label: str = "device") -> None:
        self.engine, self.n_ctx, self.label = engine, int(n_ctx), label
        self.fed: list[int] = []  # the tokens whose keys and values the engine holds, from position 0
        self.batch_invariant = bool(getattr(engine, "batch_invariant", True))
        self.whole_runs = 0  # fed[:whole_runs] went in as whole PROMPT_CHUNK runs from position 0

    async def _forward(self, tokens: list[int], pos: int) -> float:
        start = time.perf_counter()
        kept, whole_runs = self.fed[:pos], min(self.whole_runs, pos)
        self.fed, self.whole_runs = [], 0  # unknown until the call returns
        try:
            done = self.engine.forward(tokens, pos)
            if inspect.isawaitable(done):
                await done
        except Exception as exc:  # a JsException (or ValueError from a host engine): one line
            raise BackendError(_last_line(exc)) from None
        self.fed = kept + list(tokens)
        whole = pos == whole_runs and pos % PROMPT_CHUNK == 0 and len(tokens) == PROMPT_CHUNK
        self.whole_runs = whole_runs + len(tokens) if whole else whole_runs
        return (time.perf_counter() - start) * 1000.0

    def reusable(self, prompt: list[int]) -> int:
        """How many of the prompt's first tokens the engine holds already (the last one is always
        fed again: its logits are needed) and can keep (see the module docstring)."""
        n = 0
        for a, b in zip(self.fed, prompt[:-1], strict=False):
            if a != b:
                break
            n += 1
        return n if self.batch_invariant else min(n, self.whole_runs) // PROMPT_CHUNK * PROMPT_CHUNK

    def _next(self, request: GenerateRequest, position: int) -> int:
        s = request.settings
        try:
            return int(self.engine.next(s.temperature, s.top_k, s.top_p, str(s.seed or 0), position))
        except Exception as exc:
            raise BackendError(f"could not choose a token: {_last_line(exc)}") from None

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
            run_ms += await self._forward(chunk, pos)
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
            run_ms = await self._forward([token], pos)
            pos += 1


def _last_line(exc: Exception) -> str:
    lines = [line for line in str(exc).splitlines() if line.strip()]
    return lines[-1].removeprefix("Error: ") if lines else type(exc).__name__
