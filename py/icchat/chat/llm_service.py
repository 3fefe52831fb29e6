"""An LLM service through a canister (issue 28; docs/llm-service.md): the route canister
(canister/llm, `chat`) asks DFINITY's LLM canister, its local stand-in, or an OpenAI-compatible
endpoint by HTTPS outcall, and answers with the whole text: no tokens, no streaming.

The conversation goes as the LLM canister's `chat_request_v1` messages, within its limits: at most
MAX_MESSAGES messages and MAX_PROMPT_BYTES of text; the newest turns that fit are kept, and the
answer says how many older ones were left out. The client is anything with `async call(method,
request) -> reply` over plain dicts, the same seam as icchat.chat.onchain's: in Pyodide the page's
web/llm-route.mjs (the official JS agent) behind icchat.chat.worker's boundary; CPython tests use
a fake of their own at the unit level.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from icchat.chat.backend import BackendError
from icchat.chat.conversation import Conversation

LABEL = "llm-service"
# The LLM canister's limits (dfinity/llm README): at most 10 messages, a prompt of at most 10 KiB.
MAX_MESSAGES = 10
MAX_PROMPT_BYTES = 10 * 1024


class RouteClient(Protocol):
    async def call(self, method: str, request: dict[str, Any]) -> dict[str, Any]:
        """`chat` on the route canister: request {model, messages: [{role, content}]}; reply
        {text, model, via, cycles, instructions}; raises BackendError with one line on a reject."""
        ...


@dataclass(frozen=True)
class ServiceRequest:
    """The messages sent (oldest first) and how many older messages did not fit the limits."""

    messages: list[dict[str, str]]
    trimmed_turns: int


@dataclass
class ServiceAnswer:
    """The service's answer, or none when the user stopped waiting (`discarded`: it came late)."""

    text: str
    stop_reason: str  # "eot" (answered) or "cancelled"
    trimmed_turns: int
    stats: dict[str, Any] = field(default_factory=dict)


def fit_request(conversation: Conversation) -> ServiceRequest:
    """The newest messages within MAX_MESSAGES and MAX_PROMPT_BYTES, starting on a user turn.
    An answer left empty (stopped before it came) is not a turn. BackendError when the last
    message is not the user's or is longer than the service takes on its own."""
    turns = [{"role": m.role, "content": m.text} for m in conversation.messages
             if m.role == "user" or m.text.strip()]
    if not turns or turns[-1]["role"] != "user":
        raise BackendError("the conversation must end with your message")
    last = len(turns[-1]["content"].encode())
    if last > MAX_PROMPT_BYTES:
        raise BackendError(f"your message is {last:,} bytes: the LLM service takes at most "
                           f"{MAX_PROMPT_BYTES:,} bytes (10 KiB) per prompt")
    kept, size = 0, 0
    for turn in reversed(turns):
        size += len(turn["content"].encode())
        if kept == MAX_MESSAGES or size > MAX_PROMPT_BYTES:
            break
        kept += 1
    start = len(turns) - kept
    while turns[start]["role"] != "user":  # an answer without its question would lead the request
        start += 1
    return ServiceRequest(turns[start:], start)


class LlmServiceBackend:
    """Answers through the route canister as `model` (its route_info's), labelled LABEL."""

    label = LABEL

    def __init__(self, client: RouteClient, model: str) -> None:
        self.client, self.model = client, model

    async def answer(self, conversation: Conversation,
                     cancelled: Callable[[], bool] = lambda: False) -> ServiceAnswer:
        """One `chat` call for the conversation's last message. The call cannot be cancelled
        once sent: if `cancelled` turned true meanwhile, its answer is discarded. Raises
        BackendError (one line) when the request does not fit or the call fails."""
        request = fit_request(conversation)
        started = time.perf_counter()
        stats: dict[str, Any] = {"model": self.model, "calls": 0, "new_tokens": 0}
        if cancelled():
            return ServiceAnswer("", "cancelled", request.trimmed_turns, stats)
        reply = await self.client.call("chat", {"model": self.model, "messages": request.messages})
        stats.update(calls=1, seconds=time.perf_counter() - started, model=str(reply["model"]),
                     via=str(reply["via"]), cycles=int(reply["cycles"]), instructions=int(reply["instructions"]))
        if cancelled():
            return ServiceAnswer("", "cancelled", request.trimmed_turns, {**stats, "discarded": True})
        return ServiceAnswer(str(reply["text"]).strip(), "eot", request.trimmed_turns, stats)
