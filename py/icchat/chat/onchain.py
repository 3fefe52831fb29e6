"""Onchain GPT-2: the gpt2 canister computes the tokens, call by call (docs/gpt2-canister.md).

Two modes, the same tokens (the canister samples by (seed, position), however calls split):
- verified ("onchain-verified"): `generate` updates, replicated and certified, each continuing
  with prompt + the tokens so far while the previous one stopped on its instruction budget;
- fast ("onchain-fast"): a `prefill` update commits the prompt into this caller's prefix cache,
  then `generate_query` queries generate from it; after a query that stopped on its budget a
  further `prefill` commits what it produced, so the next query starts from there.

Each call's tokens are one `TokenBatch` (the page streams call by call); `cancelled` is read
before every call, so a stop takes effect at the next call boundary. The client is anything
with `async call(method, request) -> reply` over plain dicts: in Pyodide the page's web/onchain.mjs
(the official JS agent) behind icchat.chat.worker's boundary; CPython tests use the in-process replica.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from typing import Any, Protocol

from icchat.chat.backend import BackendError, GenerateRequest, TokenBatch
from icchat.ic.prices import update_cycles

MODES = ("fast", "verified")


class Gpt2Client(Protocol):
    async def call(self, method: str, request: dict[str, Any]) -> dict[str, Any]:
        """One gpt2 canister call (generate, generate_query or prefill): the GenerateReply as a
        dict, plus `arg_bytes` (the encoded argument's size); raises BackendError on a reject."""
        ...


class OnchainBackend:
    """A `Backend` over the gpt2 canister. mode: "fast" or "verified"; n_ctx: the model's context
    window; prices: the IC cycles price table (config.json "ic_prices"), for the mainnet estimate.

    Stats per batch: `calls`, `instructions` (summed by the runtime), `run_ms` (waiting for the
    canister); running totals for the answer so far (the runtime keeps the last): `updates`,
    `queries`, `mainnet_cycles` (when prices are known)."""

    def __init__(self, client: Gpt2Client, mode: str, n_ctx: int,
                 prices: Mapping[str, Any] | None = None, prefill_every: int | None = None) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.client, self.mode, self.n_ctx = client, mode, int(n_ctx)
        self.prices = dict(prices) if prices else None
        self.prefill_every = prefill_every
        self.label = f"onchain-{mode}"

    async def generate(self, request: GenerateRequest) -> AsyncIterator[TokenBatch]:
        totals = {"updates": 0, "queries": 0, "mainnet_cycles": 0}
        prompt, tokens = list(request.prompt), []

        async def call(method: str, body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
            started = time.perf_counter()
            reply = await self.client.call(method, body)
            stats: dict[str, Any] = {"calls": 1, "instructions": int(reply["instructions"]),
                                     "run_ms": (time.perf_counter() - started) * 1000.0}
            if method == "generate_query":
                totals["queries"] += 1
            else:
                totals["updates"] += 1
                if self.prices:
                    # the ingress bytes: the encoded argument and the method name
                    ingress_bytes = int(reply.get("arg_bytes", 0)) + len(method)
                    totals["mainnet_cycles"] += update_cycles(int(reply["instructions"]), ingress_bytes, self.prices)
            stats.update(totals if self.prices else {k: v for k, v in totals.items() if k != "mainnet_cycles"})
            return reply, stats

        async def prefill_all(context: list[int]) -> AsyncIterator[TokenBatch]:
            while True:
                if request.cancelled():
                    return
                reply, stats = await call("prefill", {"prompt": context})
                yield TokenBatch([], stats)
                if reply["stop_reason"] != "budget":
                    return
                if reply["fed"] == 0:
                    raise BackendError(f"prefill made no progress on a {len(context)}-token conversation")

        settings = request.settings
        sampling = {"temperature": settings.temperature, "top_k": settings.top_k, "top_p": settings.top_p,
                    # a string: JSON numbers lose precision above 2^53 in JS (onchain.mjs: BigInt)
                    "seed": str(settings.seed if settings.seed is not None else 0),
                    "stop": list(request.stop_tokens)}
        committed = len(prompt)
        if self.mode == "fast":
            async for batch in prefill_all(prompt):
                yield batch
        method = "generate" if self.mode == "verified" else "generate_query"
        while len(tokens) < request.max_new_tokens and not request.cancelled():
            wanted = request.max_new_tokens - len(tokens)
            reply, stats = await call(method, {"prompt": prompt + tokens, "max_new_tokens": wanted, **sampling})
            new = [int(t) for t in reply["tokens"]][:wanted]
            tokens += new
            yield TokenBatch(new, stats)
            if reply["stop_reason"] != "budget":
                return
            if self.mode == "fast":
                uncommitted = len(prompt) + len(tokens) - committed
                if not new or self.prefill_every is None or uncommitted >= self.prefill_every:
                    async for batch in prefill_all(prompt + tokens):
                        yield batch
                    committed = len(prompt) + len(tokens)
            elif not new and reply["fed"] == 0:
                raise BackendError(f"{method} made no progress: the call stopped on its budget with nothing done")
