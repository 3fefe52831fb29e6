"""End to end on the tiny bundle with native onnxruntime: the runtime's greedy reply equals a
plain argmax loop, sampling is seeded, and stop/trim behave on a real model."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from chat_helpers import collect

from icchat.chat import ChatRuntime, Conversation, Message, Settings
from icchat.model.manifest import find_file, read_manifest
from icchat.model.native_backend import NativeOnnxBackend

LONG_CHAT = [  # > 128 prompt tokens, so the prompt goes in several chunks
    Message("user", "Tell me about the Internet Computer and how canisters hold their state."),
    Message("assistant", "Canisters are WebAssembly modules with their own memory, run by a subnet."),
    Message("user", "Can one of them run GPT-2? Explain how the weights get there, step by step, "
                    "and how long an answer takes when every token is computed onchain."),
    Message("assistant", "Yes: the weights are uploaded in chunks and checked against a hash."),
    Message("user", "And in the browser? The page runs Python in WebAssembly, downloads the "
                    "model from a canister, checks every file's hash and then answers here."),
]


def argmax_loop(path, prompt: list[int], steps: int, stop: int) -> list[int]:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    past = {i.name: np.zeros((1, i.shape[1], 0, i.shape[3]), np.float32)
            for i in session.get_inputs() if i.name.startswith("past_key_values.")}
    names = [o.name for o in session.get_outputs()]
    ids, out_tokens = list(prompt), []
    for _ in range(steps):
        n = sum(v.shape[2] for v in list(past.values())[:1])
        feeds = {"input_ids": np.array([ids], np.int64),
                 "attention_mask": np.ones((1, n + len(ids)), np.int64),
                 "position_ids": np.arange(n, n + len(ids), dtype=np.int64)[None], **past}
        result = dict(zip(names, session.run(names, feeds), strict=True))
        token = int(np.argmax(result["logits"][0, -1]))
        out_tokens.append(token)
        if token == stop:
            break
        past = {k: result[k.replace("past_key_values", "present")] for k in past}
        ids = [token]
    return out_tokens


@pytest.fixture(scope="module")
def backends(tiny_bundle):
    return {v: NativeOnnxBackend.from_bundle(tiny_bundle, v) for v in ("f32", "q8")}


@pytest.mark.parametrize("variant", ["f32", "q8"])
def test_greedy_reply_equals_a_plain_argmax_loop(tokenizer, tiny_bundle, backends, variant):
    conversation = Conversation(LONG_CHAT)
    runtime = ChatRuntime(tokenizer)
    events = collect(runtime, conversation, backends[variant],
                     Settings(temperature=0, max_new_tokens=40))
    tokens = [t for e in events for t in e.tokens]
    prompt = runtime.build_prompt(conversation, 1024, 40).tokens
    assert len(prompt) > 128
    path = tiny_bundle / find_file(read_manifest(tiny_bundle), "onnx-decoder", variant)
    expected = argmax_loop(path, prompt, 40, tokenizer.eot_id)
    # the runtime may stop earlier, at a stop string; up to there the tokens are the same
    assert tokens == expected[:len(tokens)] and len(tokens) >= 1
    last = events[-1]
    assert last.stop_reason in ("max_tokens", "stop_string", "eot")
    assert last.stop_reason != "max_tokens" or tokens == expected
    assert last.stats["run_ms"] > 0 and last.stats["python_ms"] >= 0


def test_seeded_sampling_is_reproducible_on_the_model(tokenizer, backends):
    runtime = ChatRuntime(tokenizer)
    conv = Conversation([Message("user", "Hello, who are you?")])

    def reply(seed: int, **kw) -> list[int]:
        settings = Settings(temperature=1.0, top_k=kw.get("top_k", 40), top_p=kw.get("top_p", 0.95),
                            max_new_tokens=24, seed=seed)
        return [t for e in collect(runtime, conv, backends["q8"], settings) for t in e.tokens]

    assert reply(7) == reply(7)
    assert reply(7) != reply(8)
    assert reply(7, top_k=0, top_p=1.0) == reply(7, top_k=0, top_p=1.0)


def test_cancel_on_a_real_model_stops_within_one_token(tokenizer, backends):
    produced: list[int] = []
    events = collect(ChatRuntime(tokenizer), Conversation([Message("user", "Count with me")]),
                     backends["f32"], Settings(temperature=1.0, max_new_tokens=200, seed=1),
                     cancelled=lambda: len(produced) >= 5, on_event=lambda e: produced.extend(e.tokens))
    assert events[-1].stop_reason in ("cancelled", "stop_string", "eot")
    if events[-1].stop_reason == "cancelled":
        assert events[-1].stats["new_tokens"] <= 6


def test_a_new_reply_reuses_whole_runs_of_the_prefix_and_answers_as_a_fresh_engine(tokenizer, tiny_bundle,
                                                                                   backends):
    """onnxruntime's results depend on how tokens were batched (int8: each run's activations are
    quantized as a whole), so only the whole 64-token runs a fresh feed also makes are reused: the
    follow-up's sampled tokens are a fresh engine's, bit for bit."""
    runtime = ChatRuntime(tokenizer)
    settings = Settings(temperature=1.0, top_k=0, top_p=1.0, max_new_tokens=12, seed=3)
    first = collect(runtime, Conversation(LONG_CHAT), backends["q8"], settings)
    follow_up = Conversation([*LONG_CHAT, first[-1].message(), Message("user", "Go on.")])
    again = collect(runtime, follow_up, backends["q8"], settings)
    fresh = collect(runtime, follow_up, NativeOnnxBackend.from_bundle(tiny_bundle, "q8"), settings)
    reused = again[0].stats["reused"]
    assert reused >= 128 and reused % 64 == 0 and fresh[0].stats["reused"] == 0
    assert [t for e in again for t in e.tokens] == [t for e in fresh for t in e.tokens]
