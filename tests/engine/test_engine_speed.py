"""icchat.chat.speed (the page's "auto" engine measurement) on the real engine module in
wasmtime: a per-token figure from a fixed greedy decode, None when a user's message interrupts,
and the engine still answering the conversation's tokens afterwards."""

from __future__ import annotations

import pytest
from engine_wasmtime import WasmtimeEngine
from test_engine_wasm import PROMPT, collect, run_async

from icchat.chat import speed
from icchat.chat.backend import BackendError
from icchat.chat.device import DeviceBackend
from icchat.chat.settings import Settings


@pytest.fixture
def backend(engine_wasm, weight_files):
    return DeviceBackend(WasmtimeEngine(engine_wasm, weight_files["q8"].read_bytes()), n_ctx=128)


def test_a_full_measurement_gives_milliseconds_per_token(backend):
    ms = run_async(speed.step_ms(backend))
    assert isinstance(ms, float) and 0 < ms < 10_000
    # what the engine was fed is the probe's prompt and its greedy tokens: nothing else
    assert backend.fed[:speed.PROMPT_TOKENS] == speed.probe_prompt()
    assert len(backend.fed) == speed.PROMPT_TOKENS + speed.STEPS - 1


def test_an_interrupted_measurement_gives_none_and_the_chat_is_unharmed(backend, engine_wasm, weight_files):
    steps: list[int] = []

    def cancelled() -> bool:
        steps.append(1)
        return len(steps) > 5  # a message arrived a few tokens in

    assert run_async(speed.step_ms(backend, cancelled=cancelled)) is None
    settings = Settings(temperature=0.0, max_new_tokens=8)
    fresh = DeviceBackend(WasmtimeEngine(engine_wasm, weight_files["q8"].read_bytes()), n_ctx=128)
    assert run_async(collect(backend, PROMPT, settings, 8)) == run_async(collect(fresh, PROMPT, settings, 8))


def test_a_context_too_short_to_measure_is_a_clear_error(engine_wasm, weight_files):
    short = DeviceBackend(WasmtimeEngine(engine_wasm, weight_files["q8"].read_bytes()), n_ctx=20)
    with pytest.raises(BackendError, match="too short to measure"):
        run_async(speed.step_ms(short))
    with pytest.raises(ValueError, match="steps must be more than"):
        run_async(speed.step_ms(short, steps=2))
