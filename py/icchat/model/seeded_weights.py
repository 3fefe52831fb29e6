"""gpt2 canister weight files of seeded GPT-2-architecture models, made on demand and cached.

Tests and benchmarks need the canister's weight file without exporting a whole bundle (no ONNX
needed): `seeded_weight_file("tiny", 0, "f32")` builds the seeded torch model, writes the file
atomically under build/models/weights/ and reuses it afterwards.
"""

from __future__ import annotations

import os
from pathlib import Path

from icchat.model.canister_weights import write_weights
from icchat.model.source import Dimensions, random_model
from icchat.paths import BUILD

WEIGHTS_DIR = BUILD / "models" / "weights"


def seeded_weight_file(preset: str, seed: int, dtype: str, out_dir: Path = WEIGHTS_DIR,
                       shape: dict[str, int] | None = None) -> Path:
    """Path of `<preset>-s<seed>-<dtype>.bin` (dtype "f32" or "q8"), created if missing.

    `shape` (GPT2Config fields) builds a model of another shape under the name `preset`, e.g. the
    tests' one-layer model at GPT-2 124M widths."""
    path = out_dir / f"{preset}-s{seed}-{dtype}.bin"
    if path.is_file():
        return path
    model = random_model(preset, seed, shape)
    state = {name: tensor.detach().numpy() for name, tensor in model.state_dict().items()}
    out_dir.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        write_weights(partial, state, Dimensions.of(model.config), dtype, model.config.eos_token_id)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path
