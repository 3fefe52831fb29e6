"""Chat formats as data (the manifest's `chat`): the known ones, a Jinja chat template derived at
export and checked against transformers' rendering and tokenization, and the added tokens."""

from __future__ import annotations

from pathlib import Path

import pytest
from chat_helpers import ScriptedBackend, collect

from icchat.chat import ChatRuntime, Conversation, Message, Settings
from icchat.chat.template import KNOWN_FORMATS, ChatTemplate
from icchat.chat.tokenizer import AddedToken, GPT2Tokenizer
from icchat.errors import UserError
from icchat.model import chat_format
from icchat.model.vocab import TokenizerSpec, write_tokenizer_files

EOT = 50256
CHATML = ("{{ bos_token }}{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\n' + m['content'] "
          "+ '<|im_end|>' + '\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")
CHATML_TOKENS = (AddedToken(50257, "<|im_start|>", True), AddedToken(50258, "<|im_end|>", True))


def conversation(*texts: str) -> Conversation:
    return Conversation([Message("user" if i % 2 == 0 else "assistant", t) for i, t in enumerate(texts)])


def messages(*texts: str) -> list[dict[str, str]]:
    return [{"role": m.role, "content": m.text} for m in conversation(*texts).messages]


def hf_tokenizer(directory: Path, spec: TokenizerSpec):
    from transformers import GPT2TokenizerFast

    write_tokenizer_files(directory, spec)
    return GPT2TokenizerFast.from_pretrained(directory)


@pytest.fixture(scope="module")
def chatml(tmp_path_factory) -> tuple[object, GPT2Tokenizer]:
    """A GPT-2 fine-tune with ChatML's added tokens and template: transformers' tokenizer, ours."""
    directory = tmp_path_factory.mktemp("chatml")
    hf = hf_tokenizer(directory, TokenizerSpec(CHATML_TOKENS, chat_template=CHATML))
    return hf, GPT2Tokenizer.from_dir(directory)


def test_no_record_is_todays_plain_format():
    assert ChatTemplate.from_record(None) == ChatTemplate() == KNOWN_FORMATS["plain"]
    assert ChatTemplate.from_record(ChatTemplate().to_record("table")) == ChatTemplate()
    assert ChatTemplate.from_record(None, eos_token_id=7).eos_token_id == 7
    with pytest.raises(ValueError, match="unknown chat format"):
        ChatTemplate.from_record({"format": "chatml"})


def test_dialogpt_turns_are_separated_by_endoftext(tokenizer):
    runtime = ChatRuntime(tokenizer, KNOWN_FORMATS["dialogpt"])
    prompt = runtime.build_prompt(conversation("Hi there", "Hello!", " How are you? "), 1024, 100).tokens
    enc = tokenizer.encode
    assert prompt == [*enc("Hi there"), EOT, *enc("Hello!"), EOT, *enc("How are you?"), EOT]
    # a user typing the marker writes text, not a turn's end
    typed = runtime.build_prompt(conversation("a<|endoftext|>b"), 1024, 100).tokens
    assert typed == [*enc("a<|endoftext|>b"), EOT] and typed.count(EOT) == 1


def test_alpaca_prompt(tokenizer):
    template = KNOWN_FORMATS["alpaca"]
    conv = conversation("Name a colour.", "Blue.", "Another one.")
    text = template.render(conv)
    assert text == ("### Instruction:\nName a colour.\n\n### Response:\nBlue.\n\n"
                    "### Instruction:\nAnother one.\n\n### Response:\n")
    assert ChatRuntime(tokenizer, template).build_prompt(conv, 1024, 100).tokens == tokenizer.encode(text)


def test_a_jinja_template_is_derived_and_renders_like_transformers(chatml):
    hf, tokenizer = chatml
    record = chat_format.choose(hf, "some-chatml-gpt2", EOT)
    assert (record["format"], record["source"]) == ("template", "tokenizer_config")
    assert (record["begin"], record["user_prefix"], record["assistant_suffix"], record["reply_start"]) == \
        ("<|endoftext|>", "<|im_start|>user\n", "<|im_end|>\n", "<|im_start|>assistant\n")
    assert record["stop_strings"] == ["<|im_end|>"]
    runtime = ChatRuntime(tokenizer, ChatTemplate.from_record(record))
    for texts in [("Hello",), ("Hi", "Hey! 👋🏽", "What is\n\nthe IC?"), ("x = y**2;  ok", "sure", "ünï")]:
        expected = hf.apply_chat_template(messages(*texts), add_generation_prompt=True)
        expected = expected["input_ids"] if isinstance(expected, dict) else expected
        assert runtime.build_prompt(conversation(*texts), 1024, 100).tokens == expected


def test_the_reply_stops_at_the_formats_end(chatml):
    hf, tokenizer = chatml
    template = ChatTemplate.from_record(chat_format.choose(hf, "x", EOT))
    reply = [*tokenizer.encode(" Fine"), 50258, *tokenizer.encode("\nmore")]
    events = collect(ChatRuntime(tokenizer, template), conversation("Hi"), ScriptedBackend([[t] for t in reply]), Settings())
    assert (events[-1].stop_reason, events[-1].text) == ("stop_string", "Fine")
    eos = ChatTemplate.from_record({"format": "plain", "eos_token_id": 50258})
    backend = ScriptedBackend([[t] for t in [*tokenizer.encode(" Hi"), 50258]])
    events = collect(ChatRuntime(tokenizer, eos), conversation("Hi"), backend, Settings())
    assert backend.requests[0].stop_tokens == [50258] and events[-1].stop_reason == "eot"


@pytest.mark.parametrize("template, why", [
    ("{% for m in messages %}{{ loop.index }}. {{ m['content'] }}\n{% endfor %}", "first turn"),
    ("{% for m in messages %}{{ m['content'] | upper }}\n{% endfor %}", "written once"),
    ("{{ raise_exception('system message required') }}", "does not render"),
])
def test_a_template_that_is_not_prefixes_and_suffixes_is_refused(tmp_path, template, why):
    hf = hf_tokenizer(tmp_path, TokenizerSpec(chat_template=template))
    with pytest.raises(UserError, match=why):
        chat_format.choose(hf, "x", EOT)
    assert chat_format.choose(hf, "x", EOT, override="plain")["format"] == "plain"


def test_the_table_goes_by_name(tmp_path):
    hf = hf_tokenizer(tmp_path, TokenizerSpec())
    assert chat_format.choose(hf, "microsoft/DialoGPT-medium", EOT)["format"] == "dialogpt"
    assert chat_format.choose(hf, "vicgalle/gpt2-alpaca-gpt4", EOT)["format"] == "alpaca"
    assert chat_format.choose(hf, "distilgpt2", EOT) == {**ChatTemplate().to_record("table")}


def test_added_tokens_are_split_out_like_transformers(tmp_path):
    spec = TokenizerSpec((AddedToken(50257, "<|pad|>", True), AddedToken(50258, "<sep>", False)),
                         {"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>",
                          "unk_token": "<|endoftext|>", "pad_token": "<|pad|>"})
    hf = hf_tokenizer(tmp_path, spec)
    ours = GPT2Tokenizer.from_dir(tmp_path)
    assert ours.vocab_size == len(hf) == 50259
    for text in ["<sep>", "a<sep>b<|pad|> c <|endoftext|>d", " <|pad|><|pad|>x<sep><sep>", "<|pad"]:
        assert ours.encode(text, specials=True) == hf.encode(text)
        assert ours.decode(ours.encode(text, specials=True)) == text
    # a user's text: non-special added tokens are tokens, special ones are text
    assert ours.encode("a<sep>b<|pad|>") == [*ours.encode("a"), 50258, *ours.encode("b<|pad|>", specials=False)]
    assert 50257 not in ours.encode("b<|pad|>")


def test_the_worker_takes_the_format_and_added_tokens_from_the_manifest():
    from icchat.chat.worker import ChatWorker
    from icchat.model.vocab import ensure_tokenizer_dir

    files = [(ensure_tokenizer_dir() / name).read_text() for name in ("vocab.json", "merges.txt")]
    manifest = {"model": {"n_ctx": 256, "eos_token_id": EOT},
                "chat": KNOWN_FORMATS["dialogpt"].to_record("table"),
                "tokenizer": {"added_tokens": [{"id": EOT, "content": "<|endoftext|>", "special": True},
                                               {"id": 50257, "content": "<|pad|>", "special": True}]}}
    worker = ChatWorker.from_bundle_files(*files, manifest)
    assert worker.n_ctx == 256 and worker.runtime.template == KNOWN_FORMATS["dialogpt"]
    assert worker.runtime.tokenizer.vocab_size == 50258
    assert worker.runtime.tokenizer.encode("<|pad|>", specials=True) == [50257]
    plain = ChatWorker.from_bundle_files(*files, {"model": {"n_ctx": 1024}})  # a bundle of before
    assert plain.runtime.template == ChatTemplate() and plain.runtime.tokenizer.vocab_size == 50257
