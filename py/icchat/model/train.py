"""`icchat model train`: train a small GPT-2 on the demo chat corpus (icchat.model.corpus) on the
CPU, then export it as a normal bundle.

Speed: at 4 layers x 256 the 50,257-wide LM head is most of the compute. Training uses a compact
vocabulary instead: the `keep_vocab` most frequent corpus tokens get their own row of the tied
embedding, and every other GPT-2 token shares one "rest" row, whose logit carries +log(n_rest)
(n_rest identical rows in the full softmax). At export the rows are written back into GPT-2's
50,257-row embedding (the rest row copied to every other id), so the exported model defines
exactly the distribution that was trained and validated: the reported perplexity is the bundle's.

Runs are deterministic for a seed and thread count (no dropout; batch i is drawn from a generator
seeded with (seed, i)), and a checkpoint after every `checkpoint_every` steps lets an interrupted
run resume to the same result.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from icchat.errors import UserError
from icchat.model import corpus

N_VOCAB = 50257
CHECKPOINT = "checkpoint.pt"


@dataclass(frozen=True)
class TrainConfig:
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 256
    block: int = 256          # context length trained, and the bundle's n_ctx
    batch: int = 4            # small batches: more steps in a budget of < 1 epoch
    steps: int = 0            # 0: as many as fit in `minutes` (measured during warmup)
    minutes: float = 8.0
    lr: float = 3e-3
    min_lr_ratio: float = 0.1
    warmup: int = 30
    weight_decay: float = 0.1
    keep_vocab: int = 8192    # tokens with their own embedding row (97% of the corpus); the rest share one
    val_fraction: float = 0.05
    val_tokens: int = 0       # 0: the whole validation split
    seed: int = 0
    threads: int = 2
    checkpoint_every: int = 200
    max_chats: int = 0        # 0: all chats (tests use a few hundred)


PRESETS = {"demo": TrainConfig()}


@dataclass
class Data:
    train: np.ndarray         # full GPT-2 ids, int64
    validation: np.ndarray
    kept: np.ndarray          # full ids with their own row, sorted by id
    corpus_sha256: str
    chats: tuple[int, int]    # (train, validation)


@dataclass
class Result:
    out: Path
    steps: int
    tokens: int
    seconds: float
    val_loss: float
    val_perplexity: float
    final_train_loss: float
    losses: list[float]


def load_data(config: TrainConfig, cache: Path | None = None, dataset: Path | None = None) -> Data:
    """Tokenized train/validation streams; cached as .npz (keyed by corpus hash and split)."""
    chats, digest = corpus.load_chats(dataset)
    if config.max_chats:
        chats = chats[:config.max_chats]
    key = hashlib.sha256(f"{digest}:{config.val_fraction}:{config.max_chats}:v1".encode()).hexdigest()[:16]
    path = cache / f"tokens-{key}.npz" if cache else None
    train_chats, val_chats = corpus.split(chats, config.val_fraction)
    if path and path.is_file():
        arrays = np.load(path)
        train, validation = arrays["train"], arrays["validation"]
    else:
        train = np.fromiter(corpus.token_stream(train_chats), np.int64)
        validation = np.fromiter(corpus.token_stream(val_chats), np.int64)
        if path:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp.npz")
            np.savez(tmp, train=train, validation=validation)
            os.replace(tmp, path)
    if len(train) < config.block + 2 or len(validation) < config.block + 1:
        raise UserError(f"the corpus is too small for a context of {config.block} tokens")
    counts = np.bincount(train, minlength=N_VOCAB)
    order = np.lexsort((np.arange(N_VOCAB), -counts))  # most frequent first, ties by id
    kept = np.sort(order[:min(config.keep_vocab, int((counts > 0).sum()))])
    return Data(train, validation, kept, digest, (len(train_chats), len(val_chats)))


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


def compact_loss(model: Any, x: Any, y: Any, rest_offset: Any) -> Any:
    """Mean cross-entropy of the full-vocabulary model that the compact one stands for: the rest
    class holds n_rest tokens, so a rest target's own probability is the class's / n_rest."""
    import torch.nn.functional as F

    hidden = model.transformer(input_ids=x).last_hidden_state
    logits = model.lm_head(hidden) + rest_offset
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
    return loss + rest_offset[y].mean()


def learning_rate(config: TrainConfig, step: int, total: int) -> float:
    if step < config.warmup:
        return config.lr * (step + 1) / config.warmup
    progress = min(1.0, (step - config.warmup) / max(1, total - config.warmup))
    return config.lr * (config.min_lr_ratio + (1 - config.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def batch_at(config: TrainConfig, data: np.ndarray, step: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng([config.seed, step])
    starts = rng.integers(0, len(data) - config.block - 1, config.batch)
    windows = np.stack([data[s:s + config.block + 1] for s in starts])
    return windows[:, :-1], windows[:, 1:]


def evaluate(model: Any, vocab: CompactVocab, ids: np.ndarray, config: TrainConfig,
             rest_offset: Any) -> float:
    """Mean loss (nats per token) over non-overlapping windows of the validation stream."""
    import torch

    if config.val_tokens:
        ids = ids[:config.val_tokens + 1]
    n = (len(ids) - 1) // config.block
    x_all = vocab(ids[:n * config.block]).reshape(n, config.block)
    y_all = vocab(ids[1:n * config.block + 1]).reshape(n, config.block)
    total = 0.0
    model.eval()
    with torch.no_grad():
        for i in range(0, n, 16):
            x, y = torch.from_numpy(x_all[i:i + 16]), torch.from_numpy(y_all[i:i + 16])
            total += float(compact_loss(model, x, y, rest_offset)) * x.numel()
    model.train()
    return total / (n * config.block)


class Progress:
    """One status line on stderr: redrawn in a terminal, a line every few seconds otherwise."""

    def __init__(self, total: int, stream: Any = None) -> None:
        self.stream = stream or sys.stderr
        self.total = total
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.last = 0.0

    def update(self, step: int, loss: float, tokens_per_s: float, eta_s: float) -> None:
        now = time.monotonic()
        if not self.tty and now - self.last < 10 and (self.total == 0 or step < self.total):
            return
        self.last = now
        width = 24
        filled = min(width, int(width * step / self.total)) if self.total else 0
        line = (f"[{'#' * filled}{'.' * (width - filled)}] step {step}/{self.total or '?'}  loss {loss:.3f}  "
                f"{tokens_per_s:,.0f} tokens/s  ETA {int(eta_s) // 60}:{int(eta_s) % 60:02d}")
        self.stream.write(("\r" + line + "\x1b[K") if self.tty else line + "\n")
        self.stream.flush()

    def done(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def _save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    import torch

    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def train(config: TrainConfig, work: Path, *, log: Callable[[str], None] = print,
          stop_after: int | None = None, progress_stream: Any = None,
          dataset: Path | None = None) -> tuple[Any, CompactVocab, Data, dict[str, Any]]:
    """Train (or resume) in `work`; returns the compact model, its vocabulary, the data and the
    run's record. `stop_after` ends the run early after that step, as an interruption would."""
    import torch

    torch.set_num_threads(config.threads)
    work.mkdir(parents=True, exist_ok=True)
    data = load_data(config, cache=work, dataset=dataset)
    vocab = CompactVocab(data.kept)
    model = build_model(config, vocab.size)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": config.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}],
                                  lr=config.lr, betas=(0.9, 0.95))
    rest_offset = _rest_offset(vocab)
    train_ids = vocab(data.train)

    checkpoint = work / CHECKPOINT
    step, total, losses, seconds = 0, config.steps, [], 0.0
    config_json = json.dumps(dataclasses.asdict(config), sort_keys=True)
    if checkpoint.is_file():
        state = torch.load(checkpoint, weights_only=False)
        if state["config"] != config_json or state["corpus_sha256"] != data.corpus_sha256:
            log(f"{checkpoint} is from a different configuration: starting over")
        else:
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            step, total, losses, seconds = state["step"], state["total"], state["losses"], state["seconds"]
            log(f"resuming from the checkpoint at step {step}/{total or '?'}")

    def save() -> None:
        _save_checkpoint(checkpoint, {"config": config_json, "corpus_sha256": data.corpus_sha256,
                                      "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                                      "step": step, "total": total, "losses": losses,
                                      "seconds": seconds})

    tokens_per_step = config.batch * config.block
    calibrate_at = min(config.warmup, 20)
    progress = Progress(total or 0, progress_stream)
    model.train()
    timed_from, timed_steps = time.perf_counter(), 0
    try:
        while total == 0 or step < total:
            start = time.perf_counter()
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(config, step, total or 10**9)
            x, y = batch_at(config, train_ids, step)
            loss = compact_loss(model, torch.from_numpy(x), torch.from_numpy(y), rest_offset)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            step += 1
            elapsed = time.perf_counter() - start
            seconds += elapsed
            losses.append(loss.item())
            if step == 3:  # the first steps warm caches up; time from here
                timed_from, timed_steps = time.perf_counter(), 0
            else:
                timed_steps += 1
            per_step = seconds / step
            if config.steps == 0 and ((total == 0 and step >= calibrate_at)
                                      or (timed_steps >= 25 and step < total // 2)):
                # a time budget: fit the schedule to the measured speed (the machine is shared, so
                # re-measure during the first half; the cosine's end moves a little, never jumps)
                first = total == 0
                recent = (time.perf_counter() - timed_from) / max(1, timed_steps)
                total = max(step + 1, step + int((config.minutes * 60 - seconds) / recent))
                progress.total = total
                if first:
                    log(f"{recent * 1000:.0f} ms per step: about {total} steps fit in {config.minutes:g} minutes")
                timed_from, timed_steps = time.perf_counter(), 0
            smooth = sum(losses[-20:]) / len(losses[-20:])
            progress.update(step, smooth, tokens_per_step / per_step,
                            per_step * ((total or step) - step))
            if step % config.checkpoint_every == 0 or step == total:
                save()
            if stop_after is not None and step >= stop_after:
                save()
                break
    except KeyboardInterrupt:
        save()
        progress.done()
        raise UserError(f"interrupted at step {step}; run the same command again to resume "
                        f"from {checkpoint}") from None
    progress.done()
    record = {"steps": step, "total_steps": total, "tokens": step * tokens_per_step,
              "seconds": seconds, "losses": losses}
    return model, vocab, data, record


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


def train_bundle(out: Path, config: TrainConfig, *, work: Path | None = None, force: bool = False,
                 variants: tuple[str, ...] = ("fp32", "q8"), log: Callable[[str], None] = print,
                 progress_stream: Any = None, dataset: Path | None = None) -> Result:
    """Train (resuming if a checkpoint is there), validate, and export a bundle to `out`."""
    from icchat.model.export import export_bundle

    out = Path(out).expanduser().resolve()
    if out.exists() and not force:
        raise UserError(f"{out} already exists; pass --force to replace it")
    work = work or out.with_name(f"{out.name}.train")
    model, vocab, data, record = train(config, work, log=log, progress_stream=progress_stream,
                                       dataset=dataset)
    rest_offset = _rest_offset(vocab)
    val_loss = evaluate(model, vocab, data.validation, config, rest_offset)
    log(f"validation: loss {val_loss:.3f}, perplexity {math.exp(val_loss):.1f} "
        f"({min(len(data.validation), config.val_tokens or len(data.validation)):,} held-out tokens)")
    hf_dir = work / "hf"
    full_model(model, vocab).save_pretrained(hf_dir, safe_serialization=True)
    provenance = {
        "source": "trained",
        "label": "demo model trained on a small chat corpus, not GPT-2's knowledge",
        "training": {
            "corpus": [{"name": f"{corpus.PACKAGE}=={corpus.PACKAGE_VERSION}", "file": "chitchat_dataset/dataset.json",
                        "license": corpus.LICENSE, "sha256": data.corpus_sha256,
                        "chats": {"train": data.chats[0], "validation": data.chats[1]}}],
            "format": "icchat.chat.template.ChatTemplate turns, one <|endoftext|> per chat",
            "config": dataclasses.asdict(config),
            "steps": record["steps"], "tokens": record["tokens"],
            "train_tokens_available": len(data.train),
            "seconds": round(record["seconds"], 1),
            "tokens_per_s": round(record["tokens"] / max(record["seconds"], 1e-9), 1),
            "final_train_loss": round(sum(record["losses"][-50:]) / max(1, len(record["losses"][-50:])), 4),
            "validation_tokens": int(min(len(data.validation) - 1, config.val_tokens or len(data.validation))),
            "validation_loss": round(val_loss, 4),
            "validation_perplexity": round(math.exp(val_loss), 2),
            "vocab_rows_trained": len(vocab.kept),
        },
    }
    log(f"exporting the bundle to {out}")
    export_bundle(out, pretrained=str(hf_dir), variants=variants, force=force, log=log,
                  provenance=provenance)
    return Result(out, record["steps"], record["tokens"], record["seconds"], val_loss,
                  math.exp(val_loss), provenance["training"]["final_train_loss"], record["losses"])


def _rest_offset(vocab: CompactVocab) -> Any:
    import torch

    offset = torch.zeros(vocab.size)
    offset[vocab.rest] = math.log(vocab.n_rest)
    return offset
