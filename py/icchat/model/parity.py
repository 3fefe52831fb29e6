"""Teacher-forced decoding in each runtime, to compare their logits step by step.

Every runner feeds the same prompt (past length 0), then the same fixed tokens one at a time
through the KV cache, and returns the logits of every prompt position and of every step:
shape (len(prompt) + len(steps), vocab). Comparing rows tells how far a variant drifts.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from icchat.paths import REPO

ORT_WEB_SCRIPT = Path(__file__).with_name("ort_web_decode.mjs")


def torch_logits(model: Any, prompt: Sequence[int], steps: Sequence[int]) -> np.ndarray:
    import torch

    rows, past = [], None
    with torch.no_grad():
        for ids in [list(prompt), *([t] for t in steps)]:
            out = model(torch.tensor([ids]), past_key_values=past, use_cache=True)
            past = out.past_key_values
            rows.extend(out.logits[0].float().numpy())
    return np.stack(rows)


def onnx_logits(path: Path, prompt: Sequence[int], steps: Sequence[int], threads: int = 1,
                ) -> tuple[np.ndarray, list[float]]:
    """Native onnxruntime (CPU); also returns milliseconds per run."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    past_inputs = [i for i in session.get_inputs() if i.name.startswith("past_key_values.")]
    heads, head_dim = past_inputs[0].shape[1], past_inputs[0].shape[3]
    past = {i.name: np.zeros((1, heads, 0, head_dim), np.float32) for i in past_inputs}
    outputs = [o.name for o in session.get_outputs()]
    rows, ms, length = [], [], 0
    for ids in [list(prompt), *([t] for t in steps)]:
        feeds = {
            "input_ids": np.array([ids], np.int64),
            "attention_mask": np.ones((1, length + len(ids)), np.int64),
            "position_ids": np.arange(length, length + len(ids), dtype=np.int64)[None],
            **past,
        }
        start = time.perf_counter()
        result = dict(zip(outputs, session.run(outputs, feeds), strict=True))
        ms.append((time.perf_counter() - start) * 1e3)
        rows.extend(result["logits"][0])
        past = {name: result[name.replace("past_key_values", "present")] for name in past}
        length += len(ids)
    return np.stack(rows), ms


def onnx_web_logits(path: Path, prompt: Sequence[int], steps: Sequence[int], threads: int = 1,
                    ) -> tuple[np.ndarray, list[float]]:
    """onnxruntime-web's WASM backend under Node (the page's runtime)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "logits.f32"
        spec = json.dumps({"prompt": list(prompt), "steps": list(steps), "threads": threads})
        proc = subprocess.run(["node", str(ORT_WEB_SCRIPT), str(Path(path).resolve()), str(out), spec],
                              cwd=REPO, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"onnxruntime-web failed on {path.name}: {proc.stderr.strip()[-1500:]}")
        logits = np.fromfile(out, dtype="<f4").reshape(len(prompt) + len(steps), -1)
    return logits, json.loads(proc.stdout)["ms_per_run"]


def top1_agreement(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(a.argmax(-1) == b.argmax(-1)))


def max_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b)))


def mean_cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Mean cosine similarity of centred logit rows (softmax ignores a constant shift)."""
    a = a - a.mean(-1, keepdims=True)
    b = b - b.mean(-1, keepdims=True)
    return float(np.mean(np.sum(a * b, -1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))))
