"""The chat prompt format: a model's own, as recorded in its bundle's manifest (`chat`).

A format is data: text before the first turn (`begin`), each role's prefix and suffix around
the message text, what the prompt ends with (`reply_start`: the reply is generated right
after it), the strings that end a reply, and the token that ends one (`eos_token_id`).
Every prompt is `begin + turn + turn + ... + reply_start`; a turn is
`prefix + text.strip() + suffix`. The page's runtime (icchat.chat.runtime) tokenizes the
format's own text with the model's added tokens as tokens (`<|endoftext|>` in `begin` is the
token) and the message text as plain text (a user typing `<|endoftext|>` cannot end a turn).

The default, `plain`, is GPT-2 without a chat template, a speaker-turn script:

    <|endoftext|>User: Hello there!
    Assistant: Hi. What would you like to talk about?
    User: The Internet Computer.
    Assistant:

It starts with the end-of-text token (GPT-2 saw it between documents, so it marks a fresh
document), every turn is `Speaker: text` on its own line, and the prompt ends right after
`Assistant:` (the reply's first token carries its own leading space, as GPT-2's tokens do).
A reply ends at the end-of-text token or when the model starts the next turn (`\\nUser:` or
`\\nAssistant:`). The demo model (issue "demo model") is trained on exactly this format:
keep it stable. The other known formats (`dialogpt`, `alpaca`) are in `KNOWN_FORMATS`; a
model's own Jinja chat template becomes a `template` format at export (icchat.model.chat_format).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from icchat.chat.conversation import Conversation
from icchat.chat.tokenizer import EOT_TEXT, GPT2_EOS_ID

FORMATS = ("plain", "dialogpt", "alpaca", "template")
# A piece of a turn: (text, structural). Structural text is the format's own (added tokens in it
# are tokens); the rest is the message (always plain text).
Segment = tuple[str, bool]


@dataclass(frozen=True)
class ChatTemplate:
    """Renders a conversation as the prompt text and says where a reply stops."""

    format: str = "plain"
    begin: str = EOT_TEXT
    user_prefix: str = "User: "
    user_suffix: str = "\n"
    assistant_prefix: str = "Assistant: "
    assistant_suffix: str = "\n"
    reply_start: str = "Assistant:"
    stop_strings: tuple[str, ...] = ("\nUser:", "\nAssistant:")
    eos_token_id: int = GPT2_EOS_ID

    def _affixes(self, role: str) -> tuple[str, str]:
        if role == "user":
            return self.user_prefix, self.user_suffix
        return self.assistant_prefix, self.assistant_suffix

    def turn_segments(self, role: str, text: str) -> list[Segment]:
        """One finished turn as its format text and message text."""
        prefix, suffix = self._affixes(role)
        return [(prefix, True), (text.strip(), False), (suffix, True)]

    def turn(self, role: str, text: str) -> str:
        """One finished turn as text, e.g. `User: text\\n` in the plain format."""
        return "".join(part for part, _ in self.turn_segments(role, text))

    def turns(self, conversation: Conversation) -> list[str]:
        return [self.turn(m.role, m.text) for m in conversation.messages]

    def render(self, conversation: Conversation) -> str:
        """The whole prompt text after `begin` (the model reads `begin` first)."""
        return "".join(self.turns(conversation)) + self.reply_start

    def clean_reply(self, text: str) -> str:
        """The reply as stored in the conversation."""
        return text.strip()

    # -- the manifest's `chat` record -------------------------------------------------------------

    def to_record(self, source: str) -> dict[str, Any]:
        """The manifest's `chat` (source: "tokenizer_config" or "table")."""
        record = dataclasses.asdict(self)
        record["stop_strings"] = list(self.stop_strings)
        return {"format": record.pop("format"), "source": source, **record}

    @classmethod
    def from_record(cls, record: Mapping[str, Any] | None, eos_token_id: int | None = None) -> ChatTemplate:
        """From a manifest's `chat` (None: the plain format); `eos_token_id` (the manifest's
        `model.eos_token_id`) applies when the record has none."""
        if not record:
            return cls() if eos_token_id is None else cls(eos_token_id=int(eos_token_id))
        if record.get("format") not in FORMATS:
            raise ValueError(f"unknown chat format {record.get('format')!r}; known: {', '.join(FORMATS)}")
        fields = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in record.items() if k in fields}
        for name in fields - {"format", "stop_strings", "eos_token_id"}:
            if name in values and not isinstance(values[name], str):
                raise ValueError(f"chat.{name} must be a string")
        if "stop_strings" in values:
            values["stop_strings"] = tuple(str(s) for s in values["stop_strings"])
        if "eos_token_id" not in values and eos_token_id is not None:
            values["eos_token_id"] = eos_token_id
        if "eos_token_id" in values:
            values["eos_token_id"] = int(values["eos_token_id"])
        return cls(**values)


# Formats for models whose tokenizer_config.json has no chat template.
KNOWN_FORMATS: dict[str, ChatTemplate] = {
    "plain": ChatTemplate(),
    # DialoGPT: each turn is its text followed by <|endoftext|>; the reply follows the last one.
    "dialogpt": ChatTemplate(format="dialogpt", begin="", user_prefix="", user_suffix=EOT_TEXT,
                             assistant_prefix="", assistant_suffix=EOT_TEXT, reply_start="",
                             stop_strings=()),
    # Alpaca: an instruction, then the response (the model ends it with <|endoftext|>).
    "alpaca": ChatTemplate(format="alpaca", begin="", user_prefix="### Instruction:\n",
                           user_suffix="\n\n", assistant_prefix="### Response:\n",
                           assistant_suffix="\n\n", reply_start="### Response:\n",
                           stop_strings=("### Instruction:", "### Response:")),
}
