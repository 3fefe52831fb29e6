"""The runtime's own logic over scripted token batches (real models: test_native_backend.py,
test_pyodide.py)."""

from __future__ import annotations

from chat_helpers import ScriptedBackend, collect

from icchat.chat import ChatRuntime, Conversation, Message, Settings

HELLO = [18435, 612, 13]  # " Hello there."
NEXT_TURN = [198, 12982, 25, 645]  # "\nUser: no"
WAVE = [50169, 233, 8582, 237, 121, 23105]  # " 👋🏽 hi": the emoji spans 5 byte tokens


def chat() -> Conversation:
    return Conversation([Message("user", "Hi!")])


def test_stream_ends_at_a_stop_string_split_over_tokens(tokenizer):
    backend = ScriptedBackend([[t] for t in HELLO + NEXT_TURN])
    events = collect(ChatRuntime(tokenizer), chat(), backend, Settings(seed=3))
    assert "".join(e.text_delta for e in events) == "Hello there."
    assert all("\n" not in e.text_delta for e in events)
    last = events[-1]
    assert last.done and last.stop_reason == "stop_string" and last.text == "Hello there."
    assert [e.done for e in events].count(True) == 1
    assert last.message() == Message("assistant", "Hello there.", "device")
    assert last.stats["new_tokens"] == 6 and last.stats["seed"] == 3
    assert last.stats["calls"] == 6 and last.stats["run_ms"] == 12.0
    request = backend.requests[0]
    assert request.prompt == [tokenizer.eot_id, *tokenizer.encode("User: Hi!\nAssistant:")]
    assert request.stop_tokens == [tokenizer.eot_id] and request.settings.seed == 3
    assert request.cancelled()  # the runtime told the backend to stop after the marker


def test_utf8_characters_split_over_tokens_arrive_whole(tokenizer):
    events = collect(ChatRuntime(tokenizer), chat(), ScriptedBackend([[t] for t in WAVE] + [[50256]]),
                     Settings())
    deltas = [e.text_delta for e in events]
    assert "".join(deltas) == "👋🏽 hi" and all("\ufffd" not in d for d in deltas)
    assert events[-1].stop_reason == "eot" and events[-1].text == "👋🏽 hi"
    assert isinstance(events[-1].stats["seed"], int)  # a fresh seed was chosen and reported


def test_max_tokens_and_batches(tokenizer):
    backend = ScriptedBackend([HELLO, [645] * 10])
    events = collect(ChatRuntime(tokenizer), chat(), backend, Settings(max_new_tokens=5))
    assert events[-1].stop_reason == "max_tokens" and events[-1].stats["new_tokens"] == 5
    assert events[-1].text == "Hello there. no no"
    assert backend.requests[0].max_new_tokens == 5


def test_cancel_stops_within_one_token(tokenizer):
    backend = ScriptedBackend([[645]] * 50)
    seen: list[int] = []
    events = collect(ChatRuntime(tokenizer), chat(), backend, Settings(), lambda: len(seen) >= 3,
                     on_event=lambda e: seen.extend(e.tokens))
    assert events[-1].stop_reason == "cancelled"
    assert events[-1].stats["new_tokens"] <= 4 and backend.polls <= 5


def test_backend_failure_keeps_the_text_and_says_why(tokenizer):
    backend = ScriptedBackend([[t] for t in HELLO] + [[645]], fail_after=3)
    events = collect(ChatRuntime(tokenizer), chat(), backend, Settings())
    assert events[-1].stop_reason == "error" and events[-1].error == "RuntimeError: model crashed"
    assert events[-1].text == "Hello there."


def test_history_too_long_is_trimmed_and_said(tokenizer):
    conv = Conversation([Message("user" if i % 2 == 0 else "assistant", "word " * 30)
                         for i in range(9)])
    backend = ScriptedBackend([[50256]], n_ctx=128)
    events = collect(ChatRuntime(tokenizer), conv, backend, Settings(max_new_tokens=32))
    assert events[-1].trimmed_turns > 0 and len(backend.requests[0].prompt) <= 96
    bad = collect(ChatRuntime(tokenizer), conv, backend, Settings(max_new_tokens=200))
    assert bad[-1].stop_reason == "context" and bad[-1].done and len(bad) == 1
    assert bad[-1].error == "max_new_tokens (200) must leave room for a prompt in the context window (128 tokens)"
    edge = collect(ChatRuntime(tokenizer), conv, backend, Settings(max_new_tokens=126))
    assert edge[-1].stop_reason == "context" and "must leave room" in edge[-1].error


def test_a_backend_that_ends_early_is_an_error(tokenizer):
    events = collect(ChatRuntime(tokenizer), chat(), ScriptedBackend([HELLO]), Settings())
    assert events[-1].stop_reason == "error" and "without a reason" in events[-1].error


def test_events_serialize_to_json(tokenizer):
    import json

    events = collect(ChatRuntime(tokenizer), chat(), ScriptedBackend([[t] for t in HELLO] + [[50256]]),
                     Settings(seed=1))
    data = json.loads(json.dumps(events[-1].to_dict()))
    assert data["done"] and data["stop_reason"] == "eot" and data["text"] == "Hello there."
    assert data["origin"] == "device" and data["stats"]["seed"] == 1
