"""The seam between the chat runtime and whatever computes tokens (device now, onchain next)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from icchat.chat.settings import Settings


class BackendError(RuntimeError):
    """The backend could not compute (canister unreachable, model failed, ...): one line."""


@dataclass(frozen=True)
class GenerateRequest:
    """What a backend is asked to compute.

    prompt: token ids, already trimmed so that len(prompt) + max_new_tokens <= n_ctx.
    settings: sampling settings; `settings.seed` is always set (the runtime picks one if the
        user did not), so a backend never invents randomness of its own.
    stop_tokens: generation ends after emitting one of these (the token is yielded, too).
    max_new_tokens: at most this many tokens in total.
    cancelled: polled at least once per token (device) or per call (onchain); once it returns
        True the backend yields nothing more and returns.
    """

    prompt: list[int]
    settings: Settings
    stop_tokens: list[int]
    max_new_tokens: int
    cancelled: Callable[[], bool] = lambda: False


@dataclass
class TokenBatch:
    """Tokens as they arrive: one per step on the device, a call's worth onchain.

    stats: numbers the backend measured for this batch, summed by the runtime where it makes
    sense: `python_ms` (time in Python), `run_ms` (time in the model), `calls`, `instructions`.
    """

    tokens: list[int]
    stats: dict[str, float | int] = field(default_factory=dict)


@runtime_checkable
class Backend(Protocol):
    """Computes a reply's tokens. `label` is what an answer is labelled with ("device",
    "onchain-fast", "onchain-verified"); `n_ctx` is the model's context window."""

    label: str
    n_ctx: int

    def generate(self, request: GenerateRequest) -> AsyncIterator[TokenBatch]:
        """An async generator of token batches (write it as `async def ... yield`)."""
        ...
