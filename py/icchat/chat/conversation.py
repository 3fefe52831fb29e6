"""A conversation: the messages a chat shows, as JSON-able dicts for the page's storage."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ROLES = ("user", "assistant")
ORIGINS = ("device", "onchain-fast", "onchain-verified", "llm-service")


class ConversationError(ValueError):
    """Stored conversation data is malformed (one line, says where)."""


@dataclass(frozen=True)
class Message:
    """One turn. `origin` says where an assistant message was computed (None for user turns)."""

    role: str
    text: str
    origin: str | None = None

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ConversationError(f"role must be one of {', '.join(ROLES)}, got {self.role!r}")
        if not isinstance(self.text, str):
            raise ConversationError(f"message text must be a string, got {type(self.text).__name__}")
        if self.origin is not None and self.origin not in ORIGINS:
            raise ConversationError(f"origin must be one of {', '.join(ORIGINS)}, got {self.origin!r}")

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"role": self.role, "text": self.text}
        if self.origin is not None:
            data["origin"] = self.origin
        return data

    @classmethod
    def from_dict(cls, data: Any) -> Message:
        if not isinstance(data, dict) or "role" not in data or "text" not in data:
            raise ConversationError("a message must be an object with role and text")
        return cls(data["role"], data["text"], data.get("origin"))


@dataclass
class Conversation:
    """An ordered list of messages. The runtime never changes it: the caller appends."""

    messages: list[Message] = field(default_factory=list)

    def add(self, message: Message) -> Conversation:
        self.messages.append(message)
        return self

    def to_dict(self) -> dict[str, Any]:
        return {"messages": [m.to_dict() for m in self.messages]}

    @classmethod
    def from_dict(cls, data: Any) -> Conversation:
        if not isinstance(data, dict) or not isinstance(data.get("messages"), list):
            raise ConversationError("a conversation must be an object with a messages list")
        messages = []
        for i, item in enumerate(data["messages"]):
            try:
                messages.append(Message.from_dict(item))
            except ConversationError as exc:
                raise ConversationError(f"message {i}: {exc}") from None
        return cls(messages)
