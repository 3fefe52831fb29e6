"""Host-only GPT-2 backend: native onnxruntime in CPython behind icchat.chat's Backend seam.

Same decoding as icchat.chat.device.OnnxWebBackend (prompt in chunks, then one token per run,
KV cache fed back) and the same sampler, with numpy finding the candidates, so tests and
benchmarks can compare the two token for token.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np

from icchat.chat.backend import BackendError, GenerateRequest, TokenBatch
from icchat.chat.device import PROMPT_CHUNK
from icchat.chat.sampling import SplitMix64, choose_token
from icchat.model.manifest import find_file, read_manifest


class NumpyLogits:
    """One row of logits in numpy (see icchat.chat.sampling.Logits for the order)."""

    def __init__(self, row: np.ndarray) -> None:
        self.row = np.where(np.isnan(row), -np.inf, row).astype(np.float32)
        self.n_vocab = int(row.shape[0])

    def argmax(self) -> int:
        return int(np.argmax(self.row))  # the first maximum

    def top(self, k: int) -> list[tuple[int, float]]:
        k = max(1, min(k, self.n_vocab))
        return [(int(i), float(self.row[i])) for i in self.order(k)]

    def order(self, k: int) -> np.ndarray:
        """The top k ids in candidate order (value descending, ties by id)."""
        row = self.row
        if k < self.n_vocab:  # everything >= the k-th value, then the exact order
            kth = np.partition(row, self.n_vocab - k)[self.n_vocab - k]
            ids = np.flatnonzero(row >= kth)
        else:
            ids = np.arange(self.n_vocab)
        return ids[np.lexsort((ids, -row[ids].astype(np.float64)))][:k]

    def sample(self, k: int, temperature: float, top_p: float, u: float) -> int:
        """icchat.chat.sampling's steps 2-4 with sequential sums (np.cumsum, never np.sum)."""
        k = max(1, min(k, self.n_vocab))
        order = self.order(k) if k < self.n_vocab or top_p < 1.0 else None
        members = np.arange(self.n_vocab) if order is None else np.sort(order)
        first = int(order[0]) if order is not None else self.argmax()
        top = float(self.row[first])
        if not np.isfinite(top):
            return first
        inverse = 1.0 / temperature
        weights = np.exp((self.row[members].astype(np.float64) - top) * inverse)
        sums = np.cumsum(weights)
        if top_p >= 1.0:
            return int(members[min(int(np.searchsorted(sums, u * sums[-1], "right")), k - 1)])
        by_rank = np.cumsum(weights[np.searchsorted(members, order)])
        reached = np.flatnonzero(by_rank >= top_p * sums[-1])
        kept = int(reached[0]) + 1 if reached.size else k
        j = int(np.searchsorted(by_rank[:kept], u * by_rank[kept - 1], "right"))
        return int(order[min(j, kept - 1)])


class NativeOnnxBackend:
    """A Backend over an onnxruntime InferenceSession of a bundle's decoder."""

    def __init__(self, onnx_path: Path, n_ctx: int, threads: int = 1, label: str = "device") -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        self.label, self.n_ctx = label, n_ctx
        self.past_inputs = [i for i in self.session.get_inputs() if i.name.startswith("past_key_values.")]
        self.outputs = [o.name for o in self.session.get_outputs()]

    @classmethod
    def from_bundle(cls, bundle: Path, variant: str = "q8", threads: int = 1) -> NativeOnnxBackend:
        manifest = read_manifest(bundle)
        path = Path(bundle) / find_file(manifest, "onnx-decoder", variant)
        return cls(path, int(manifest["model"]["n_ctx"]), threads)

    def run(self, ids: list[int], position: int, past: dict[str, np.ndarray]
            ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        feeds = {
            "input_ids": np.array([ids], np.int64),
            "attention_mask": np.ones((1, position + len(ids)), np.int64),
            "position_ids": np.arange(position, position + len(ids), dtype=np.int64)[None],
            **past,
        }
        result = dict(zip(self.outputs, self.session.run(self.outputs, feeds), strict=True))
        present = {i.name: result[i.name.replace("past_key_values", "present")] for i in self.past_inputs}
        return result["logits"][0, -1], present

    async def generate(self, request: GenerateRequest) -> AsyncIterator[TokenBatch]:
        prompt, settings = request.prompt, request.settings
        if len(prompt) + request.max_new_tokens > self.n_ctx:
            raise BackendError(f"prompt ({len(prompt)} tokens) + max_new_tokens "
                               f"({request.max_new_tokens}) exceeds the context of {self.n_ctx}")
        rng = SplitMix64(settings.seed if settings.seed is not None else 0)
        shape = self.past_inputs[0].shape
        past = {i.name: np.zeros((1, shape[1], 0, shape[3]), np.float32) for i in self.past_inputs}
        position, run_ms, row = 0, 0.0, None
        tick = time.perf_counter()
        while position < len(prompt):
            if request.cancelled():
                return
            chunk = prompt[position:position + PROMPT_CHUNK]
            start = time.perf_counter()
            row, past = self.run(chunk, position, past)
            run_ms += (time.perf_counter() - start) * 1000.0
            position += len(chunk)
        for produced in range(request.max_new_tokens):
            start = time.perf_counter()
            token = choose_token(NumpyLogits(row), settings, rng)
            now = time.perf_counter()
            yield TokenBatch([token], {"python_ms": (now - tick) * 1000.0 - run_ms, "run_ms": run_ms,
                                       "sample_ms": (now - start) * 1000.0})
            if token in request.stop_tokens or produced + 1 == request.max_new_tokens:
                return
            if request.cancelled():
                return
            tick = start = time.perf_counter()
            row, past = self.run([token], position, past)
            run_ms = (time.perf_counter() - start) * 1000.0
            position += 1
