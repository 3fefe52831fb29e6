"""A checkpoint's chat format, decided at export and recorded in the manifest (`chat`).

The page's runtime renders prompts from data (icchat.chat.template.ChatTemplate), not Jinja:
Pyodide has no jinja2, and a prompt must be cut turn by turn to fit the context. So a model's
own `chat_template` (tokenizer_config.json) is rendered here, on the host, by transformers on
probe conversations; the text around the probes' messages gives the format's `begin`, role
prefixes and suffixes and generation prompt. The derived format must then render other
conversations exactly as the Jinja template does, or the export is refused: a template that
numbers turns, or treats the first message apart, cannot be expressed as prefixes and suffixes.

A model without a chat template gets a format from the table (ChatTemplate's KNOWN_FORMATS) by
its name: DialoGPT's (`dialogpt` in the name), Alpaca's (`alpaca`), else GPT-2's plain one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, NoReturn

from icchat.chat.conversation import Conversation, Message
from icchat.chat.template import KNOWN_FORMATS, ChatTemplate
from icchat.errors import UserError

# Conversations the derived format must render exactly as the template does (texts are stripped,
# as the runtime strips messages).
CHECKS: tuple[tuple[str, ...], ...] = (
    ("Hello there!",),
    ("Hi", "Hello! How can I help?"),
    ("What is the Internet Computer?", "A blockchain that runs canisters.", "And GPT-2?\nTell me more."),
    ("Ünïcödé 👋🏽", "ok", "two\n\nparagraphs", "fine", "1,000 tokens?"),
)


def table_format(name: str) -> str:
    """The known format for a model without a chat template, from its hub id, path or preset."""
    lowered = name.lower()
    return next((f for f in ("dialogpt", "alpaca") if f in lowered), "plain")


def choose(tokenizer: Any, name: str, eos_token_id: int, override: str | None = None) -> dict[str, Any]:
    """The manifest's `chat` for a model: `override` (a KNOWN_FORMATS name) if given, else
    derived from the tokenizer's chat template if it has one, else the table's by `name`."""
    if override is None and getattr(tokenizer, "chat_template", None):
        return derive(tokenizer, eos_token_id).to_record("tokenizer_config")
    name = override or table_format(name)
    if name not in KNOWN_FORMATS:
        raise UserError(f"unknown chat format {name!r}; choose one of: {', '.join(KNOWN_FORMATS)}")
    return dataclasses.replace(KNOWN_FORMATS[name], eos_token_id=eos_token_id).to_record("table")


def derive(tokenizer: Any, eos_token_id: int) -> ChatTemplate:
    """The format of the tokenizer's Jinja chat template, checked on CHECKS; UserError if the
    template cannot be expressed as role prefixes and suffixes."""
    probe = [f"icchat-probe-{i}" for i in range(4)]
    everything = _render(tokenizer, probe, generation=False)
    around = _split(everything, probe)  # [before 0, 0..1, 1..2, 2..3, after 3]
    one = _split(_render(tokenizer, probe[:1], generation=False), probe[:1])
    with_prompt = _render(tokenizer, probe[:1], generation=True)
    no_prompt = "".join((one[0], probe[0], one[1]))
    if not with_prompt.startswith(no_prompt):
        _refuse("its generation prompt is not added after the conversation")
    assistant_suffix, user_suffix = around[4], one[1]
    if not around[2].startswith(assistant_suffix) or not around[1].startswith(user_suffix):
        _refuse("a turn's text differs with what follows it")
    user_prefix = around[2][len(assistant_suffix):]
    assistant_prefix = around[1][len(user_suffix):]
    if not around[0].endswith(user_prefix):
        _refuse("the first turn is not written like the others")
    begin = around[0][:len(around[0]) - len(user_prefix)]
    generation = with_prompt[len(no_prompt):]
    # A reply ends where the model ends its turn, or starts the user's (the shorter suffices).
    ends, starts = assistant_suffix.strip(), (assistant_suffix + user_prefix).rstrip()
    stops = [ends] if ends and ends in starts else [s for s in (ends, starts) if s]
    template = ChatTemplate(format="template", begin=begin, user_prefix=user_prefix,
                            user_suffix=user_suffix, assistant_prefix=assistant_prefix,
                            assistant_suffix=assistant_suffix,
                            reply_start=generation or assistant_prefix,
                            stop_strings=tuple(stops), eos_token_id=eos_token_id)
    for texts in CHECKS:
        check(tokenizer, template, texts)
    return template


def check(tokenizer: Any, template: ChatTemplate, texts: Sequence[str]) -> None:
    """The format renders `texts` (alternating user, assistant) as the Jinja template does: a
    prompt (ending with a user turn) with its generation prompt, a finished chat without."""
    conversation = Conversation([Message("user" if i % 2 == 0 else "assistant", t)
                                 for i, t in enumerate(texts)])
    prompt = len(texts) % 2 == 1
    ours = template.begin + (template.render(conversation) if prompt else "".join(template.turns(conversation)))
    theirs = _render(tokenizer, list(texts), generation=prompt)
    if ours != theirs:
        _refuse(f"on a conversation of {len(texts)} messages it renders {theirs!r}, "
                f"the derived format {ours!r}")


def _render(tokenizer: Any, texts: list[str], generation: bool) -> str:
    messages = [{"role": "user" if i % 2 == 0 else "assistant", "content": t} for i, t in enumerate(texts)]
    try:
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation)
    except Exception as exc:  # a template's own raise_exception, or a Jinja error
        _refuse(f"it does not render a user/assistant conversation ({type(exc).__name__}: {exc})")


def _split(text: str, markers: list[str]) -> list[str]:
    """The text between the markers (each must occur once, in order)."""
    parts, rest = [], text
    for marker in markers:
        if text.count(marker) != 1 or marker not in rest:
            _refuse("a message's text is not written once, as given")
        before, rest = rest.split(marker, 1)
        parts.append(before)
    return [*parts, rest]


def _refuse(why: str) -> NoReturn:
    raise UserError(f"the model's chat template cannot be used: {why}. Pass --chat-format "
                    f"{'|'.join(KNOWN_FORMATS)} to use a known format instead")
