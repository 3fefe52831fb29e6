"""The demo model's committed checkpoint: what training learned, small enough for the repository,
and the bundle made from it in seconds.

One safetensors file holds the compact model's trained tensors only, in float16: the kept
vocabulary rows and the shared rest row (not GPT-2's 50,257 rows, most of which are copies of the
rest row), the positions, the blocks and the final norm, plus `kept_ids` (the GPT-2 id of each kept
row). Its provenance sits beside it as JSON (`provenance.json`): the corpus hash, the training
configuration, the command, the commit, the CPU, steps and tokens, and the validation perplexity
of the model as the bundle has it (measured on the float16 weights, not assumed from the float32
ones). `bundle_from_checkpoint` widens the rows back to GPT-2's vocabulary (compact_gpt2.full_model) and
exports a normal bundle whose manifest carries that provenance; `icchat model train` exports its
own bundle the same way, so what `icchat up` serves and what training measured are one model.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from icchat.digest import sha256_file
from icchat.errors import UserError
from icchat.paths import REPO

DEMO_DIR = REPO / "models" / "demo"
WEIGHTS = "weights.fp16.safetensors"
PROVENANCE = "provenance.json"
FORMAT = "icchat-demo-checkpoint-v1"
KEPT_IDS = "kept_ids"


def save_checkpoint(path: Path, model: Any, kept: np.ndarray, config: Any) -> None:
    """Write the compact model's trained tensors in float16 (the tied lm_head is the embedding,
    so it is not stored twice). The bytes depend only on the weights and the configuration."""
    import torch
    from safetensors.torch import save_file

    tensors = {name: tensor.detach().to(torch.float16).contiguous()
               for name, tensor in model.state_dict().items() if name != "lm_head.weight"}
    tensors[KEPT_IDS] = torch.from_numpy(kept.astype(np.int32))
    # one metadata entry: safetensors writes several in a per-process hash order, so the file's
    # bytes (and the hash the tests check) would change from run to run
    metadata = {"icchat": json.dumps({"format": FORMAT, "config": dataclasses.asdict(config)}, sort_keys=True)}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    save_file(tensors, str(tmp), metadata=metadata)
    os.replace(tmp, path)


def load_checkpoint(path: Path) -> tuple[Any, Any, Any]:
    """The compact model (float32 weights holding the float16 values), its vocabulary and its
    training configuration."""
    import torch
    from safetensors import safe_open

    from icchat.model.compact_gpt2 import CompactVocab, TrainConfig, build_model

    with safe_open(str(path), framework="pt") as f:
        header = json.loads((f.metadata() or {}).get("icchat", "{}"))
        if header.get("format") != FORMAT:
            raise UserError(f"{path} is not an icchat demo checkpoint ({FORMAT})")
        tensors = {name: f.get_tensor(name) for name in f.keys()}  # noqa: SIM118 (safe_open is not a mapping)
    config = TrainConfig(**header["config"])
    vocab = CompactVocab(tensors.pop(KEPT_IDS).numpy().astype(np.int64))
    model = build_model(config, vocab.size)
    missing, unexpected = model.load_state_dict({k: v.to(torch.float32) for k, v in tensors.items()}, strict=False)
    if unexpected or missing != ["lm_head.weight"]:
        raise UserError(f"{path} does not fit the model of its configuration: missing {missing}, unexpected {unexpected}")
    model.tie_weights()
    return model.eval(), vocab, config


def read_provenance(directory: Path) -> dict[str, Any]:
    """The provenance beside the checkpoint, after checking that the checkpoint is the one it describes."""
    weights, record = directory / WEIGHTS, directory / PROVENANCE
    if not weights.is_file() or not record.is_file():
        raise UserError(f"no demo checkpoint in {directory} (it needs {WEIGHTS} and {PROVENANCE}); "
                        f"`icchat model train --preset demo --checkpoint {directory}` makes one")
    provenance = json.loads(record.read_text())
    expected = provenance["checkpoint"]["sha256"]
    if sha256_file(weights) != expected:
        raise UserError(f"{weights} does not match the SHA-256 in {record} ({expected[:12]}…): "
                        f"restore it (git checkout) or train it again")
    return provenance


def bundle_from_checkpoint(directory: Path, out: Path, *, variants: tuple[str, ...] = ("f32", "q8"),
                           force: bool = False, log: Callable[[str], None] = print) -> Path:
    """Export the bundle of the checkpoint in `directory` to `out` (no training, no corpus)."""
    from icchat.model.compact_gpt2 import full_model
    from icchat.model.export import export_bundle

    provenance = read_provenance(directory)
    model, vocab, _ = load_checkpoint(directory / WEIGHTS)
    with tempfile.TemporaryDirectory(prefix="icchat-demo-hf-") as hf:
        full_model(model, vocab).save_pretrained(hf, safe_serialization=True)
        return export_bundle(out, pretrained=hf, variants=variants, force=force, log=log,
                             provenance={**provenance, "pretrained": str(directory / WEIGHTS), "origin": checkpoint_origin(directory)})


def checkpoint_origin(directory: Path) -> str:
    """Where the bundle came from, as the page says it: the committed checkpoint's place in the
    repository (not the temporary directory the export read it from)."""
    where = directory.resolve()
    return f"icchat's {where.relative_to(REPO)}" if where.is_relative_to(REPO) else str(where)


def current_commit() -> str:
    """HEAD of the repository the code runs from, "+dirty" when its Python sources differ from it."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True,
                              check=True, timeout=10).stdout.strip()

    try:
        head = git("rev-parse", "HEAD")
        return head + ("+dirty" if git("status", "--porcelain", "--", "py") else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown (not a git checkout)"


def cpu_description() -> dict[str, Any]:
    """The CPU training ran on: lscpu's model name, the cores, and the features that set its speed."""
    name = ""
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout.splitlines():
            if line.startswith("Model name:"):
                name = line.split(":", 1)[1].strip()
                break
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        flags = set(Path("/proc/cpuinfo").read_text().split())
    except OSError:
        flags = set()
    features = [f for f in ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16") if f in flags]
    return {"model_name": name or platform.processor() or "unknown", "cores": os.cpu_count(),
            "features": features}
