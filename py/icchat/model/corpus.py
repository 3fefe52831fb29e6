"""The demo model's training text: two-person chats from the PyPI package `chitchat-dataset`
(MIT), rendered with the page's own chat template so a conversation on the page continues in kind.

Each chat becomes one document, `<|endoftext|>User: …\\nAssistant: …\\n…`: the first speaker is
`User`, the other `Assistant`, and a speaker's consecutive messages form one turn. Every turn is
tokenized on its own, exactly as icchat.chat.runtime builds a prompt. Chats are split into
training and validation by a hash of their id, so the split never depends on dict order.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path
from typing import Any

from icchat.chat.conversation import Conversation, Message
from icchat.chat.template import ChatTemplate
from icchat.errors import UserError

PACKAGE = "chitchat-dataset"
PACKAGE_VERSION = "0.9.0"
LICENSE = "MIT"
EOT_ID = 50256


@dataclass(frozen=True)
class Chat:
    id: str
    turns: tuple[tuple[str, str], ...]  # (role, text), roles alternating from "user"


def dataset_path() -> Path:
    """chitchat_dataset/dataset.json inside the installed wheel."""
    try:
        version = metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        raise UserError(f"the demo corpus needs `pip install {PACKAGE}=={PACKAGE_VERSION}` "
                        f"(part of the export extra)") from None
    if version != PACKAGE_VERSION:
        raise UserError(f"{PACKAGE} {version} is installed; the demo corpus is pinned to {PACKAGE_VERSION}")
    return Path(str(resources.files("chitchat_dataset") / "dataset.json"))


def read_chats(raw: dict[str, Any]) -> list[Chat]:
    """Chats from the dataset's JSON: {id: {"messages": [[{"text", "sender", …}, …], …]}}; each
    inner list is one speaker's run of messages. Empty texts and chats with < 2 turns are skipped."""
    chats = []
    for chat_id in sorted(raw):
        turns: list[tuple[str, str]] = []
        for run in raw[chat_id].get("messages", []):
            text = " ".join(" ".join(str(m.get("text", "")).split()) for m in run).strip()
            if not text:
                continue
            role = "user" if len(turns) % 2 == 0 else "assistant"
            turns.append((role, text))
        if len(turns) >= 2:
            chats.append(Chat(chat_id, tuple(turns)))
    return chats


def load_chats(path: Path | None = None) -> tuple[list[Chat], str]:
    """The chats and the SHA-256 of the dataset file they came from."""
    path = path or dataset_path()
    data = path.read_bytes()
    return read_chats(json.loads(data)), hashlib.sha256(data).hexdigest()


def is_validation(chat_id: str, fraction: float) -> bool:
    """A stable split: the first 8 bytes of SHA-256(id) as a fraction of 2**64."""
    value = int.from_bytes(hashlib.sha256(chat_id.encode()).digest()[:8], "big")
    return value < fraction * 2**64


def split(chats: Iterable[Chat], fraction: float = 0.05) -> tuple[list[Chat], list[Chat]]:
    train, validation = [], []
    for chat in chats:
        (validation if is_validation(chat.id, fraction) else train).append(chat)
    return train, validation


def turn_texts(chat: Chat, template: ChatTemplate | None = None) -> list[str]:
    """The chat's turns as the page renders them (`User: text\\n`)."""
    template = template or ChatTemplate()
    conversation = Conversation([Message(role, text) for role, text in chat.turns])
    return template.turns(conversation)


def document_text(chat: Chat, template: ChatTemplate | None = None) -> str:
    return "".join(turn_texts(chat, template))


def hf_tokenizer() -> Any:
    """GPT-2's tokenizer (Rust, fast) from the project's tokenizer files; it agrees with
    icchat.chat.tokenizer (checked when the files are made)."""
    from transformers import PreTrainedTokenizerFast

    from icchat.model.vocab import ensure_tokenizer_dir

    return PreTrainedTokenizerFast(tokenizer_file=str(ensure_tokenizer_dir() / "tokenizer.json"))


def token_stream(chats: list[Chat], encode_batch: Any = None) -> Iterator[int]:
    """All chats as one token stream: <|endoftext|>, then each turn tokenized on its own."""
    if encode_batch is None:
        tokenizer = hf_tokenizer()

        def encode_batch(texts: list[str]) -> list[list[int]]:
            return tokenizer(texts, add_special_tokens=False)["input_ids"]
    for start in range(0, len(chats), 512):
        batch = chats[start:start + 512]
        texts = [turn_texts(chat) for chat in batch]
        flat = encode_batch([t for turns in texts for t in turns])
        i = 0
        for turns in texts:
            yield EOT_ID
            for _ in turns:
                yield from flat[i]
                i += 1
