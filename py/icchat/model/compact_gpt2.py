"""The demo model as it is trained: a GPT-2 whose vocabulary keeps only the corpus's most frequent
rows plus one shared "rest" row (CompactVocab), its configuration (TrainConfig, PRESETS), and the
widening back to GPT-2's 50,257 rows (full_model). Apart from the training loop (train) so that the
checkpoint's reader (demo_checkpoint) needs the model's shape, never the trainer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from icchat.model import corpus

N_VOCAB = 50257


@dataclass(frozen=True)
class TrainConfig:
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 256
    block: int = 256          # context length trained, and the bundle's n_ctx (the page's 128 new tokens need room)
    batch: int = 16           # 4,096 tokens a step: Muon's per-step cost spread over more tokens (3-minute runs: 104 vs 107 at 8, 106 at 32)
    steps: int = 0            # 0: as many as fit in `minutes` (measured during warmup)
    minutes: float = 8.5
    lr: float = 6e-3          # Muon at batch 16 (at batch 8: 3e-3 and 6e-3 measured alike, 1.2e-2 worse)
    min_lr_ratio: float = 0.1
    warmup: int = 30
    optimizer: str = "muon"   # Muon for the blocks' matrices, AdamW for the rest; or "adamw" for all
    weight_decay: float = 0.1
    keep_vocab: int = 8192    # tokens with their own embedding row (97% of the corpus); the rest share one
    val_fraction: float = 0.05
    val_tokens: int = 0       # 0: the whole validation split
    seed: int = 0
    threads: int = 2
    checkpoint_every: int = 200
    precision: str = "auto"   # matrix products in training: "bf16" (autocast), "f32", or auto: bf16 where the CPU has bf16 units
    compile: bool = True      # torch.compile the loss's forward and backward (1.7x here, ~30 s to compile; eager if it cannot)
    max_chats: int = 0        # 0: all chats (tests use a few hundred)


PRESETS = {"demo": TrainConfig()}


class CompactVocab:
    """Full GPT-2 ids <-> compact rows: kept[i] -> i, everything else -> len(kept) (the rest row)."""

    def __init__(self, kept: np.ndarray) -> None:
        self.kept = kept
        self.size = len(kept) + 1
        self.rest = len(kept)
        self.n_rest = N_VOCAB - len(kept)
        table = np.full(N_VOCAB, self.rest, np.int64)
        table[kept] = np.arange(len(kept))
        self.table = table

    def __call__(self, ids: np.ndarray) -> np.ndarray:
        return self.table[ids]


def build_model(config: TrainConfig, vocab_size: int) -> Any:
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(config.seed)
    gpt2 = GPT2Config(vocab_size=vocab_size, n_positions=config.block, n_embd=config.n_embd,
                      n_layer=config.n_layer, n_head=config.n_head, resid_pdrop=0.0, embd_pdrop=0.0,
                      attn_pdrop=0.0, bos_token_id=corpus.EOT_ID, eos_token_id=corpus.EOT_ID)
    return GPT2LMHeadModel(gpt2)


def full_model(model: Any, vocab: CompactVocab) -> Any:
    """The compact model as a normal GPT-2: 50,257 embedding rows, the rest row everywhere else."""
    import torch
    from transformers import GPT2LMHeadModel

    config = model.config.to_dict()
    config["vocab_size"] = N_VOCAB
    from transformers import GPT2Config

    full = GPT2LMHeadModel(GPT2Config(**{k: v for k, v in config.items() if k not in ("architectures",)}))
    state = {k: v for k, v in model.state_dict().items() if k not in ("transformer.wte.weight", "lm_head.weight")}
    compact = model.transformer.wte.weight.detach()
    wte = compact[vocab.rest].repeat(N_VOCAB, 1)
    wte[torch.from_numpy(vocab.kept)] = compact[:vocab.rest]
    state["transformer.wte.weight"] = wte
    missing, unexpected = full.load_state_dict(state, strict=False)
    if unexpected or any(not k.startswith("lm_head") for k in missing):
        raise RuntimeError(f"weights did not map onto GPT-2: missing {missing}, unexpected {unexpected}")
    full.tie_weights()
    return full.eval()
