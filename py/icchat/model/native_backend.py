"""Host-only GPT-2 on native onnxruntime in CPython: an engine with the decoder shape
(icchat.chat.device), so the chat runs on it exactly as on the page's engines.

NativeOnnxEngine keeps the KV cache in numpy (feeding at pos slices it to pos, like
web/ort-engine.mjs) and chooses tokens with the gpt2 canister's sampler, its C compiled as
onnxruntime-web's engine runs it (icchat.model.c_sampler), so tests and benchmarks can compare it
token for token with onnxruntime-web and the icchat engine.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from icchat.chat.device import DeviceBackend
from icchat.model.c_sampler import CSampler
from icchat.model.manifest import find_file, read_manifest


@functools.cache
def _sampler() -> CSampler:
    """One sampler instance for every engine of this process (made on the first token)."""
    return CSampler()


class NativeOnnxEngine:
    """An onnxruntime InferenceSession of a bundle's decoder, as an engine."""

    batch_invariant = False  # int8 models quantize each run's activations as a whole (icchat.chat.device)

    def __init__(self, onnx_path: Path, threads: int = 1) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        self.past_inputs = [i for i in self.session.get_inputs() if i.name.startswith("past_key_values.")]
        self.outputs = [o.name for o in self.session.get_outputs()]
        self.past = self.empty_past()
        self.last: np.ndarray | None = None  # the last fed position's logits, until next() consumes them

    def empty_past(self) -> dict[str, np.ndarray]:
        shape = self.past_inputs[0].shape
        return {i.name: np.zeros((1, shape[1], 0, shape[3]), np.float32) for i in self.past_inputs}

    def run(self, ids: list[int], position: int, past: dict[str, np.ndarray]
            ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """One session run: (the last position's logits, the present keys and values)."""
        feeds = {
            "input_ids": np.array([ids], np.int64),
            "attention_mask": np.ones((1, position + len(ids)), np.int64),
            "position_ids": np.arange(position, position + len(ids), dtype=np.int64)[None],
            **past,
        }
        result = dict(zip(self.outputs, self.session.run(self.outputs, feeds), strict=True))
        present = {i.name: result[i.name.replace("past_key_values", "present")] for i in self.past_inputs}
        return result["logits"][0, -1], present

    @property
    def held(self) -> int:
        return int(next(iter(self.past.values())).shape[2])

    def forward(self, tokens: list[int], pos: int) -> None:
        """Feed tokens at positions pos..; what was held from pos on is dropped."""
        self.last = None
        if pos > self.held:
            raise ValueError(f"position {pos} is past the {self.held} tokens fed so far")
        kept = {name: tensor[:, :, :pos] for name, tensor in self.past.items()}
        self.last, self.past = self.run(list(tokens), pos, kept)

    def next(self, temperature: float, top_k: int, top_p: float, seed: str, position: int) -> int:
        if self.last is None:
            raise ValueError("no logits: feed a token first")
        token = _sampler().next_token(self.last, temperature, top_k, top_p, int(seed), position)
        self.last = None
        return token


class NativeOnnxBackend(DeviceBackend):
    """The chat's Backend over a NativeOnnxEngine."""

    def __init__(self, onnx_path: Path, n_ctx: int, threads: int = 1, label: str = "device") -> None:
        super().__init__(NativeOnnxEngine(onnx_path, threads), n_ctx, label)

    @classmethod
    def from_bundle(cls, bundle: Path, variant: str = "q8", threads: int = 1) -> NativeOnnxBackend:
        manifest = read_manifest(bundle)
        path = Path(bundle) / find_file(manifest, "onnx-decoder", variant)
        return cls(path, int(manifest["model"]["n_ctx"]), threads)
