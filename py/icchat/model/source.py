"""Where a bundle's weights come from: a Hugging Face GPT-2 checkpoint, or a GPT-2-architecture
model built from a named config with a fixed seed (no download needed)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from icchat.errors import UserError

# GPT-2 shapes. `tiny` keeps the real vocabulary and context so the real tokenizer applies.
PRESETS: dict[str, dict[str, int]] = {
    "tiny": {"n_layer": 2, "n_head": 4, "n_embd": 128, "n_positions": 1024, "vocab_size": 50257},
    "small": {"n_layer": 12, "n_head": 12, "n_embd": 768, "n_positions": 1024, "vocab_size": 50257},
}


@dataclass(frozen=True)
class Dimensions:
    n_layer: int
    n_head: int
    n_embd: int
    n_ctx: int
    vocab_size: int

    @classmethod
    def of(cls, config: Any) -> Dimensions:
        return cls(config.n_layer, config.n_head, config.n_embd, config.n_positions,
                   config.vocab_size)


def random_model(preset: str, seed: int, shape: dict[str, int] | None = None) -> Any:
    """A GPT2LMHeadModel with GPT-2's initialisation, deterministic for a given seed; `shape`
    (GPT2Config fields) overrides the preset's."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    if shape is None and preset not in PRESETS:
        raise UserError(f"unknown config {preset!r}; choose one of: {', '.join(PRESETS)}")
    torch.manual_seed(seed)
    config = GPT2Config(**(shape or PRESETS[preset]), bos_token_id=50256, eos_token_id=50256)
    return GPT2LMHeadModel(config).eval()


def pretrained_model(name_or_path: str) -> Any:
    """A Hugging Face GPT-2 checkpoint: a local directory, the local HF cache, or the hub."""
    from transformers import AutoConfig, GPT2LMHeadModel

    path = Path(name_or_path).expanduser()
    if path.is_absolute() or name_or_path.startswith((".", "~")) or path.exists():
        if not path.is_dir():
            raise UserError(f"no such model directory: {path}")
        if not (path / "config.json").is_file():
            raise UserError(f"{path} has no config.json: not a Hugging Face model directory")
        check_gpt2_config(json.loads((path / "config.json").read_text()), str(path))
        return GPT2LMHeadModel.from_pretrained(path).eval()

    with _quiet_hub():
        try:  # already in the local Hugging Face cache: no network needed
            config = AutoConfig.from_pretrained(name_or_path, local_files_only=True)
            local = True
        except OSError:
            if not _hub_reachable():
                raise UserError(
                    f"could not load {name_or_path!r}: it is not in the local Hugging Face cache "
                    f"and the hub ({_hub_host()}) is unreachable (offline?). Pass a local "
                    "directory, or use --config tiny|small."
                ) from None
            local = False
            try:
                config = AutoConfig.from_pretrained(name_or_path)
            except OSError as exc:
                raise UserError(f"could not load {name_or_path!r} from the Hugging Face hub: "
                                f"{str(exc).splitlines()[0]}") from None
        check_gpt2_config(config.to_dict(), name_or_path)
        return GPT2LMHeadModel.from_pretrained(name_or_path, local_files_only=local).eval()


def _hub_host() -> str:
    from urllib.parse import urlparse

    return urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname or ""


def _hub_reachable(timeout: float = 5.0) -> bool:
    """A quick TCP check, so an offline machine fails at once instead of after retries."""
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        return False
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY")):
        return True  # a proxy decides; let the real request find out
    try:
        with socket.create_connection((_hub_host(), 443), timeout=timeout):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def _quiet_hub() -> Iterator[None]:
    hub_logger = logging.getLogger("huggingface_hub")
    level = hub_logger.level
    hub_logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        hub_logger.setLevel(level)


def check_gpt2_config(config: dict[str, Any], where: str) -> None:
    model_type = config.get("model_type")
    if model_type != "gpt2":
        raise UserError(f"{where} is a {model_type or 'unknown'!s} model, not GPT-2 (model_type must be 'gpt2')")
    n_embd, n_head = config.get("n_embd", 0), config.get("n_head", 0)
    if not n_head or n_embd % n_head:
        raise UserError(f"{where}: n_embd {n_embd} is not a multiple of n_head {n_head}")
