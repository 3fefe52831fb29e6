"""Helpers shared by the chat tests (a scripted backend, an event collector)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from icchat.chat import GenerateRequest, ReplyEvent, TokenBatch


@dataclass
class ScriptedBackend:
    """Replays fixed token batches (for the runtime's own logic; real models are tested in
    test_native_backend.py and test_chat_pyodide.py). Records every request."""

    batches: list[list[int]]
    n_ctx: int = 1024
    label: str = "device"
    fail_after: int | None = None
    requests: list[GenerateRequest] = field(default_factory=list)
    polls: int = 0

    async def generate(self, request: GenerateRequest) -> AsyncIterator[TokenBatch]:
        self.requests.append(request)
        for i, batch in enumerate(self.batches):
            self.polls += 1
            if request.cancelled():
                return
            if self.fail_after is not None and i == self.fail_after:
                raise RuntimeError("model crashed")
            yield TokenBatch(list(batch), {"python_ms": 0.5, "run_ms": 2.0, "calls": 1})


def collect(runtime, conversation, backend, settings, cancelled: Callable[[], bool] = lambda: False,
            on_event: Callable[[ReplyEvent], None] | None = None) -> list[ReplyEvent]:
    async def run() -> list[ReplyEvent]:
        events = []
        async for event in runtime.reply(conversation, backend, settings, cancelled):
            events.append(event)
            if on_event:
                on_event(event)
        return events

    return asyncio.run(run())
