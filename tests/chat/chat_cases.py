"""Cases run identically in CPython and in Pyodide (stdlib only; the backend and the logits
container are handed in), so tests/chat/test_chat_pyodide.py can compare the two token for token."""

from __future__ import annotations

from array import array
from collections.abc import Callable
from typing import Any

from icchat.chat import ChatRuntime, Conversation, Logits, Settings, SplitMix64, choose_token

SAMPLER_SETTINGS = [  # top_k, top_p, temperature: the small-k Python path and the large-k kernels
    {"temperature": 0.0, "top_k": 40, "top_p": 1.0},
    {"temperature": 1.0, "top_k": 1, "top_p": 1.0},
    {"temperature": 0.8, "top_k": 40, "top_p": 0.95},
    {"temperature": 1.3, "top_k": 256, "top_p": 1.0},
    {"temperature": 1.0, "top_k": 0, "top_p": 1.0},
    {"temperature": 0.7, "top_k": 0, "top_p": 0.9},
    {"temperature": 0.3, "top_k": 0, "top_p": 0.8},  # a peaked distribution: the nucleus prefix path
    {"temperature": 1.0, "top_k": 1000, "top_p": 0.8},
]

CHAT = [{"role": "user", "text": "Hello! Who are you, and what can you do?"},
        {"role": "assistant", "text": "I am a small language model running in your browser."},
        {"role": "user", "text": "Tell me a story about a canister."}]

REPLY_SETTINGS = [
    {"temperature": 0.0, "top_k": 0, "top_p": 1.0, "max_new_tokens": 24, "seed": 0},
    {"temperature": 0.9, "top_k": 40, "top_p": 0.95, "max_new_tokens": 24, "seed": 7},
    {"temperature": 1.0, "top_k": 0, "top_p": 1.0, "max_new_tokens": 24, "seed": 3},
]


def logit_rows(n: int, rows: int, seed: int = 2024) -> list[array]:
    """Float32 logit vectors with many exact ties (multiples of 1/8) and a NaN."""
    rng = SplitMix64(seed)
    out = []
    for _ in range(rows):
        row = array("f", [round((rng.uniform() * 2 - 1) * 48) / 8 for _ in range(n)])
        row[3] = float("nan")
        out.append(row)
    return out


def sampler_tokens(rows: list[array], make_logits: Callable[[array], Logits]) -> list[list[int]]:
    """For each setting, one token per row from one seeded generator."""
    result = []
    for i, spec in enumerate(SAMPLER_SETTINGS):
        settings, rng = Settings(**spec), SplitMix64(100 + i)
        result.append([choose_token(make_logits(row), settings, rng) for row in rows for _ in range(3)])
    return result


async def reply_tokens(runtime: ChatRuntime, backend: Any) -> list[dict[str, Any]]:
    results = []
    for spec in REPLY_SETTINGS:
        tokens: list[int] = []
        async for event in runtime.reply(Conversation.from_dict({"messages": CHAT}), backend,
                                         Settings.from_dict(spec)):
            tokens += event.tokens
        results.append({"tokens": tokens, "stop_reason": event.stop_reason, "stats": event.stats})
    return results


async def cancelled_reply(runtime: ChatRuntime, backend: Any, after: int = 3) -> dict[str, Any]:
    """A long sampled reply whose stop button is pressed once `after` tokens have arrived."""
    seen: list[int] = []
    settings = Settings(temperature=1.0, top_k=0, top_p=1.0, max_new_tokens=200, seed=5)
    async for event in runtime.reply(Conversation.from_dict({"messages": CHAT}), backend, settings,
                                     lambda: len(seen) >= after):
        seen.extend(event.tokens)
    return {"tokens": seen, "stop_reason": event.stop_reason, "new_tokens": event.stats["new_tokens"]}


async def failing_replies(runtime: ChatRuntime, make_backend: Callable[..., Any]) -> dict[str, Any]:
    """Bad models end the reply with a one-line reason instead of an exception."""
    out: dict[str, Any] = {}
    try:
        await make_backend(b"this is not an onnx file")
    except Exception as exc:
        out["load"] = f"{type(exc).__name__}: {exc}"
    backend = await make_backend(None, n_layer_delta=-1)  # the cache feeds do not match the graph
    events = [e async for e in runtime.reply(Conversation.from_dict({"messages": CHAT}), backend,
                                             Settings(seed=1))]
    last = events[-1]
    out["run"] = {"stop_reason": last.stop_reason, "error": last.error, "done": last.done}
    return out
