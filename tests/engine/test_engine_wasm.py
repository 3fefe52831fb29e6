"""icchat-engine.wasm (the gpt2 canister's C model built for the browser) against the gpt2
canister itself on the same weight file: the same logits bit for bit, the same tokens."""

from __future__ import annotations

import asyncio
import concurrent.futures
import struct

import pytest
from engine_wasmtime import WasmtimeEngine

from icchat.chat.backend import BackendError, GenerateRequest
from icchat.chat.device import DeviceBackend
from icchat.chat.settings import Settings

PROMPT = [15496, 11, 616, 1438, 318, 257, 1332, 286, 262, 3992, 13]  # 11 tokens: a batch of 8 and 3 alone


def run_async(coroutine):
    """asyncio.run in a thread of its own: a Playwright session elsewhere in the same pytest run
    keeps an event loop running in the main thread."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def f32_bits(values):
    return struct.pack(f"<{len(values)}f", *values)


def engine_for(engine_wasm, weight_files, dtype):
    return WasmtimeEngine(engine_wasm, weight_files[dtype].read_bytes())


async def collect(backend, prompt, settings, max_new, stop=()):
    request = GenerateRequest(prompt, settings, list(stop), max_new)
    return [t for batch in [b async for b in backend.generate(request)] for t in batch.tokens]


@pytest.mark.parametrize("dtype", ["f32", "q8"])
def test_logits_equal_the_canisters_bit_for_bit(engine_wasm, weight_files, canisters, dtype):
    engine = engine_for(engine_wasm, weight_files, dtype)
    assert engine.info["q8"] == (dtype == "q8")
    engine.forward(PROMPT, 0)
    assert f32_bits(engine.logits()) == f32_bits(canisters[dtype].logits(PROMPT))
    # one more token fed on its own: the KV cache from the batch is the canister's too
    engine.forward([198], len(PROMPT))
    assert f32_bits(engine.logits()) == f32_bits(canisters[dtype].logits([*PROMPT, 198]))


SAMPLINGS = [
    dict(temperature=0.0, top_k=0, top_p=1.0, seed=0),
    dict(temperature=0.9, top_k=40, top_p=0.95, seed=12345),
    dict(temperature=1.3, top_k=0, top_p=1.0, seed=(1 << 64) - 7),  # a seed above 2^53 and 2^63
    dict(temperature=0.7, top_k=300, top_p=0.5, seed=42),
]


@pytest.mark.parametrize("dtype", ["f32", "q8"])
@pytest.mark.parametrize("sampling", SAMPLINGS, ids=lambda s: f"t{s['temperature']}-k{s['top_k']}-p{s['top_p']}")
def test_tokens_equal_the_canisters_generate(engine_wasm, weight_files, canisters, dtype, sampling):
    backend = DeviceBackend(engine_for(engine_wasm, weight_files, dtype), n_ctx=128)
    settings = Settings(max_new_tokens=12, **sampling)
    tokens = run_async(collect(backend, PROMPT, settings, 12))
    reply = canisters[dtype].generate(PROMPT, max_new_tokens=12, stop=[], **sampling)
    assert tokens == list(reply["tokens"])
    assert len(tokens) == 12


def test_a_stop_token_ends_the_answer_like_the_canister(engine_wasm, weight_files, canisters):
    backend = DeviceBackend(engine_for(engine_wasm, weight_files, "q8"), n_ctx=128)
    settings = Settings(temperature=0.0, max_new_tokens=12)
    first = run_async(collect(backend, PROMPT, settings, 12))
    stop = first[3]
    tokens = run_async(collect(backend, PROMPT, settings, 12, stop=[stop]))
    reply = canisters["q8"].generate(PROMPT, max_new_tokens=12, temperature=0.0, stop=[stop])
    assert tokens == list(reply["tokens"]) == first[:first.index(stop) + 1]


def test_bad_input_is_refused_and_loses_nothing(engine_wasm, weight_files):
    engine = engine_for(engine_wasm, weight_files, "q8")
    engine.forward(PROMPT, 0)
    good = engine.logits()
    with pytest.raises(ValueError, match="outside the vocabulary"):
        engine.forward([50257], 0)
    n_ctx = engine.info["n_ctx"]
    with pytest.raises(ValueError, match=f"do not fit the context of {n_ctx}"):
        engine.forward([1, 2], n_ctx - 1)
    with pytest.raises(ValueError, match="no logits"):
        engine.next(0.0, 0, 1.0, "0", 0)
    with pytest.raises(ValueError, match="top_p"):
        engine.forward([1], 0)
        engine.next(0.5, 0, 0.0, "0", 1)
    engine.forward(PROMPT, 0)
    assert engine.logits() == good


def test_a_bad_weight_file_gets_its_reason(engine_wasm, weight_files):
    data = bytearray(weight_files["q8"].read_bytes())
    with pytest.raises(ValueError, match="bad magic"):
        WasmtimeEngine(engine_wasm, b"not a model" * 30)
    with pytest.raises(ValueError, match="header says"):
        WasmtimeEngine(engine_wasm, bytes(data[:-64]))


def test_the_backend_refuses_a_prompt_that_does_not_fit(engine_wasm, weight_files):
    engine = engine_for(engine_wasm, weight_files, "q8")
    backend = DeviceBackend(engine, n_ctx=engine.info["n_ctx"])
    with pytest.raises(BackendError, match="exceeds the context"):
        run_async(collect(backend, list(range(1020)), Settings(max_new_tokens=16), 16))


def test_a_cancelled_answer_stops_within_one_token(engine_wasm, weight_files):
    backend = DeviceBackend(engine_for(engine_wasm, weight_files, "q8"), n_ctx=1024)
    produced: list[int] = []

    async def run() -> None:
        request = GenerateRequest(PROMPT, Settings(temperature=0.0, max_new_tokens=12), [], 12,
                                  cancelled=lambda: len(produced) >= 2)
        async for batch in backend.generate(request):
            produced.extend(batch.tokens)

    run_async(run())
    assert len(produced) == 2


def test_a_new_answer_reuses_the_conversations_prefix_and_keeps_the_canisters_tokens(engine_wasm, weight_files,
                                                                                       canisters):
    backend = DeviceBackend(engine_for(engine_wasm, weight_files, "q8"), n_ctx=1024)
    settings = Settings(temperature=0.9, top_k=40, top_p=0.95, seed=5, max_new_tokens=6)
    first = run_async(collect(backend, PROMPT, settings, 6))
    follow_up = [*PROMPT, *first[:4], 198, 464, 3290]  # the first answer (in part) and a new turn
    assert backend.reusable(follow_up) == len(PROMPT) + 4  # the engine fed PROMPT and 5 of the 6 tokens

    async def answer(prompt):
        request = GenerateRequest(prompt, settings, [], 6)
        batches = [b async for b in backend.generate(request)]
        return [t for b in batches for t in b.tokens], batches[0].stats["reused"]

    tokens, reused = run_async(answer(follow_up))
    assert reused == len(PROMPT) + 4
    assert tokens == list(canisters["q8"].generate(follow_up, max_new_tokens=6, stop=[], temperature=0.9, top_k=40,
                                                   top_p=0.95, seed=5)["tokens"])
    # a different conversation shares nothing and is fed from position 0
    other = [464, 3290, 11, 290]
    assert backend.reusable(other) == 0
    tokens, reused = run_async(answer(other))
    assert reused == 0
    assert tokens == list(canisters["q8"].generate(other, max_new_tokens=6, stop=[], temperature=0.9, top_k=40,
                                                   top_p=0.95, seed=5)["tokens"])


def test_the_relaxed_modules_two_q8_kernels_give_the_same_logits(weight_files):
    """A relaxed-SIMD module carries relaxed_dot and the widening product (web/engine.mjs times both
    and keeps the faster): the same logits bit for bit. A SIMD128 module has only the widening one."""
    from icchat.build.engine import build_engine_wasm

    weights = weight_files["q8"].read_bytes()
    runs = {}
    for kernel in (1, 0):
        engine = WasmtimeEngine(build_engine_wasm(relaxed=True), weights)
        assert engine.call("engine_q8_kernel", kernel) == 0
        assert engine.call("engine_q8_probe", 3) == 0
        engine.forward(PROMPT, 0)
        runs[kernel] = f32_bits(engine.logits())
    assert runs[0] == runs[1]
    plain = WasmtimeEngine(build_engine_wasm(relaxed=False), weights)
    assert plain.call("engine_q8_kernel", 1) == -1 and "no such q8 kernel" in plain.error()
    f32 = WasmtimeEngine(build_engine_wasm(relaxed=True), weight_files["f32"].read_bytes())
    assert f32.call("engine_q8_kernel", 1) == -1 and "no q8 model" in f32.error()
