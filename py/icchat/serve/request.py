"""A `POST /v1/chat/completions` body, read into what icchat's chat runtime takes.

OpenAI's parameters map onto icchat's own: `messages` onto a `Conversation`, `temperature`,
`top_p`, `seed` (and `top_k`, an extension as in other OpenAI-compatible servers) onto the
page's `Settings`, so the gpt2 canister's sampler chooses the same tokens as on the page;
`max_tokens` / `max_completion_tokens`, `stop` (up to 4 strings), `stream` and
`stream_options.include_usage` as OpenAI defines them. Sampling parameters left out take the
page's defaults (Settings), not OpenAI's.

icchat's chat formats (icchat.chat.template) know two roles, user and assistant. A `system` (or
`developer`) message's text goes into the next user message, before it, a blank line between, as
chat templates without a system role do (Mistral's, Llama 2's); when an assistant message or the
end of the list comes first, it stands as a user message of its own.

A parameter icchat cannot honour is refused (400, naming it), never silently dropped: `n` other
than 1, penalties other than 0, `logprobs`, tools, response formats, images. Identifiers that
only label a request for OpenAI's own records (`user`, `metadata`, ...) are accepted and unused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from icchat.chat.conversation import Conversation, Message
from icchat.chat.settings import MAX_NEW_TOKENS, Settings, SettingsError
from icchat.serve.errors import ApiError

SAMPLING = ("temperature", "top_p", "top_k", "seed")
HANDLED = ("model", "messages", "max_tokens", "max_completion_tokens", "stop", "stream", "stream_options",
           *SAMPLING)
NO_OP = {"n": 1, "frequency_penalty": 0, "presence_penalty": 0, "logprobs": False}
LABELS = ("user", "metadata", "store", "safety_identifier", "prompt_cache_key", "service_tier")
SYSTEM_ROLES = ("system", "developer")
MESSAGE_KEYS = ("role", "content", "name")
MAX_STOPS = 4


@dataclass(frozen=True)
class ChatRequest:
    """settings.max_new_tokens is `max_tokens`, or MAX_NEW_TOKENS when none was asked for (the
    served model then fits it to what its context leaves: icchat.serve.model)."""

    model: str
    conversation: Conversation
    settings: Settings
    max_tokens_asked: bool
    stop: tuple[str, ...]
    stream: bool
    include_usage: bool


def parse_chat_request(body: bytes, vocab_size: int) -> ChatRequest:
    """The request, or ApiError 400 naming what is wrong (`vocab_size` bounds top_k)."""
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"the request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ApiError(400, "the request body must be a JSON object")
    for name, value in data.items():
        if name in HANDLED or name in LABELS or value is None:
            continue
        if name not in NO_OP or value != NO_OP[name] or isinstance(value, bool) != isinstance(NO_OP[name], bool):
            hint = f" (only {json.dumps(NO_OP[name])})" if name in NO_OP else ""
            raise ApiError(400, f"unsupported parameter: {name}{hint}", param=name)
    model = data.get("model")
    if not isinstance(model, str) or not model:
        raise ApiError(400, "model must be a non-empty string", param="model")
    stream = _optional(data, "stream", bool, False)
    options = _optional(data, "stream_options", dict, {})
    if options and not stream:
        raise ApiError(400, "stream_options is only allowed with stream: true", param="stream_options")
    include_usage = options.get("include_usage") or False
    if not isinstance(include_usage, bool) or set(options) - {"include_usage"}:
        raise ApiError(400, "stream_options may only hold include_usage (a boolean)", param="stream_options")
    max_tokens = _max_tokens(data)
    sampling = {name: data[name] for name in SAMPLING if data.get(name) is not None}
    try:
        settings = Settings.from_dict({**sampling, "max_new_tokens": max_tokens or MAX_NEW_TOKENS}, vocab_size)
    except SettingsError as exc:
        name = str(exc).split(" ", 1)[0]
        raise ApiError(400, str(exc), param=name if name in SAMPLING else None) from None
    return ChatRequest(model, _conversation(data.get("messages")), settings, max_tokens is not None,
                       _stop(data.get("stop")), stream, include_usage)


def _optional(data: dict[str, Any], name: str, kind: type, default: Any) -> Any:
    value = data.get(name)
    if value is None:
        return default
    if not isinstance(value, kind):
        raise ApiError(400, f"{name} must be a {'boolean' if kind is bool else 'JSON object'}", param=name)
    return value


def _max_tokens(data: dict[str, Any]) -> int | None:
    name = "max_completion_tokens" if data.get("max_completion_tokens") is not None else "max_tokens"
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_NEW_TOKENS:
        raise ApiError(400, f"{name} must be an integer from 1 to {MAX_NEW_TOKENS} (this server's limit "
                            f"per reply), got {json.dumps(value)}", param=name)
    return value


def _stop(value: Any) -> tuple[str, ...]:
    stops = [value] if isinstance(value, str) else value
    if stops is None:
        return ()
    if (not isinstance(stops, list) or len(stops) > MAX_STOPS
            or not all(isinstance(s, str) and s for s in stops)):
        raise ApiError(400, f"stop must be a non-empty string or a list of at most {MAX_STOPS} of them",
                       param="stop")
    return tuple(stops)


def _conversation(messages: Any) -> Conversation:
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "messages must be a non-empty list", param="messages")
    conversation, system = Conversation(), []
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(message, dict):
            raise ApiError(400, f"{where} must be an object", param=where)
        role = message.get("role")
        if role not in (*SYSTEM_ROLES, "user", "assistant"):
            raise ApiError(400, f"{where}.role must be system, developer, user or assistant, got "
                                f"{json.dumps(role)}", param=f"{where}.role")
        extra = sorted(k for k, v in message.items() if k not in MESSAGE_KEYS and v is not None)
        if extra:
            raise ApiError(400, f"{where}: unsupported field {extra[0]}", param=f"{where}.{extra[0]}")
        text = _text(message.get("content"), f"{where}.content")
        if role in SYSTEM_ROLES:
            system.append(text)
        elif role == "user":
            conversation.add(Message("user", "\n\n".join([*system, text])))
            system = []
        else:
            if system:
                conversation.add(Message("user", "\n\n".join(system)))
                system = []
            conversation.add(Message("assistant", text))
    if system:
        conversation.add(Message("user", "\n\n".join(system)))
    return conversation


def _text(content: Any, where: str) -> str:
    """A message's content: a string, or a list of text parts (joined)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(isinstance(p, dict) and p.get("type") == "text"
                                         and isinstance(p.get("text"), str) for p in content):
        return "".join(p["text"] for p in content)
    raise ApiError(400, f"{where} must be a string or a list of text parts", param=where)
