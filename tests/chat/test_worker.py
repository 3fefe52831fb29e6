"""icchat.chat.worker.ChatWorker, the page worker's Python half, in CPython on real parts: the real
tokenizer, the icchat engine module in wasmtime as the device, the gpt2 canister in the
in-process replica onchain. Its messages are web/protocol.mjs's `delta`, `done` and `error`. And
its JS boundary, JsChatWorker, in Pyodide under Node (tests/chat/pyodide_worker.mjs)."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from test_onchain import ReplicaGpt2Client

from icchat.build.engine import build_engine_wasm
from icchat.build.gpt2 import build_gpt2_wasm
from icchat.chat import ChatRuntime, Conversation, Message, Settings, SettingsError, speed
from icchat.chat.device import DeviceBackend
from icchat.chat.runtime import tokens_per_s
from icchat.chat.worker import ChatWorker
from icchat.gpt2_canister import Gpt2Canister
from icchat.model.seeded_weights import seeded_weight_file
from icchat.replica import Replica

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine"))
from engine_wasmtime import WasmtimeEngine  # tests/engine's runner of the real module

N_CTX = 1024  # the tiny model's context window
CONVERSATION = {"messages": [{"role": "user", "text": "Hello there, how are you today?"},
                             {"role": "assistant", "text": "Fine, thanks.", "origin": "device"},
                             {"role": "user", "text": "Tell me about canisters."}]}
LONG = {"messages": [{"role": "user", "text": "word " * 1500}]}  # > N_CTX tokens
SETTINGS = {"temperature": 0.8, "top_k": 40, "top_p": 0.95, "max_new_tokens": 24, "seed": 7}


@pytest.fixture(scope="module")
def weights() -> bytes:
    return seeded_weight_file("tiny", 0, "f32").read_bytes()


@pytest.fixture(scope="module")
def engine_wasm() -> Path:
    return build_engine_wasm(relaxed=False)


@pytest.fixture
def worker(tokenizer, engine_wasm, weights) -> ChatWorker:
    chat = ChatWorker(tokenizer, N_CTX)
    chat.use_engine(WasmtimeEngine(engine_wasm, weights))
    return chat


@pytest.fixture(scope="module")
def canister(weights):
    with Replica() as replica:
        installed = Gpt2Canister.install(replica, build_gpt2_wasm().read_bytes())
        installed.upload(seeded_weight_file("tiny", 0, "f32"))
        yield installed


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


async def messages(worker: ChatWorker, backend: str = "device", settings: dict[str, Any] = SETTINGS,
                   conversation: dict[str, Any] = CONVERSATION, **options: Any) -> list[dict[str, Any]]:
    return [m async for m in worker.reply("r1", conversation, settings, backend, **options)]


def tokens_of(replies: list[dict[str, Any]]) -> list[int]:
    return [t for m in replies if m["type"] == "delta" for t in m["tokens"]]


def test_a_device_reply_is_deltas_then_done_with_the_runtimes_tokens(worker, tokenizer, engine_wasm, weights):
    replies = run(messages(worker))
    assert [m["type"] for m in replies[:-1]] == ["delta"] * (len(replies) - 1)
    done = replies[-1]
    assert done["type"] == "done" and done["id"] == "r1" and done["origin"] == "device"
    assert set(done) == {"type", "id", "text", "origin", "stop_reason", "trimmed_turns", "trimmed_tokens", "stats"}
    assert all(set(m) == {"type", "id", "text_delta", "tokens", "stats"} for m in replies[:-1])
    assert done["stop_reason"] in ("eot", "stop_string", "max_tokens")
    assert done["text"] == "".join(m["text_delta"] for m in replies[:-1]).strip()
    # the same tokens as the chat runtime on the same engine straight (the worker adds nothing)
    runtime = ChatRuntime(tokenizer)
    direct = DeviceBackend(WasmtimeEngine(engine_wasm, weights), N_CTX)

    async def straight() -> list[int]:
        return [t async for e in runtime.reply(Conversation.from_dict(CONVERSATION), direct,
                                               Settings.from_dict(SETTINGS)) for t in e.tokens]
    assert tokens_of(replies) == run(straight())
    assert done["stats"]["new_tokens"] == len(tokens_of(replies)) > 0


def test_tokens_per_s_is_the_one_figure_tokens_over_seconds(worker):
    stats = run(messages(worker))[-1]["stats"]
    assert stats["tokens_per_s"] == tokens_per_s(stats["new_tokens"], stats["seconds"]) > 0
    assert "decode_tokens_per_s" not in stats
    assert tokens_per_s(0, 1.0) == 0.0 and tokens_per_s(3, 0.0) == 0.0


def test_the_device_and_the_gpt2_canister_write_the_same_reply(worker, canister):
    worker.use_onchain(ReplicaGpt2Client(canister), None)
    device = run(messages(worker))
    for backend in ("onchain-fast", "onchain-verified"):
        onchain = run(messages(worker, backend))
        assert onchain[-1]["type"] == "done" and onchain[-1]["origin"] == backend
        assert tokens_of(onchain) == tokens_of(device)
        assert onchain[-1]["text"] == device[-1]["text"]
        assert onchain[-1]["stats"]["calls"] >= 1


def test_a_stop_ends_the_reply_within_one_token(worker):
    seen: list[dict[str, Any]] = []

    async def stopped_after_two() -> list[dict[str, Any]]:
        async for m in worker.reply("r2", CONVERSATION, {**SETTINGS, "temperature": 0.0, "max_new_tokens": 40},
                                    "device", lambda: len(seen) >= 2):
            seen.append(m)
        return seen
    replies = run(stopped_after_two())
    assert replies[-1]["type"] == "done" and replies[-1]["stop_reason"] == "cancelled"
    assert len(tokens_of(replies)) <= 3


def test_a_device_failure_is_an_error_message_not_an_exception(tokenizer, engine_wasm, weights):
    # told a larger context than the engine's own, the engine refuses the long prompt
    chat = ChatWorker(tokenizer, 4 * N_CTX)
    chat.use_engine(WasmtimeEngine(engine_wasm, weights))
    replies = run(messages(chat, conversation=LONG))
    error = replies[-1]
    assert error["type"] == "error" and error["kind"] == "generate" and error["id"] == "r1"
    assert error["fatal"] is False and error["during"] == "generate"
    assert "icchat engine" in error["message"] or "context" in error["message"]


def test_an_onchain_failure_is_kind_onchain_with_the_canisters_reason(tokenizer, canister):
    chat = ChatWorker(tokenizer, 4 * N_CTX)  # more than the canister's context: it rejects the call
    chat.use_onchain(ReplicaGpt2Client(canister), None)
    error = run(messages(chat, "onchain-verified", conversation=LONG))[-1]
    assert error["type"] == "error" and error["kind"] == "onchain"
    assert error["message"].startswith("the gpt2 canister did not answer generate: ")


def test_what_cannot_answer_or_parse_is_refused_before_anything_is_written(worker):
    with pytest.raises(ValueError, match="onchain-fast are not available"):
        run(messages(worker, "onchain-fast"))
    with pytest.raises(SettingsError, match="unknown setting: topk"):
        run(messages(worker, settings={**SETTINGS, "topk": 3}))
    with pytest.raises(ValueError, match="messages"):
        run(messages(worker, conversation={"turns": []}))


def test_measure_times_a_backend_pauses_at_every_token_and_drop_forgets_it(worker, engine_wasm, weights):
    worker.use_engine(WasmtimeEngine(engine_wasm, weights), "probe-1")
    pauses: list[int] = []

    async def pause() -> None:
        pauses.append(1)
    ms = run(worker.measure("probe-1", pause=pause))
    assert isinstance(ms, float) and ms > 0
    assert len(pauses) == speed.STEPS
    assert run(worker.measure("probe-1", cancelled=lambda: len(pauses) > speed.STEPS + 3, pause=pause)) is None
    worker.drop("probe-1")
    assert set(worker.backends) == {"device"}
    with pytest.raises(ValueError, match="probe-1 are not available"):
        run(messages(worker, "probe-1"))


def test_a_message_added_to_the_conversation_answers_on(worker):
    first = run(messages(worker))[-1]
    conversation = Conversation.from_dict(CONVERSATION)
    conversation.add(Message("assistant", first["text"], "device")).add(Message("user", "And then?"))
    second = run(messages(worker, conversation=conversation.to_dict()))[-1]
    assert second["type"] == "done" and second["stats"]["prompt_tokens"] > first["stats"]["prompt_tokens"]


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node")
def test_web_protocol_lists_are_pythons():
    """web/protocol.mjs's lists, read by Node, name what ChatWorker sends and takes."""
    from icchat.chat.conversation import ORIGINS
    from icchat.chat.runtime import STOP_REASONS

    script = "import('./web/protocol.mjs').then((m) => console.log(JSON.stringify(m)))"
    protocol = json.loads(subprocess.run(["node", "-e", script], cwd=Path(__file__).resolve().parents[2], capture_output=True,
                                         text=True, check=True, timeout=60).stdout)
    assert protocol["STOP_REASONS"] == list(STOP_REASONS)
    assert protocol["BACKENDS"] == list(ORIGINS)
    assert {"delta", "done", "error"} <= set(protocol["TO_PAGE"])
    assert {"generate", "onchain"} <= set(protocol["ERROR_KINDS"])  # the kinds a reply's error has
    assert protocol["PRECISIONS"] == ["q8", "f32"]


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node")
def test_js_chat_worker_in_pyodide_takes_and_posts_plain_js_objects(tokenizer, engine_wasm, weights):
    """The JS boundary as web/worker.js uses it, in Pyodide under Node over web/engine.mjs: plain
    JS objects posted (not JSON strings), a pause after every delta, a stop within one token."""
    from icchat.build.web import ICCHAT_WHEEL_PARTS
    from icchat.model.vocab import ensure_tokenizer_dir

    root = Path(__file__).resolve().parents[2]
    package = root / "py" / "icchat"
    wheel = {f"icchat/{p.relative_to(package).as_posix()}": str(p) for part in ICCHAT_WHEEL_PARTS
             for p in ([package / part] if part.endswith(".py") else sorted((package / part).rglob("*.py")))}
    weight_file = seeded_weight_file("tiny", 0, "f32")
    done = subprocess.run(["node", str(Path(__file__).parent / "pyodide_worker.mjs"), json.dumps(wheel),
                           str(engine_wasm), str(weight_file), str(ensure_tokenizer_dir())],
                          capture_output=True, text=True, cwd=root, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout)
    assert out["plain"] is True
    whole = out["replies"]["whole"]
    assert whole[-1]["type"] == "done" and whole[-1]["id"] == "r1"
    assert out["pauses"] == sum(m["type"] == "delta" for m in whole) > 0
    # the same messages as ChatWorker's in CPython over the same engine module (wasmtime)
    chat = ChatWorker(tokenizer, N_CTX)
    chat.use_engine(WasmtimeEngine(engine_wasm, weights))
    cpython = run(messages(chat, conversation={"messages": [{"role": "user", "text": "Hello there, how are you today?"}]},
                           settings={"temperature": 0.8, "top_k": 40, "top_p": 0.95, "max_new_tokens": 16, "seed": 7}))
    assert tokens_of(whole) == tokens_of(cpython)
    assert whole[-1]["text"] == cpython[-1]["text"] and whole[-1]["stop_reason"] == cpython[-1]["stop_reason"]
    stopped = out["replies"]["stopped"]
    assert stopped[-1]["type"] == "done" and stopped[-1]["stop_reason"] == "cancelled"
    assert len(tokens_of(stopped)) == 2  # the stop posted after the second token landed before the third
    assert out["refused"] == "ValueError: answers computed onchain-fast are not available on this page"
    # the LLM service position through a JS route client: a plain request, one done, failures by kind
    service = out["service"]
    assert service["asked"][0] == {"method": "chat", "plain": True, "request": {
        "model": "m", "messages": [{"role": "user", "content": "Hello there, how are you today?"}]}}
    [done] = service["answered"]
    assert done["type"] == "done" and done["origin"] == "llm-service" and done["text"] == "An answer."
    assert done["stats"]["via"] == "endpoint 127.0.0.1:9" and done["stats"]["cycles"] == 12345
    assert [(m["type"], m["kind"]) for m in service["failed"]] == [("error", "refused"), ("error", "service")]
    assert service["failed"][0]["message"] == "LLM route inference is refused to this caller."
