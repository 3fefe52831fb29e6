"""How fast a backend writes tokens on this device: the measurement behind the page's "auto"
engine setting, which runs whichever on-device engine decodes faster here (web/worker-auto.mjs).

The same fixed request goes to every backend measured (a short greedy decode from a fixed
prompt, nothing stops it early), so the figures compare like with like; what is timed is the
step as the chat sees it (the forward pass, the sampling and the Python between them), from one
token's arrival to the next.
"""

from __future__ import annotations

import itertools
import statistics
import time
from collections.abc import Awaitable, Callable

from icchat.chat.backend import Backend, BackendError, GenerateRequest
from icchat.chat.settings import Settings

PROMPT_TOKENS = 16
STEPS = 24        # decode steps timed (the first two are dropped: caches and tiers warm up)
WARM_STEPS = 2


def probe_prompt(n: int = PROMPT_TOKENS) -> list[int]:
    """Fixed ordinary token ids (the same for every backend and every run)."""
    return [(i * 7919) % 5000 + 200 for i in range(n)]


async def step_ms(backend: Backend, *, steps: int = STEPS,
                  cancelled: Callable[[], bool] = lambda: False,
                  pause: Callable[[], Awaitable[object]] | None = None) -> float | None:
    """The median milliseconds from one decoded token to the next; None if `cancelled` turned
    true first. `pause` is awaited after every token (the page's worker lets its message queue
    run there, so a user's message interrupts within a token). BackendError if the backend
    fails (the caller keeps the engine it had)."""
    if steps <= WARM_STEPS:
        raise ValueError(f"steps must be more than {WARM_STEPS}")
    prompt = probe_prompt()
    if len(prompt) + steps > backend.n_ctx:
        raise BackendError(f"the model's context ({backend.n_ctx}) is too short to measure")
    settings = Settings(temperature=0.0, max_new_tokens=steps, seed=0)
    request = GenerateRequest(prompt, settings, [], steps, cancelled)
    arrivals: list[float] = []
    async for batch in backend.generate(request):
        arrivals.extend(time.perf_counter() for _ in batch.tokens)
        if pause is not None:
            await pause()
    if len(arrivals) < steps:
        return None  # cancelled: a user's message goes first
    gaps = [(b - a) * 1000.0 for a, b in itertools.pairwise(arrivals)]
    return statistics.median(gaps[WARM_STEPS:])
