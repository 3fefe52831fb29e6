"""Cases run identically in CPython and in Pyodide (stdlib only; the backend and the sampler are
handed in), so tests/chat/test_chat_pyodide.py can compare the two token for token."""

from __future__ import annotations

from array import array
from collections.abc import Callable
from typing import Any

from icchat.chat import ChatRuntime, Conversation, Settings, draw_at

SAMPLER_SETTINGS = [
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
    out = []
    for r in range(rows):
        row = array("f", [round((draw_at(seed, r * n + i) * 2 - 1) * 48) / 8 for i in range(n)])
        row[3] = float("nan")
        out.append(row)
    return out


Choose = Callable[[array, float, int, float, int, int], int]  # (logits, temperature, top_k, top_p, seed, position)


def sampler_tokens(rows: list[array], choose: Choose) -> list[list[int]]:
    """For each setting, the tokens at three positions of each row, one seed per setting."""
    return [[choose(row, spec["temperature"], spec["top_k"], spec["top_p"], 100 + i, position)
             for row in rows for position in (0, 1, 2)] for i, spec in enumerate(SAMPLER_SETTINGS)]


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


async def failing_replies(runtime: ChatRuntime, load_bad_model: Callable[[], Any],
                          failing_backend: Any) -> dict[str, Any]:
    """A file that is not a model is refused with a one-line reason; an engine that fails in a
    reply ends it with one instead of an exception."""
    out: dict[str, Any] = {}
    try:
        await load_bad_model()
    except Exception as exc:
        out["load"] = str(exc)
    events = [e async for e in runtime.reply(Conversation.from_dict({"messages": CHAT}), failing_backend,
                                             Settings(seed=1))]
    last = events[-1]
    out["run"] = {"stop_reason": last.stop_reason, "error": last.error, "done": last.done}
    return out
