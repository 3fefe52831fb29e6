"""ONE sampler: for the same logits, settings, seed and position, the gpt2 canister's C sampler
inside icchat-engine.wasm (both instruction sets), inside icchat-sampler.wasm as web/sampler.mjs
runs it for onnxruntime-web's engine and as host engines run it in wasmtime (icchat.model.c_sampler),
and its Python port (icchat.chat.sampling) choose the same token."""

from __future__ import annotations

import json
import math
import random
import shutil
import subprocess
from array import array
from pathlib import Path

import numpy as np
import pytest
from engine_wasmtime import WasmtimeEngine

from icchat.build.engine import build_sampler_wasm
from icchat.chat.sampling import next_token
from icchat.model.c_sampler import CSampler

HERE = Path(__file__).parent
N = 50257  # the tiny model's vocabulary (the engine samples over vocab_size logits): 50257 % 4 = 1, one scalar lane

SETTINGS = [  # temperature, top_k, top_p
    (0.0, 0, 1.0), (1.0, 0, 1.0), (0.8, 40, 0.95), (0.7, 0, 0.9), (1.3, 300, 0.5), (0.3, 0, 0.8),
    (2.0, 1, 1.0), (1.0, N, 1.0), (1.0, N - 1, 0.999), (100.0, 5, 1.0), (0.05, 0, 1.0),
    (1e-39, 0, 1.0),  # so close to 0 that 1 / temperature overflows float32: greedy
]
SEEDS_POSITIONS = [(0, 0), (12345, 7), ((1 << 64) - 7, 1023), ((1 << 63) + 1, (1 << 32) - 1)]


def logit_rows() -> list[array]:
    r = random.Random(26)
    gauss = array("f", (r.gauss(0.0, 2.0) for _ in range(N)))
    ties = array("f", (round(r.uniform(-6, 6) * 8) / 8 for _ in range(N)))  # many exact ties
    # a NaN in a lane hides the larger logits after it in that lane of its 16 (argmax's pmax)
    hidden = array("f", ties)
    hidden[32 + 1], hidden[32 + 5], hidden[100], hidden[N - 1] = math.nan, 9.0, 8.5, math.nan
    # one far ahead: the others' weights underflow (the SIMD lanes clamp to exp(-87), the
    # last, scalar lane gives 0) and rounding decides the scan
    peaked = array("f", [-150.0] * N)
    peaked[777], peaked[N - 1], peaked[9] = 10.0, -100.0, 9.5
    flat = array("f", [0.25] * N)  # every token tied
    inf = array("f", gauss)
    inf[0:N:3] = array("f", [-math.inf] * len(range(0, N, 3)))
    return [gauss, ties, hidden, peaked, flat, inf]


def cases() -> list[tuple]:
    out = []
    for row in range(len(logit_rows())):
        for i, (temperature, top_k, top_p) in enumerate(SETTINGS):
            seed, position = SEEDS_POSITIONS[(row + i) % len(SEEDS_POSITIONS)]
            out.append((row, temperature, top_k, top_p, seed, position))
    out += [(0, 1.0, 0, 1.0, seed, position) for seed, position in SEEDS_POSITIONS]
    out += [(0, -0.5, 0, 1.0, 1, 0), (0, 101.0, 0, 1.0, 1, 0), (0, 1.0, 0, 0.0, 1, 0), (0, 1.0, 0, 1.5, 1, 0)]
    return out


def c_tokens(engine_wasm, weight_file, rows, todo) -> list:
    engine = WasmtimeEngine(engine_wasm, weight_file.read_bytes())
    assert engine.info["vocab_size"] == N
    out = []
    for row, temperature, top_k, top_p, seed, position in todo:
        engine.forward([0], 0)  # the engine samples the logits it holds: overwrite them
        engine.memory.write(engine.store, rows[row].tobytes(), engine.call("engine_logits"))
        try:
            out.append(engine.next(temperature, top_k, top_p, str(seed), position))
        except ValueError as exc:
            out.append(str(exc))
    return out


def js_tokens(rows, todo, tmp_path) -> list:
    node = shutil.which("node")
    assert node, "node is needed for web/sampler.mjs"
    (tmp_path / "rows.f32").write_bytes(b"".join(row.tobytes() for row in rows))
    (tmp_path / "cases.json").write_text(json.dumps([[*c[:4], str(c[4]), c[5]] for c in todo]))
    done = subprocess.run([node, str(HERE / "sampler_tokens.mjs"), str(build_sampler_wasm()), str(tmp_path / "rows.f32"), str(N),
                           str(tmp_path / "cases.json")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def python_tokens(rows, todo, choose=next_token) -> list:
    out = []
    for row, temperature, top_k, top_p, seed, position in todo:
        try:
            out.append(choose(rows[row], temperature, top_k, top_p, seed, position))
        except ValueError as exc:
            out.append(str(exc))
    return out


def host_tokens(rows, todo) -> list:
    sampler = CSampler()
    return python_tokens([np.frombuffer(row, np.float32) for row in rows], todo, sampler.next_token)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    rows, todo = logit_rows(), cases()
    return (rows, todo, js_tokens(rows, todo, tmp_path_factory.mktemp("sampler")), python_tokens(rows, todo),
            host_tokens(rows, todo))


def test_c_js_and_python_choose_the_same_tokens(engine_wasm, weight_files, reference):
    rows, todo, js, python, host = reference
    c = c_tokens(engine_wasm, weight_files["f32"], rows, todo)
    assert js == c
    assert python == c
    assert host == c
    assert c[-4:] == ["temperature must be between 0 and 100"] * 2 + ["top_p must be greater than 0 and at most 1"] * 2
    chosen = [t for t in c if isinstance(t, int)]
    assert len(set(chosen)) > 10  # the cases really differ
    assert c[todo.index((3, 1.0, 0, 1.0, 0, 0))] in (777, 9)  # peaked: one of the two near the top

