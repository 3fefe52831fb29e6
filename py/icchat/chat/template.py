"""The chat prompt format. GPT-2 has no chat template, so this is a plain speaker-turn script:

    <|endoftext|>User: Hello there!
    Assistant: Hi. What would you like to talk about?
    User: The Internet Computer.
    Assistant:

The prompt starts with the end-of-text token (GPT-2 saw it between documents, so it marks a
fresh document), every turn is `Speaker: text` on its own line, and the prompt ends right after
`Assistant:` (the reply's first token carries its own leading space, as GPT-2's tokens do).
A reply ends at the end-of-text token or when the model starts the next turn (`\nUser:` or
`\nAssistant:`). Message text is stripped of surrounding whitespace. A model trained for this
page (issue "demo model") is trained on exactly this format: keep it stable.
"""

from __future__ import annotations

from dataclasses import dataclass

from icchat.chat.conversation import Conversation

SPEAKERS = {"user": "User", "assistant": "Assistant"}


@dataclass(frozen=True)
class ChatTemplate:
    """Renders a conversation as the prompt text and says where a reply stops."""

    user: str = "User"
    assistant: str = "Assistant"
    begin_with_eot: bool = True

    def turn(self, role: str, text: str) -> str:
        """One finished turn, newline included: `User: text\\n`."""
        return f"{self.user if role == 'user' else self.assistant}: {text.strip()}\n"

    def turns(self, conversation: Conversation) -> list[str]:
        return [self.turn(m.role, m.text) for m in conversation.messages]

    @property
    def reply_start(self) -> str:
        """What the prompt ends with: the reply is generated right after it."""
        return f"{self.assistant}:"

    def render(self, conversation: Conversation) -> str:
        """The whole prompt text (without the leading end-of-text token, which is a token)."""
        return "".join(self.turns(conversation)) + self.reply_start

    @property
    def stop_strings(self) -> tuple[str, ...]:
        """Text that ends a reply (and is never shown): the start of the next turn."""
        return (f"\n{self.user}:", f"\n{self.assistant}:")

    def clean_reply(self, text: str) -> str:
        """The reply as stored in the conversation."""
        return text.strip()
