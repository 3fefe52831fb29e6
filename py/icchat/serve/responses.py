"""OpenAI's response shapes: a chat completion, its stream's chunks, the model list."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from icchat.chat.runtime import ReplyEvent

# icchat.chat.runtime's stop reasons as OpenAI's finish_reason ("error" and "cancelled" never end
# a completion: the first is a 500, the second a client that left)
FINISH_REASONS = {"eot": "stop", "stop_string": "stop", "max_tokens": "length", "context": "length"}


def usage(event: ReplyEvent) -> dict[str, int]:
    prompt, completion = int(event.stats.get("prompt_tokens", 0)), int(event.stats.get("new_tokens", 0))
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


@dataclass(frozen=True)
class Completion:
    """One completion's identity: every chunk of a stream carries the same id and time."""

    model: str
    id: str = field(default_factory=lambda: f"chatcmpl-{secrets.token_hex(12)}")
    created: int = field(default_factory=lambda: int(time.time()))

    def whole(self, last: ReplyEvent) -> dict[str, Any]:
        """The `chat.completion` object of a reply whose last event is `last`."""
        message = {"role": "assistant", "content": last.text, "refusal": None}
        return {"id": self.id, "object": "chat.completion", "created": self.created, "model": self.model,
                "choices": [{"index": 0, "message": message, "logprobs": None,
                             "finish_reason": FINISH_REASONS[last.stop_reason or ""]}],
                "usage": usage(last)}

    def chunk(self, delta: dict[str, str], finish_reason: str | None = None,
              with_usage: bool = False) -> dict[str, Any]:
        """A `chat.completion.chunk` (with_usage: stream_options.include_usage asked for `usage`,
        null on every chunk before the last one)."""
        chunk = {"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
                 "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}]}
        return {**chunk, "usage": None} if with_usage else chunk

    def usage_chunk(self, last: ReplyEvent) -> dict[str, Any]:
        """The stream's last chunk when include_usage was asked for: no choices, the usage."""
        return {"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
                "choices": [], "usage": usage(last)}


def model_list(model_id: str, created: int) -> dict[str, Any]:
    return {"object": "list", "data": [model_object(model_id, created)]}


def model_object(model_id: str, created: int) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": created, "owned_by": "icchat"}
