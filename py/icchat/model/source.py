"""Where a bundle's weights come from: a Hugging Face GPT-2 checkpoint (its model, tokenizer,
name and license), or a GPT-2-architecture model built from a named config with a fixed seed
(no download needed): the offline stand-ins of the GPT-2 family's checkpoints."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from icchat.chat.tokenizer import AddedToken
from icchat.errors import UserError
from icchat.model.vocab import GPT2_SPECIAL, TokenizerSpec

_GPT2_SMALL = {"n_layer": 12, "n_head": 12, "n_embd": 768, "n_positions": 1024, "vocab_size": 50257}
# GPT-2 shapes. `tiny` keeps the real vocabulary and context so the real tokenizer applies.
PRESETS: dict[str, dict[str, int]] = {
    "tiny": {"n_layer": 2, "n_head": 4, "n_embd": 128, "n_positions": 1024, "vocab_size": 50257},
    "small": _GPT2_SMALL,
    "gpt2": _GPT2_SMALL,
    "gpt2-medium": {**_GPT2_SMALL, "n_layer": 24, "n_head": 16, "n_embd": 1024},
    "distilgpt2": {**_GPT2_SMALL, "n_layer": 6},
    "dialogpt-small": _GPT2_SMALL,
    "gpt2-alpaca": {**_GPT2_SMALL, "vocab_size": 50260},
}

# DialoGPT's chat template as on the hub (microsoft/DialoGPT-large's tokenizer_config.json, seen
# through the search tool; -small's is assumed the same: not verified offline).
DIALOGPT_TEMPLATE = "{% for message in messages %}{{ message.content }}{{ eos_token }}{% endfor %}"
# What a preset's stand-in has of the real checkpoint's tokenizer, beyond the shape above.
ALPACA_ADDED = (AddedToken(50257, "<|startoftext|>", True), AddedToken(50258, "<|pad|>", True),
                AddedToken(50259, "<|sep|>", False))


@dataclass(frozen=True)
class Checkpoint:
    """A real checkpoint a preset stands in for: its hub id, license and tokenizer."""

    hub_id: str
    license: str
    tokenizer: TokenizerSpec = field(default_factory=TokenizerSpec)


# What is known of each real checkpoint. gpt2, gpt2-medium, distilgpt2: GPT-2's 50,257 tokens,
# <|endoftext|> as bos/eos/unk, no chat template, n_positions 1024 (their hub configs; licenses
# from their model cards: mit, mit, apache-2.0). DialoGPT-small: 12 layers like gpt2, the same
# vocabulary, DialoGPT's chat template (above) and mit (model card). vicgalle/gpt2-alpaca-gpt4:
# config.json verified (12/12/768, n_positions 1024, vocab_size 50260, bos/eos 50256); which
# three tokens were added and its license were NOT verified offline: the stand-in adds two
# special ones (<|startoftext|>, <|pad|>, as other GPT-2 Alpaca fine-tunes do, pad_token
# <|pad|>) and one non-special (<|sep|>) so both kinds are exercised, and no chat template
# (the Alpaca format comes from the table).
CHECKPOINTS: dict[str, Checkpoint] = {
    "tiny": Checkpoint("", "unknown"),
    "small": Checkpoint("openai-community/gpt2", "mit"),
    "gpt2": Checkpoint("openai-community/gpt2", "mit"),
    "gpt2-medium": Checkpoint("openai-community/gpt2-medium", "mit"),
    "distilgpt2": Checkpoint("distilbert/distilgpt2", "apache-2.0"),
    "dialogpt-small": Checkpoint("microsoft/DialoGPT-small", "mit",
                                 TokenizerSpec(chat_template=DIALOGPT_TEMPLATE)),
    "gpt2-alpaca": Checkpoint("vicgalle/gpt2-alpaca-gpt4", "unknown",
                              TokenizerSpec(ALPACA_ADDED, {**GPT2_SPECIAL, "pad_token": "<|pad|>"})),
}
# Licenses of hub checkpoints by id, for a checkpoint whose model card is not at hand.
KNOWN_LICENSES = {c.hub_id.lower(): c.license for c in CHECKPOINTS.values() if c.hub_id} | {
    "gpt2": "mit", "gpt2-medium": "mit", "distilgpt2": "apache-2.0",
    "microsoft/dialogpt-medium": "mit", "microsoft/dialogpt-large": "mit"}


@dataclass(frozen=True)
class Source:
    """A model ready to export: the transformers model and what the manifest says of it."""

    model: Any
    tokenizer: TokenizerSpec
    name: str     # e.g. "distilgpt2", "microsoft/DialoGPT-small", a directory's name
    license: str  # SPDX-like as the model card says, or "unknown"
    origin: str   # the hub id or the directory it came from, or the seeded config


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


SEEDED_LICENSE = "none (seeded random weights)"


def seeded(preset: str, seed: int) -> Source:
    """The preset's stand-in: GPT-2's initialisation with `seed`, the real checkpoint's
    tokenizer (added tokens, special tokens, chat template). Random weights have no license."""
    return Source(random_model(preset, seed), CHECKPOINTS[preset].tokenizer, preset, SEEDED_LICENSE,
                  f"seeded config {preset}, seed {seed}")


def save_seeded_checkpoint(preset: str, seed: int, out: Path, n_layer: int | None = None) -> Path:
    """The preset's stand-in saved as a Hugging Face checkpoint directory (save_pretrained,
    tokenizer files, a model card with the license): what `--from-pretrained DIR` reads.
    `n_layer`: fewer layers than the real checkpoint (each layer of the same shape), for tests."""
    from icchat.model.vocab import write_tokenizer_files

    checkpoint = CHECKPOINTS[preset]
    shape = {**PRESETS[preset], "n_layer": n_layer} if n_layer else None
    model = random_model(preset, seed, shape)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    write_tokenizer_files(out, checkpoint.tokenizer, model.config.n_positions)
    (out / "README.md").write_text(f"---\nlicense: {checkpoint.license}\n---\n"
                                   f"Seeded stand-in of {checkpoint.hub_id} (icchat).\n")
    return out


def shorten_context(model: Any, n_ctx: int) -> Any:
    """The same model with a context of `n_ctx` positions (<= n_positions): the first n_ctx
    rows of the position embedding; every other weight as is."""
    from transformers import GPT2LMHeadModel

    n_positions = model.config.n_positions
    if not 1 <= n_ctx <= n_positions:
        raise UserError(f"--n-ctx must be between 1 and the model's n_positions ({n_positions}), not {n_ctx}")
    if n_ctx == n_positions:
        return model
    config = model.config.__class__.from_dict({**model.config.to_dict(), "n_positions": n_ctx, "n_ctx": n_ctx})
    state = model.state_dict()
    state["transformer.wpe.weight"] = state["transformer.wpe.weight"][:n_ctx].clone()
    shorter = GPT2LMHeadModel(config)
    shorter.load_state_dict(state)
    return shorter.eval()


def pretrained(name_or_path: str) -> Source:
    """A Hugging Face GPT-2 checkpoint: a local directory, the local HF cache, or the hub."""
    from transformers import GPT2LMHeadModel

    path = Path(name_or_path).expanduser()
    if path.is_absolute() or name_or_path.startswith((".", "~")) or path.exists():
        if not path.is_dir():
            raise UserError(f"no such model directory: {path}")
        if not (path / "config.json").is_file():
            raise UserError(f"{path} has no config.json: not a Hugging Face model directory")
        check_gpt2_config(json.loads((path / "config.json").read_text()), str(path))
        model = GPT2LMHeadModel.from_pretrained(path).eval()
        card = path / "README.md"
        return Source(model, _tokenizer(str(path), True), path.resolve().name,
                      _license(card.read_text() if card.is_file() else "", path.name), str(path.resolve()))

    with _quiet_hub():
        local = _resolve_hub(name_or_path)
        model = GPT2LMHeadModel.from_pretrained(name_or_path, local_files_only=local).eval()
        return Source(model, _tokenizer(name_or_path, local), name_or_path,
                      _license(_hub_card(name_or_path, local), name_or_path), name_or_path)


def _resolve_hub(name: str) -> bool:
    """Check a hub id names a GPT-2 checkpoint; True if it is already in the local cache."""
    from transformers import AutoConfig

    try:  # already in the local Hugging Face cache: no network needed
        config = AutoConfig.from_pretrained(name, local_files_only=True)
        local = True
    except OSError:
        if not _hub_reachable():
            raise UserError(
                f"could not load {name!r}: it is not in the local Hugging Face cache "
                f"and the hub ({_hub_host()}) is unreachable (offline?). Pass a local "
                "directory, or use --config with a preset."
            ) from None
        local = False
        try:
            config = AutoConfig.from_pretrained(name)
        except OSError as exc:
            raise UserError(f"could not load {name!r} from the Hugging Face hub: "
                            f"{str(exc).splitlines()[0]}") from None
    check_gpt2_config(config.to_dict(), name)
    return local


def _tokenizer(name_or_path: str, local: bool) -> TokenizerSpec:
    """The checkpoint's own tokenizer, or GPT-2's if it ships none (some fine-tunes don't)."""
    from transformers import AutoTokenizer

    directory = Path(name_or_path)
    if directory.is_dir() and not any((directory / f).is_file() for f in ("tokenizer.json", "vocab.json")):
        return TokenizerSpec()
    try:
        tokenizer = AutoTokenizer.from_pretrained(name_or_path, local_files_only=local)
    except (OSError, ValueError, TypeError):  # transformers' ways of saying "no tokenizer here"
        return TokenizerSpec()
    return TokenizerSpec.of(tokenizer, name_or_path)


def _hub_card(name: str, local: bool) -> str:
    from huggingface_hub import hf_hub_download

    try:
        return Path(hf_hub_download(name, "README.md", local_files_only=local)).read_text()
    except Exception:  # no model card: the license falls back to the known table
        return ""


def _license(card: str, name: str) -> str:
    """The model card's `license:` (its YAML front matter), else the known one, else unknown."""
    front = re.match(r"---\n(.*?)\n---", card, re.S)
    found = re.search(r"^license:\s*(\S+)", front.group(1), re.M) if front else None
    return found.group(1) if found else KNOWN_LICENSES.get(name.lower(), "unknown")


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
