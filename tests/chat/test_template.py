from __future__ import annotations

from icchat.chat import ChatRuntime, ChatTemplate, Conversation, Message


def conversation(*texts: str) -> Conversation:
    return Conversation([Message("user" if i % 2 == 0 else "assistant", t) for i, t in enumerate(texts)])


def test_render_is_the_documented_speaker_turn_script():
    conv = conversation("  Hello there! ", "Hi. What shall we talk about?", "The IC.\nTell me more")
    assert ChatTemplate().render(conv) == (
        "User: Hello there!\nAssistant: Hi. What shall we talk about?\n"
        "User: The IC.\nTell me more\nAssistant:")
    assert ChatTemplate().stop_strings == ("\nUser:", "\nAssistant:")


def test_prompt_tokens_equal_encoding_the_whole_text(tokenizer):
    conv = conversation("Hi  ", "Héllo 👋🏽 there", "x\n\n\ny  ", "1,000 tokens? \t", "ok")
    prompt = ChatRuntime(tokenizer).build_prompt(conv, 1024, 100)
    assert prompt.tokens == [tokenizer.eot_id, *tokenizer.encode(ChatTemplate().render(conv))]
    assert (prompt.trimmed_turns, prompt.trimmed_tokens) == (0, 0)
    assert ChatRuntime(tokenizer, ChatTemplate(begin="")).build_prompt(conv, 1024, 100).tokens \
        == prompt.tokens[1:]


def test_trimming_drops_oldest_turns_and_keeps_room_for_the_reply(tokenizer):
    turns = [f"message number {i} " + "word " * 20 for i in range(10)]
    conv = conversation(*turns)
    runtime = ChatRuntime(tokenizer)
    full = runtime.build_prompt(conv, 4096, 10).tokens
    prompt = runtime.build_prompt(conv, 200, 64)
    assert len(prompt.tokens) <= 200 - 64
    assert prompt.trimmed_turns > 0 and prompt.trimmed_tokens == 0
    kept = conversation(*turns)
    kept.messages = kept.messages[prompt.trimmed_turns:]
    assert prompt.tokens == runtime.build_prompt(kept, 4096, 10).tokens
    assert prompt.tokens[-5:] == full[-5:]  # the newest turn and the reply start survive
    # removing one more turn would have fit, keeping one more would not
    one_more = Conversation(conv.messages[prompt.trimmed_turns - 1:])
    assert len(runtime.build_prompt(one_more, 4096, 10).tokens) > 200 - 64


def test_a_single_turn_too_long_keeps_its_end(tokenizer):
    runtime = ChatRuntime(tokenizer)
    conv = conversation("word " * 300)
    prompt = runtime.build_prompt(conv, 128, 28)
    assert len(prompt.tokens) == 100 and prompt.tokens[0] == tokenizer.eot_id
    assert prompt.trimmed_tokens > 0
    assert tokenizer.decode(prompt.tokens[1:]).endswith("word\nAssistant:")
