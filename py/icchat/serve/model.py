"""The served model: one bundle on native onnxruntime, answering with icchat's chat runtime.

Everything that makes an answer is icchat's own: the bundle's tokenizer and chat format, read from
its manifest as the page's worker reads them (icchat.chat.worker.ChatWorker.from_bundle_files), the
chat runtime (prompt, stop strings, streaming; icchat.chat.runtime), the gpt2 canister's sampler
and native onnxruntime (icchat.model.native_backend, as the benchmarks run it). So a seed gives
here the tokens it gives on the page's onnxruntime engines.

One engine holds one KV cache, so one reply is computed at a time: `generation` is the lock the
HTTP layer holds around a reply; other requests queue behind it.

A prompt is never trimmed to fit, as the page trims a long conversation: an API client asked for
exactly these messages, so one that does not fit the context with its max_tokens is refused (400,
`context_length_exceeded`, as OpenAI answers).
"""

from __future__ import annotations

import dataclasses
import sys
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from icchat.chat.runtime import ChatRuntime, ReplyEvent
from icchat.chat.settings import MAX_NEW_TOKENS, Settings
from icchat.chat.worker import ChatWorker
from icchat.model.manifest import read_manifest
from icchat.model.native_backend import NativeOnnxBackend
from icchat.serve.errors import ApiError
from icchat.serve.request import ChatRequest


@dataclass(frozen=True)
class Plan:
    """One reply, ready to run: the runtime with the request's stop strings, and its settings."""

    runtime: ChatRuntime
    request: ChatRequest
    settings: Settings


class ServedModel:
    def __init__(self, bundle: Path, model_id: str, precision: str | None = None, threads: int = 1) -> None:
        manifest = read_manifest(bundle)
        self.precision = precision or _default_precision(manifest)
        chat = ChatWorker.from_bundle_files((bundle / "vocab.json").read_bytes(),
                                            (bundle / "merges.txt").read_bytes(), manifest)
        self.id = model_id
        self.runtime, self.n_ctx, self.vocab_size = chat.runtime, chat.n_ctx, chat.vocab_size
        self.created = _created(manifest.get("provenance", {}).get("created"))
        self.backend = NativeOnnxBackend.from_bundle(bundle, self.precision, threads)
        self.generation = threading.Lock()

    def plan(self, request: ChatRequest) -> Plan:
        """ApiError 404 for another model's name, 400 for messages that do not fit the context."""
        if request.model != self.id:
            raise ApiError(404, f"The model `{request.model}` does not exist: this server runs `{self.id}`",
                           param="model", code="model_not_found")
        runtime = self.runtime
        if request.stop:
            template = runtime.template
            runtime = ChatRuntime(runtime.tokenizer, dataclasses.replace(
                template, stop_strings=(*template.stop_strings, *request.stop)))
        prompt = len(runtime.build_prompt(request.conversation, sys.maxsize, 0).tokens)  # nothing trimmed
        wanted = request.settings.max_new_tokens
        if not request.max_tokens_asked:
            wanted = max(1, min(MAX_NEW_TOKENS, self.n_ctx - prompt))
        if prompt + wanted > self.n_ctx:
            raise ApiError(400, f"This model's maximum context length is {self.n_ctx} tokens. However, you "
                                f"requested {prompt + wanted} tokens ({prompt} in the messages, {wanted} in "
                                "the completion). Please reduce the length of the messages or completion.",
                           param="messages", code="context_length_exceeded")
        return Plan(runtime, request, dataclasses.replace(request.settings, max_new_tokens=wanted))

    def reply(self, plan: Plan, cancelled: Callable[[], bool]) -> AsyncIterator[ReplyEvent]:
        """The reply's events (icchat.chat.runtime); hold `generation` while iterating."""
        return plan.runtime.reply(plan.request.conversation, self.backend, plan.settings, cancelled)


def _default_precision(manifest: dict) -> str:
    """q8 (the smaller, faster decoder) when the bundle has it, else f32: a bundle exported with
    `--variants f32` is served as it is."""
    decoders = {f.get("variant") for f in manifest["files"] if f["role"] == "onnx-decoder"}
    return "q8" if "q8" in decoders or "f32" not in decoders else "f32"


def _created(when: object) -> int:
    """The bundle's creation time (its manifest's provenance), as OpenAI's `created` seconds."""
    try:
        return int(datetime.fromisoformat(str(when)).timestamp())
    except ValueError:
        return 0
