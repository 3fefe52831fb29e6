"""The chat runtime: conversation in, a streamed reply out, whichever backend computes it."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from icchat.chat.backend import Backend, BackendError, GenerateRequest
from icchat.chat.conversation import Conversation, Message
from icchat.chat.settings import Settings
from icchat.chat.stops import StopStringFilter
from icchat.chat.template import ChatTemplate
from icchat.chat.tokenizer import GPT2Tokenizer

STOP_REASONS = ("eot", "stop_string", "max_tokens", "context", "cancelled", "error")
SUMMED_STATS = ("calls", "instructions")  # and every "*_ms"


@dataclass
class ReplyEvent:
    """One step of a streamed reply.

    text_delta: new text to append to what is shown (never part of a stop string, never half
        a character; the reply's leading whitespace is dropped).
    tokens: the token ids that arrived with this event.
    text: the reply so far, as it would be stored (stripped).
    done: the last event of the reply; then `stop_reason` says why and `error` says what went
        wrong for "error".
    origin: the backend's label ("device", "onchain-fast", "onchain-verified").
    trimmed_turns / trimmed_tokens: how much old history did not fit the context window.
    stats: prompt_tokens, new_tokens, seed, seconds, first_token_s, tokens_per_s (see
        `tokens_per_s`), python_ms (Python in the backend), runtime_ms (Python in the runtime),
        run_ms (model), and whatever else the backend reports (calls, instructions).
    """

    text_delta: str
    tokens: list[int]
    text: str
    done: bool = False
    stop_reason: str | None = None
    error: str | None = None
    origin: str = ""
    trimmed_turns: int = 0
    trimmed_tokens: int = 0
    stats: dict[str, Any] = field(default_factory=dict)

    def message(self) -> Message:
        """The assistant message for the conversation (the caller decides to append it)."""
        return Message("assistant", self.text, self.origin or None)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data (for postMessage from the worker)."""
        return {"text_delta": self.text_delta, "tokens": list(self.tokens), "text": self.text,
                "done": self.done, "stop_reason": self.stop_reason, "error": self.error,
                "origin": self.origin, "trimmed_turns": self.trimmed_turns,
                "trimmed_tokens": self.trimmed_tokens, "stats": dict(self.stats)}


def tokens_per_s(new_tokens: int, seconds: float) -> float:
    """THE tokens/s figure of a reply, the one the page shows and stores: the tokens written so
    far over the seconds since the reply was asked for. Every backend is measured alike: the
    prompt's processing is in it (on the device: the first forward pass; onchain: the prefill
    and every call's round trip), as it is in the user's wait. 0.0 before the first token."""
    return new_tokens / seconds if new_tokens and seconds > 0 else 0.0


@dataclass(frozen=True)
class Prompt:
    tokens: list[int]
    trimmed_turns: int
    trimmed_tokens: int


class ChatRuntime:
    """Owns prompt building, trimming, stop conditions and streaming; not the conversation."""

    def __init__(self, tokenizer: GPT2Tokenizer, template: ChatTemplate | None = None) -> None:
        self.tokenizer = tokenizer
        self.template = template or ChatTemplate()

    def build_prompt(self, conversation: Conversation, n_ctx: int, max_new_tokens: int) -> Prompt:
        """The prompt's tokens, fitting n_ctx - max_new_tokens: the oldest turns go first; if
        the newest turn alone is too long, its oldest tokens go. ValueError if max_new_tokens
        leaves no room at all. The kept text is encoded as one, as transformers encodes a
        rendered prompt (a turn's end and the next turn's start may share a token: "\n\n")."""
        template, tokenizer = self.template, self.tokenizer
        budget = n_ctx - max_new_tokens
        prefix = tokenizer.encode(template.begin, specials=True)
        tail = tokenizer.encode(template.reply_start, specials=True)
        if budget < len(prefix) + len(tail) + 1:
            raise ValueError(f"max_new_tokens ({max_new_tokens}) must leave room for a prompt in "
                             f"the context window ({n_ctx} tokens)")
        turns = [template.turn_segments(m.role, m.text) for m in conversation.messages]

        def encode(first: int) -> list[int]:
            kept = [segment for turn in turns[first:] for segment in turn]
            return tokenizer.encode_segments([(template.begin, True), *kept, (template.reply_start, True)])

        # Each turn's own length finds where to start; the whole text decides.
        sizes = [len(tokenizer.encode_segments(turn)) for turn in turns]
        dropped = 0
        while len(prefix) + len(tail) + sum(sizes[dropped:]) > budget and dropped < len(turns) - 1:
            dropped += 1
        tokens = encode(dropped)
        while len(tokens) > budget and dropped < len(turns) - 1:
            dropped += 1
            tokens = encode(dropped)
        while dropped and len(longer := encode(dropped - 1)) <= budget:
            dropped, tokens = dropped - 1, longer
        start = len(prefix) if tokens[:len(prefix)] == prefix else 0
        cut = max(0, len(tokens) - budget)
        return Prompt(tokens[:start] + tokens[start + cut:], dropped, cut)

    async def reply(self, conversation: Conversation, backend: Backend, settings: Settings,
                    cancelled: Callable[[], bool] = lambda: False) -> AsyncIterator[ReplyEvent]:
        """Stream the assistant's next turn. Never raises for backend failures: the last event
        has done=True and stop_reason "error" with the reason (and the text so far)."""
        start = time.perf_counter()
        origin = backend.label
        seed = settings.seed if settings.seed is not None else int.from_bytes(os.urandom(8), "little")
        settings = settings.with_seed(seed)
        stats: dict[str, Any] = {"seed": seed, "new_tokens": 0, "python_ms": 0.0, "run_ms": 0.0,
                                 "runtime_ms": 0.0}
        try:
            prompt = self.build_prompt(conversation, backend.n_ctx, settings.max_new_tokens)
        except ValueError as exc:
            stats["prompt_tokens"] = 0
            yield ReplyEvent("", [], "", True, "context", str(exc), origin, stats=stats)
            return
        stats["prompt_tokens"] = len(prompt.tokens)
        stop_tokens = [self.template.eos_token_id]
        stopping = False
        request = GenerateRequest(prompt.tokens, settings, stop_tokens, settings.max_new_tokens,
                                  lambda: stopping or cancelled())
        decoder = self.tokenizer.stream_decoder()
        stops = StopStringFilter(self.template.stop_strings)
        shown = ""  # the reply text so far, leading whitespace dropped
        reason: str | None = None
        error: str | None = None

        def event(delta: str, tokens: list[int], done: bool = False) -> ReplyEvent:
            now = time.perf_counter()
            stats["seconds"] = now - start
            stats["tokens_per_s"] = tokens_per_s(stats["new_tokens"], stats["seconds"])
            return ReplyEvent(delta, tokens, self.template.clean_reply(shown), done, reason if done else None,
                              error, origin, prompt.trimmed_turns, prompt.trimmed_tokens, dict(stats))

        generator = backend.generate(request)
        delta, tokens = "", []  # what the last event carries
        try:
            async for batch in generator:
                tick = time.perf_counter()
                if "first_token_s" not in stats and batch.tokens:
                    stats["first_token_s"] = tick - start
                for key, value in batch.stats.items():
                    summed = key in SUMMED_STATS or key.endswith("_ms")
                    stats[key] = stats.get(key, 0) + value if summed else value
                delta, tokens = "", []
                for token in batch.tokens:
                    if stats["new_tokens"] >= settings.max_new_tokens:
                        reason = "max_tokens"
                        break
                    tokens.append(token)
                    stats["new_tokens"] += 1
                    if token in stop_tokens:
                        reason = "eot"
                        break
                    delta += stops.push(decoder.push(token))
                    if stops.stopped:
                        reason = "stop_string"
                        break
                if not shown:
                    delta = delta.lstrip()
                shown += delta
                if reason is None and cancelled():
                    reason = "cancelled"
                stopping = reason is not None
                stats["runtime_ms"] += (time.perf_counter() - tick) * 1000.0
                if stopping:
                    break
                if delta or tokens:
                    yield event(delta, tokens)
                delta, tokens = "", []
        except Exception as exc:  # a backend failure ends the reply with its reason, keeps the text
            reason = "error"
            error = str(exc) if isinstance(exc, BackendError) and str(exc) else f"{type(exc).__name__}: {exc}"
        finally:
            stopping = True
            aclose = getattr(generator, "aclose", None)
            if aclose is not None:
                await aclose()
        if reason is None:
            if cancelled():
                reason = "cancelled"
            elif stats["new_tokens"] >= settings.max_new_tokens:
                reason = "max_tokens"
            elif len(prompt.tokens) + stats["new_tokens"] >= backend.n_ctx:
                reason = "context"
            else:
                reason = "error"
                error = f"the {origin} backend stopped after {stats['new_tokens']} tokens without a reason"
        if reason != "stop_string":  # a character cut at the end shows as U+FFFD, held text shows
            tail = stops.push(decoder.flush()) + stops.flush()
            delta += tail.lstrip() if not shown else tail
            shown += tail.lstrip() if not shown else tail
        yield event(delta, tokens, done=True)
