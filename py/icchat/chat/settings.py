"""Sampling settings for one reply: validated, and stored by the page as a plain dict."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

# top_k's bound when the model's vocabulary is not named
from icchat.chat.tokenizer import GPT2_VOCAB_SIZE

TOP_K_LIMIT = (1 << 32) - 1  # any Settings: the gpt2 canister's top_k is a nat32
MAX_NEW_TOKENS = 1024
MAX_SEED = (1 << 64) - 1


class SettingsError(ValueError):
    """A setting is out of range or of the wrong type (one line, names the field)."""


@dataclass(frozen=True)
class Settings:
    """How to choose each next token.

    temperature: 0 is greedy (argmax, the first index of the largest logit); > 0 samples from
        softmax(logits / temperature). At most 10.
    top_k: keep the k most likely tokens (and any tied with the k-th); 0 keeps them all. At most
        the model's vocabulary size (from_dict's vocab_size).
    top_p: then keep the smallest set of the most likely of those whose probability reaches
        top_p (and any tied with the last one kept; 1 = all). The gpt2 canister's sampler
        (icchat.chat.sampling) on every engine.
    max_new_tokens: at most this many tokens per reply (1..1024, and less than the context).
    seed: None picks a fresh seed per reply (reported in the reply's stats); an int in
        [0, 2**64) makes the reply reproducible: same seed, same request, same tokens.
    """

    temperature: float = 0.8
    top_k: int = 40
    top_p: float = 0.95
    max_new_tokens: int = 128
    seed: int | None = None

    def __post_init__(self) -> None:
        _number("temperature", self.temperature, 0.0, 10.0)
        _integer("top_k", self.top_k, 0, TOP_K_LIMIT)
        _number("top_p", self.top_p, 0.0, 1.0)
        if self.top_p <= 0.0:
            raise SettingsError("top_p must be greater than 0 (1 keeps every token)")
        _integer("max_new_tokens", self.max_new_tokens, 1, MAX_NEW_TOKENS)
        if self.seed is not None:
            _integer("seed", self.seed, 0, MAX_SEED)

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0

    def with_seed(self, seed: int) -> Settings:
        return Settings(self.temperature, self.top_k, self.top_p, self.max_new_tokens, seed)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], vocab_size: int = GPT2_VOCAB_SIZE) -> Settings:
        """Unknown keys are refused (a typo must not silently fall back to a default); top_k is
        bounded by the running model's vocab_size (the manifest's `model.vocab_size`)."""
        if not isinstance(data, dict):
            raise SettingsError(f"settings must be an object, got {type(data).__name__}")
        unknown = sorted(set(data) - {"temperature", "top_k", "top_p", "max_new_tokens", "seed"})
        if unknown:
            raise SettingsError(f"unknown setting: {unknown[0]}")
        if "top_k" in data:
            _integer("top_k", data["top_k"], 0, vocab_size)
        return cls(**data)


def _number(name: str, value: Any, lo: float, hi: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SettingsError(f"{name} must be a number, got {type(value).__name__}")
    if not (math.isfinite(value) and lo <= value <= hi):
        raise SettingsError(f"{name} must be between {lo:g} and {hi:g}, got {value!r}")


def _integer(name: str, value: Any, lo: int, hi: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SettingsError(f"{name} must be an integer, got {type(value).__name__}")
    if not lo <= value <= hi:
        raise SettingsError(f"{name} must be between {lo} and {hi}, got {value}")
