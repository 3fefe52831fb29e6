"""On-device GPT-2: onnxruntime-web (WASM) driven from Python through Pyodide's FFI.

The KV cache never enters Python: each step's `present.{i}.key|value` output tensors (JS
objects behind JsProxy handles) are fed straight back as `past_key_values.{i}.*`, and the
previous step's tensors are disposed. Per token Python builds three small int64 tensors,
awaits `session.run`, and samples through web/kernels.mjs (argmax, top-k candidates, or the
whole sampling step for k > 256, over the logits in JS), so Python never loops over the
vocabulary. Importable in CPython: `js` is imported lazily.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

from icchat.chat.backend import BackendError, GenerateRequest, TokenBatch
from icchat.chat.sampling import SplitMix64, choose_token

PROMPT_CHUNK = 128  # prompt tokens per run: bounds the [1, T, vocab] logits output (~26 MB)


class JsLogits:
    """One position's logits inside a JS Float32Array (see `icchat.chat.sampling.Logits`)."""

    def __init__(self, kernels: Any, data: Any, offset: int, n_vocab: int) -> None:
        self.kernels, self.data, self.offset, self.n_vocab = kernels, data, offset, n_vocab

    def argmax(self) -> int:
        return int(self.kernels.argmax(self.data, self.offset, self.n_vocab))

    def top(self, k: int) -> list[tuple[int, float]]:
        flat = self.kernels.topk(self.data, self.offset, self.n_vocab, k)
        values = flat.to_py().tolist()
        return [(int(values[i]), values[i + 1]) for i in range(0, len(values), 2)]

    def sample(self, k: int, temperature: float, top_p: float, u: float) -> int:
        return int(self.kernels.sample(self.data, self.offset, self.n_vocab, k, temperature, top_p, u))


class OnnxWebBackend:
    """A `Backend` over an `ort.InferenceSession` of a bundle's decoder (docs/model-bundle.md).

    session: the InferenceSession (JsProxy). dims: the manifest's "model" entry or config.json
    (n_layer, n_head, n_embd, n_ctx or n_positions, vocab_size). kernels: the web/kernels.mjs
    module (JsProxy). ort: the onnxruntime-web module (default: `js.ort`).
    """

    label = "device"

    def __init__(self, session: Any, dims: Mapping[str, Any], kernels: Any, ort: Any = None,
                 label: str = "device") -> None:
        import js

        self.js = js
        self.session, self.kernels = session, kernels
        self.ort = ort if ort is not None else js.ort
        self.label = label
        self.n_layer = int(dims["n_layer"])
        self.n_head = int(dims["n_head"])
        self.head_dim = int(dims["n_embd"]) // self.n_head
        self.n_ctx = int(dims.get("n_ctx") or dims["n_positions"])
        self.n_vocab = int(dims["vocab_size"])
        self.past_names = [f"past_key_values.{i}.{kv}" for i in range(self.n_layer)
                           for kv in ("key", "value")]
        self.present_names = [n.replace("past_key_values", "present") for n in self.past_names]

    @classmethod
    async def create(cls, model: Any, dims: Mapping[str, Any], kernels: Any, ort: Any = None,
                     options: Mapping[str, Any] | None = None, label: str = "device") -> OnnxWebBackend:
        """Create the session from the ONNX file's bytes (Python bytes or a JS Uint8Array)."""
        import js
        from pyodide.ffi import to_js

        ort = ort if ort is not None else js.ort
        data = to_js(model) if isinstance(model, (bytes, bytearray, memoryview)) else model
        opts = to_js(dict(options or {}), dict_converter=js.Object.fromEntries)
        try:
            session = await ort.InferenceSession.create(data, opts)
        except Exception as exc:
            raise BackendError(f"onnxruntime-web could not load the model: {exc}") from None
        return cls(session, dims, kernels, ort, label)

    def _int64(self, values: list[int], dims: list[int]) -> Any:
        from pyodide.ffi import to_js

        array = self.js.BigInt64Array.from_(to_js(values), self.js.BigInt)
        return self.ort.Tensor.new("int64", array, to_js(dims))

    def _ones(self, n: int) -> Any:
        from pyodide.ffi import to_js

        array = self.js.BigInt64Array.new(n).fill(self.js.BigInt(1))
        return self.ort.Tensor.new("int64", array, to_js([1, n]))

    def _empty_past(self) -> list[Any]:
        from pyodide.ffi import to_js

        shape = to_js([1, self.n_head, 0, self.head_dim])
        return [self.ort.Tensor.new("float32", self.js.Float32Array.new(0), shape)
                for _ in self.past_names]

    async def _run(self, ids: list[int], position: int, past: list[Any]) -> tuple[Any, list[Any], float]:
        """One forward pass; returns (logits tensor, present tensors, ms in session.run)."""
        from pyodide.ffi import to_js

        inputs = [self._int64(ids, [1, len(ids)]), self._ones(position + len(ids)),
                  self._int64(list(range(position, position + len(ids))), [1, len(ids)])]
        feeds = dict(zip(("input_ids", "attention_mask", "position_ids"), inputs, strict=True))
        feeds.update(zip(self.past_names, past, strict=True))
        start = time.perf_counter()
        try:
            out = await self.session.run(to_js(feeds, dict_converter=self.js.Object.fromEntries))
        except Exception as exc:
            raise BackendError(f"onnxruntime-web failed: {exc}") from None
        finally:
            for tensor in inputs:
                _release(tensor)
        run_ms = (time.perf_counter() - start) * 1000.0
        outputs = out.to_py(depth=1)
        return outputs["logits"], [outputs[n] for n in self.present_names], run_ms

    async def generate(self, request: GenerateRequest) -> AsyncIterator[TokenBatch]:
        """The prompt in chunks of PROMPT_CHUNK, then one token per run; `cancelled` is checked
        before every run, so a stop takes effect within one token."""
        prompt, settings = request.prompt, request.settings
        if not prompt:
            raise BackendError("the prompt is empty")
        if len(prompt) + request.max_new_tokens > self.n_ctx:
            raise BackendError(f"prompt ({len(prompt)} tokens) + max_new_tokens "
                               f"({request.max_new_tokens}) exceeds the context of {self.n_ctx}")
        rng = SplitMix64(settings.seed if settings.seed is not None else 0)
        past = self._empty_past()
        logits = None
        try:
            position, run_ms = 0, 0.0
            tick = time.perf_counter()  # python_ms = wall time since tick - run_ms
            while position < len(prompt):  # the prompt pass, chunk by chunk
                if request.cancelled():
                    return
                chunk = prompt[position:position + PROMPT_CHUNK]
                _release(logits)
                logits = None
                logits, present, ms = await self._run(chunk, position, past)
                _release_all(past)
                past, position, run_ms = present, position + len(chunk), run_ms + ms
            for produced in range(request.max_new_tokens):
                start = time.perf_counter()
                row = (int(logits.dims[1]) - 1) * self.n_vocab  # the last position's logits
                token = choose_token(JsLogits(self.kernels, logits.data, row, self.n_vocab), settings, rng)
                now = time.perf_counter()
                yield TokenBatch([token], {"python_ms": (now - tick) * 1000.0 - run_ms,
                                           "run_ms": run_ms, "sample_ms": (now - start) * 1000.0})
                tick = time.perf_counter()
                if token in request.stop_tokens or produced + 1 == request.max_new_tokens:
                    return
                if request.cancelled():
                    return
                _release(logits)
                logits = None
                logits, present, run_ms = await self._run([token], position, past)
                _release_all(past)
                past, position = present, position + 1
        finally:
            _release(logits)
            _release_all(past)


def _release(tensor: Any) -> None:
    """Free an ORT tensor's data now (the JsProxy handle goes with Python's reference)."""
    if tensor is not None:
        tensor.dispose()


def _release_all(tensors: list[Any]) -> None:
    for tensor in tensors:
        _release(tensor)
