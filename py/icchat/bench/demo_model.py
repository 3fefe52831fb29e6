"""`icchat bench demo_model`: the offline demo model's figures and what it says.

Exports the demo model from its committed checkpoint first if build/models/demo is missing
(seconds, see icchat.model.demo_checkpoint), then reports its training record (held-out perplexity, tokens, tokens/s,
minutes) from the bundle's manifest and replies from the page's own runtime: icchat.chat's
ChatRuntime over the native onnxruntime backend, with the page's default sampling settings and
fixed seeds (a different seed for every reply: with one seed for all prompts every reply draws
the same first random number, and a model whose first-token distribution hardly depends on the
prompt then starts every reply with the same word). It also counts how many sampled tokens fall outside the rows trained on their own
(the shared "rest" row): the page should practically never pick one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

from icchat.model.manifest import PRECISIONS

PROMPTS = (
    "Hi! How are you today?",
    "What do you like to do on weekends?",
    "Do you have any pets?",
    "I just got back from a trip to the beach.",
    "What kind of music do you listen to?",
    "I'm so tired, I have exams all week.",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bundle", type=Path, default=None, help="default: build/models/demo (exported from models/demo if missing)")
    parser.add_argument("--precision", default="q8", choices=list(PRECISIONS), help="the precision the page runs")
    parser.add_argument("--seeds", type=int, default=2, help="replies per prompt (seed: prompt index x N + i)")


async def _reply(runtime: Any, backend: Any, text: str, settings: Any) -> tuple[Any, list[int]]:
    """The reply's last event and every token it sampled."""
    from icchat.chat.conversation import Conversation, Message

    last, tokens = None, []
    async for event in runtime.reply(Conversation([Message("user", text)]), backend, settings):
        last = event
        tokens += event.tokens
    return last, tokens


def run(args: argparse.Namespace) -> dict[str, Any]:
    import numpy as np

    from icchat.chat.runtime import ChatRuntime
    from icchat.chat.settings import Settings
    from icchat.chat.tokenizer import GPT2Tokenizer
    from icchat.model.manifest import read_manifest
    from icchat.model.native_backend import NativeOnnxBackend
    from icchat.stack.models import choose_model

    bundle = args.bundle or choose_model("demo").path
    manifest = read_manifest(bundle)
    training = manifest["provenance"].get("training", {})
    config = json.loads((bundle / "config.json").read_text())
    weights = _shared_rows(bundle)
    runtime = ChatRuntime(GPT2Tokenizer.from_dir(bundle))
    backend = NativeOnnxBackend.from_bundle(bundle, args.precision, threads=2)
    samples, sampled, outside = [], 0, 0
    for index, prompt in enumerate(PROMPTS):
        for seed in range(index * args.seeds, (index + 1) * args.seeds):
            event, tokens = asyncio.run(_reply(runtime, backend, prompt, Settings(seed=seed, max_new_tokens=48)))
            samples.append({"user": prompt, "seed": seed, "assistant": event.text,
                            "stop_reason": event.stop_reason, "new_tokens": event.stats.get("new_tokens")})
            sampled += int(event.stats.get("new_tokens") or 0)
            outside += sum(1 for t in tokens if weights[t])
    return {
        "bundle": str(bundle),
        "precision": args.precision,
        "model": {k: config[k] for k in ("n_layer", "n_head", "n_embd", "n_positions", "vocab_size")},
        "validation_perplexity": training.get("validation_perplexity"),
        "validation_tokens": training.get("validation_tokens"),
        "validation_method": training.get("validation_method", "non-overlapping windows of n_ctx tokens"),
        "validation_rest_fraction": training.get("validation_rest_fraction"),
        "validation_rest_nats_per_token": training.get("validation_rest_nats_per_token"),
        "validation_perplexity_kept_tokens": training.get("validation_perplexity_kept_tokens"),
        "train_config": {k: training.get("config", {}).get(k) for k in
                         ("n_layer", "n_embd", "block", "batch", "lr", "optimizer", "keep_vocab", "minutes",
                          "precision")},
        "train_matmul_precision": training.get("matmul_precision"),
        "train_steps": training.get("steps"),
        "train_tokens": training.get("tokens"),
        "train_tokens_per_s": training.get("tokens_per_s"),
        "train_minutes": round(training.get("seconds", 0.0) / 60, 2),
        "vocab_rows_trained": training.get("vocab_rows_trained"),
        "sampled_tokens_outside_trained_rows": {"count": outside, "of_sampled": sampled},
        "settings": {"temperature": Settings().temperature, "top_k": Settings().top_k,
                     "top_p": Settings().top_p, "max_new_tokens": 48},
        "samples": samples,
        "shared_row_ids": int(np.count_nonzero(weights)),
    }


def _shared_rows(bundle: Path) -> Any:
    """A boolean per token id: True where the embedding row is the shared rest row."""
    import numpy as np
    from safetensors.numpy import load_file

    wte = load_file(str(bundle / "model.safetensors"))["transformer.wte.weight"]
    counts: dict[bytes, int] = {}
    keys = [row.tobytes() for row in wte]
    for key in keys:
        counts[key] = counts.get(key, 0) + 1
    rest = max(counts, key=counts.__getitem__)
    return np.array([k == rest for k in keys])
