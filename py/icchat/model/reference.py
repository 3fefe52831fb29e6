"""GPT-2's forward pass in numpy, straight from the canister's weight file.

The oracle for the C canister: same file, same tensor layout, same order of operations as
llm.c's `gpt2_forward`, plus a KV cache so a prompt and then single tokens can be fed.
For the q8 file the int8 weights are multiplied back by their row scales (weights-only int8).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from icchat.model.canister_weights import CanisterWeights

LN_EPS = 1e-5


def layernorm(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + LN_EPS) * w + b


def gelu(x: np.ndarray) -> np.ndarray:
    # GPT-2's tanh approximation
    return 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x**3)))


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


@dataclass
class KVCache:
    """Per layer, keys and values of every position seen so far: [heads, positions, head_dim]."""

    keys: list[np.ndarray] = field(default_factory=list)
    values: list[np.ndarray] = field(default_factory=list)

    @property
    def length(self) -> int:
        return self.keys[0].shape[1] if self.keys else 0


class ReferenceGPT2:
    def __init__(self, weights: CanisterWeights) -> None:
        self.dims = weights.dims
        self.w = {name: weights.weight(name) for name in weights.tensors if not name.endswith(".scale")}

    def forward(self, ids: Sequence[int], cache: KVCache) -> np.ndarray:
        """Logits [len(ids), vocab] for new tokens after the cached ones; extends the cache."""
        d, w = self.dims, self.w
        T, H, hs = len(ids), d.n_head, d.n_embd // d.n_head
        past = cache.length
        if past + T > d.n_ctx:
            raise ValueError(f"context is {d.n_ctx} tokens; got {past + T}")
        x = w["wte"][list(ids)] + w["wpe"][past : past + T]
        # new position i (absolute past + i) may attend to absolute positions <= past + i
        visible = np.arange(past + T)[None, :] <= (past + np.arange(T))[:, None]
        for layer in range(d.n_layer):
            h = layernorm(x, w["ln1w"][layer], w["ln1b"][layer])
            qkv = h @ w["qkvw"][layer].T + w["qkvb"][layer]
            q, k, v = (t.reshape(T, H, hs).transpose(1, 0, 2) for t in np.split(qkv, 3, axis=-1))
            if layer < len(cache.keys):
                cache.keys[layer] = np.concatenate([cache.keys[layer], k], axis=1)
                cache.values[layer] = np.concatenate([cache.values[layer], v], axis=1)
            else:
                cache.keys.append(k)
                cache.values.append(v)
            scores = q @ cache.keys[layer].transpose(0, 2, 1) / np.sqrt(hs)
            attention = softmax(np.where(visible, scores, -np.inf)) @ cache.values[layer]
            y = attention.transpose(1, 0, 2).reshape(T, d.n_embd)
            x = x + y @ w["attprojw"][layer].T + w["attprojb"][layer]
            h = layernorm(x, w["ln2w"][layer], w["ln2b"][layer])
            h = gelu(h @ w["fcw"][layer].T + w["fcb"][layer])
            x = x + h @ w["fcprojw"][layer].T + w["fcprojb"][layer]
        x = layernorm(x, w["lnfw"], w["lnfb"])
        return (x @ w["wte"].T)[:, : d.vocab_size]  # padded vocabulary rows are dropped


def reference_logits(weights: CanisterWeights, prompt: Sequence[int], steps: Sequence[int]) -> np.ndarray:
    """Teacher-forced rows like `icchat.model.parity`: every prompt position, then each step."""
    model, cache = ReferenceGPT2(weights), KVCache()
    rows = [model.forward(prompt, cache)]
    rows.extend(model.forward([t], cache) for t in steps)
    return np.concatenate(rows)
