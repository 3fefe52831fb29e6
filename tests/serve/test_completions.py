"""icchat serve answered through the official openai client: whole and streamed replies, stop,
max_tokens, seeds and system messages, each checked against icchat's own chat runtime on the
same bundle (native onnxruntime), and replies computed one at a time."""

from __future__ import annotations

import asyncio
import threading

import pytest
from openai import NotFoundError
from serve_tiny import MODEL_ID, N_CTX

from icchat.chat import ChatRuntime, Conversation, GPT2Tokenizer, Message, Settings
from icchat.model.native_backend import NativeOnnxBackend

HELLO = [{"role": "user", "content": "Hello there, who are you?"}]
# Sampled: the random tiny model's greedy text repeats one token ("::::"), a sampled one varies.
SAMPLED = {"temperature": 1.0, "top_p": 1.0, "seed": 5}


@pytest.fixture(scope="module")
def reference(serve_bundle):
    """The chat runtime's reply on its own engine: what the server must answer."""
    runtime = ChatRuntime(GPT2Tokenizer.from_dir(serve_bundle))
    backend = NativeOnnxBackend.from_bundle(serve_bundle, "f32")

    def reply(messages: list[Message], settings: Settings):
        async def last():
            events = [event async for event in runtime.reply(Conversation(messages), backend, settings)]
            return events[-1]
        return asyncio.run(last())

    reply.runtime = runtime
    return reply


def test_the_model_list_names_the_one_model(client):
    assert [m.id for m in client.models.list()] == [MODEL_ID]
    model = client.models.retrieve(MODEL_ID)
    assert (model.id, model.object, model.owned_by) == (MODEL_ID, "model", "icchat")
    assert model.created > 0  # the bundle's creation time
    with pytest.raises(NotFoundError):
        client.models.retrieve("gpt-4o")


def test_a_whole_reply_is_the_chat_runtimes_with_its_usage(client, reference):
    reply = client.chat.completions.create(model=MODEL_ID, messages=HELLO, max_tokens=6, **SAMPLED)
    expected = reference([Message("user", HELLO[0]["content"])], Settings(**SAMPLED, max_new_tokens=6))
    assert len(set(expected.text)) > 3
    choice = reply.choices[0]
    assert (choice.message.role, choice.message.content) == ("assistant", expected.text)
    assert choice.finish_reason == "length"
    assert reply.object == "chat.completion" and reply.model == MODEL_ID and reply.id.startswith("chatcmpl-")
    prompt = len(reference.runtime.build_prompt(Conversation([Message("user", HELLO[0]["content"])]), N_CTX, 6).tokens)
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens, reply.usage.total_tokens) == (prompt, 6, prompt + 6)


def test_a_stream_is_the_same_reply_chunk_by_chunk(client):
    asked = {"model": MODEL_ID, "messages": HELLO, "temperature": 0.9, "seed": 11, "max_tokens": 6}
    whole = client.chat.completions.create(**asked)
    chunks = list(client.chat.completions.create(**asked, stream=True, stream_options={"include_usage": True}))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == whole.choices[0].message.content
    assert len({c.id for c in chunks}) == 1 and chunks[0].object == "chat.completion.chunk"
    assert [c.choices[0].finish_reason for c in chunks[:-1]] == [None] * (len(chunks) - 2) + ["length"]
    assert chunks[-1].choices == [] and chunks[-1].usage == whole.usage
    plain = list(client.chat.completions.create(**asked, stream=True))
    assert all(c.usage is None for c in plain) and plain[-1].choices[0].finish_reason == "length"


def test_the_same_seed_gives_the_same_reply_and_another_seed_another(client, reference):
    def sampled(seed: int) -> str:
        reply = client.chat.completions.create(model=MODEL_ID, messages=HELLO, temperature=1.0, top_p=1.0,
                                               seed=seed, max_tokens=5)
        return reply.choices[0].message.content

    first = sampled(5)
    assert sampled(5) == first != sampled(6)
    expected = reference([Message("user", HELLO[0]["content"])],
                         Settings(temperature=1.0, top_p=1.0, max_new_tokens=5, seed=5))
    assert first == expected.text  # the page's sampler, top_k 40 (its default) included


def test_a_stop_string_ends_the_reply_before_it(client):
    asked = {"model": MODEL_ID, "messages": HELLO, "max_tokens": 8, **SAMPLED}
    text = client.chat.completions.create(**asked).choices[0].message.content
    stop = text[len(text) // 2:][:3]  # from the middle of the reply
    reply = client.chat.completions.create(**asked, stop=[stop, "never in it"])
    assert reply.choices[0].finish_reason == "stop"
    assert reply.choices[0].message.content == text[:text.index(stop)].strip()
    assert reply.usage.completion_tokens < 8


def test_max_completion_tokens_is_max_tokens(client):
    reply = client.chat.completions.create(model=MODEL_ID, messages=HELLO, temperature=0, max_completion_tokens=3)
    assert (reply.usage.completion_tokens, reply.choices[0].finish_reason) == (3, "length")


def test_without_max_tokens_a_reply_may_fill_the_context(client):
    reply = client.chat.completions.create(model=MODEL_ID, messages=HELLO, temperature=0)
    assert (reply.usage.total_tokens, reply.choices[0].finish_reason) == (N_CTX, "length")


def test_system_messages_go_into_the_next_user_message(client, reference):
    messages = [{"role": "system", "content": "Answer in one word."}, *HELLO,
                {"role": "assistant", "content": "Me."}, {"role": "developer", "content": "Be kind."},
                {"role": "user", "content": [{"type": "text", "text": "And "}, {"type": "text", "text": "you?"}]}]
    reply = client.chat.completions.create(model=MODEL_ID, messages=messages, max_tokens=4, **SAMPLED)
    expected = reference([Message("user", "Answer in one word.\n\nHello there, who are you?"),
                          Message("assistant", "Me."), Message("user", "Be kind.\n\nAnd you?")],
                         Settings(**SAMPLED, max_new_tokens=4))
    assert reply.choices[0].message.content == expected.text
    assert reply.usage.prompt_tokens == expected.stats["prompt_tokens"]


def test_replies_asked_at_once_are_computed_one_at_a_time(client):
    """Two clients at once on the one engine (one KV cache): each gets the reply it gets alone."""
    questions = ["What is a canister?", "Tell me about the weather today, please."]

    def ask(question: str) -> str:
        reply = client.chat.completions.create(model=MODEL_ID, messages=[{"role": "user", "content": question}],
                                               max_tokens=6, **SAMPLED)
        return reply.choices[0].message.content

    alone = [ask(q) for q in questions]
    together: dict[str, str] = {}
    threads = [threading.Thread(target=lambda q=q: together.__setitem__(q, ask(q))) for q in questions * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [together[q] for q in questions] == alone
