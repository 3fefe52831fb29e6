"""`icchat model train`: train a small GPT-2 on the demo chat corpus (icchat.model.corpus) on the
CPU, write its float16 checkpoint and provenance (icchat.model.demo_checkpoint: what models/demo
commits), and export a normal bundle from that checkpoint.

Speed: at 4 layers x 256 the 50,257-wide LM head is most of the compute. Training uses a compact
vocabulary instead: the `keep_vocab` most frequent corpus tokens get their own row of the tied
embedding, and every other GPT-2 token shares one "rest" row, whose logit carries +log(n_rest)
(n_rest identical rows in the full softmax). At export the rows are written back into GPT-2's
50,257-row embedding (the rest row copied to every other id), so the exported model defines
exactly the distribution that was trained and validated: the reported perplexity is the bundle's.

Tokens per minute are the budget's limit, so each token has to count and cost little: the blocks'
weight matrices train with Muon (icchat.model.muon): here it got within reach in 150 k tokens
(perplexity 175) of what AdamW reached in ~1 M (153), and AdamW had 290 at 150 k; the matrix
products run in bf16 where the CPU has bf16 units (matmul_precision) and torch.compile fuses the
rest (LossFunction): 10,100 tokens/s here against 3,700 in float32 eager mode.
Validation scores the held-out stream with sliding windows (each token with >= block/2 tokens of
context), the way the page runs the model.

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

from icchat.digest import sha256_file
from icchat.errors import UserError
from icchat.model import corpus
from icchat.model.compact_gpt2 import (
    N_VOCAB,
    PRESETS,
    CompactVocab,
    TrainConfig,
    build_model,
)

CHECKPOINT = "checkpoint.pt"


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
    checkpoint: Path          # the directory with the float16 checkpoint and its provenance
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


def token_losses(model: Any, x: Any, y: Any, rest_offset: Any) -> Any:
    """Per-token cross-entropy (nats) of the full-vocabulary model that the compact one stands
    for: the rest class holds n_rest tokens, so a rest target's own probability is the class's / n_rest."""
    import torch.nn.functional as F

    hidden = model.transformer(input_ids=x).last_hidden_state
    logits = model.lm_head(hidden) + rest_offset
    losses = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="none")
    return losses.reshape(y.shape) + rest_offset[y]


def compact_loss(model: Any, x: Any, y: Any, rest_offset: Any) -> Any:
    return token_losses(model, x, y, rest_offset).mean()


class LossFunction:
    """compact_loss, compiled by torch.compile when asked and possible: inductor fuses the
    norms, GELU and softmax into C++ kernels (a training step's forward and backward 1.7x faster
    here; the first call compiles, ~30 s, counted in the time budget). Where it cannot compile (no
    C++ compiler, an unsupported platform) the first call says why and training goes on eagerly."""

    def __init__(self, enabled: bool, log: Callable[[str], None]) -> None:
        self.log = log
        self.function: Callable[..., Any] = compact_loss
        self.trying = enabled
        if enabled:
            import torch

            self.function = torch.compile(compact_loss)

    def __call__(self, *args: Any) -> Any:
        if not self.trying:
            return self.function(*args)
        self.trying = False
        try:
            return self.function(*args)
        except Exception as exc:  # inductor's errors have no common base class
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            self.log(f"torch.compile is not available here ({reason[:200]}): training without it, slower")
            self.function = compact_loss
            return compact_loss(*args)


def build_optimizers(config: TrainConfig, model: Any) -> list[Any]:
    """AdamW (weight decay on matrices and the embedding only); with optimizer="muon", Muon
    (icchat.model.muon: its step's RMS matches AdamW's, so the same lr applies) for the blocks'
    weight matrices and AdamW for the embeddings, norms and biases."""
    import torch

    named = list(model.named_parameters())
    if config.optimizer == "adamw":
        matrices: list[Any] = []
        decay = [p for _, p in named if p.dim() >= 2]
    elif config.optimizer == "muon":
        matrices = [p for n, p in named if p.dim() == 2 and n.startswith("transformer.h.")]
        decay = [p for n, p in named if p.dim() >= 2 and not n.startswith("transformer.h.")]
    else:
        raise UserError(f"optimizer {config.optimizer!r}: not adamw or muon")
    plain = [p for _, p in named if p.dim() < 2]
    optimizers = [torch.optim.AdamW([{"params": decay, "weight_decay": config.weight_decay},
                                     {"params": plain, "weight_decay": 0.0}],
                                    lr=config.lr, betas=(0.9, 0.95))]
    if matrices:
        from icchat.model.muon import Muon

        optimizers.append(Muon(matrices, lr=config.lr, weight_decay=config.weight_decay,
                               bf16=matmul_precision(config) == "bf16"))
    return optimizers


def matmul_precision(config: TrainConfig) -> str:
    """bf16 autocast where the CPU multiplies bfloat16 natively (AVX512-BF16 or AMX: 1.6x the
    tokens per second here, the same loss per token); elsewhere bf16 is emulated and slower."""
    if config.precision != "auto":
        if config.precision not in ("bf16", "f32"):
            raise UserError(f"precision {config.precision!r}: not auto, bf16 or f32")
        return config.precision
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "f32"
    return "bf16" if " avx512_bf16" in flags or " amx_bf16" in flags else "f32"


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


def sliding_windows(n: int, block: int) -> list[tuple[int, int]]:
    """(start, first scored position) of each window over n targets: windows of `block` tokens at
    a stride of block/2; each target is scored once, in the first window that gives it at least
    block/2 tokens of context (the first window scores all of its own), as the page runs with
    its full context rather than restarting every `block` tokens."""
    if n <= block:
        return [(0, 0)]
    stride = block // 2
    windows, scored = [(0, 0)], block
    while scored < n:
        start = min(scored + stride - block, n - block)
        windows.append((start, scored))
        scored = start + block
    return windows


EVALUATION = "sliding windows of n_ctx tokens at a stride of n_ctx/2: each held-out token scored once, with >= n_ctx/2 tokens of context"


def validation_losses(model: Any, vocab: CompactVocab, ids: np.ndarray, config: TrainConfig,
                      rest_offset: Any) -> tuple[np.ndarray, np.ndarray]:
    """Each validation target's loss (nats, sliding windows) and whether it is a rest-row token."""
    import torch

    if config.val_tokens:
        ids = ids[:config.val_tokens + 1]
    compact = vocab(ids)
    n, block = len(ids) - 1, min(config.block, len(ids) - 1)
    windows = sliding_windows(n, block)
    losses = np.zeros(n, np.float64)
    model.eval()
    with torch.no_grad():
        for i in range(0, len(windows), 16):
            group = windows[i:i + 16]
            x = torch.from_numpy(np.stack([compact[s:s + block] for s, _ in group]))
            y = torch.from_numpy(np.stack([compact[s + 1:s + block + 1] for s, _ in group]))
            batch = token_losses(model, x, y, rest_offset).double().numpy()
            for row, (start, scored) in zip(batch, group, strict=True):
                losses[scored:start + block] = row[scored - start:]
    model.train()
    return losses, compact[1:] == vocab.rest


def evaluate(model: Any, vocab: CompactVocab, ids: np.ndarray, config: TrainConfig,
             rest_offset: Any) -> float:
    """Mean validation loss, nats per token (sliding windows, see `sliding_windows`)."""
    return float(validation_losses(model, vocab, ids, config, rest_offset)[0].mean())


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
    """Replace the checkpoint atomically; a failed write (a full disk) keeps the previous one."""
    import torch

    tmp = path.with_suffix(".tmp")
    try:
        torch.save(state, tmp)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)  # give the space back; the last good checkpoint stays
        kept = "the previous checkpoint is kept" if path.is_file() else "no checkpoint was written yet"
        raise UserError(f"cannot save the training checkpoint {path} at step {state.get('step')}: "
                        f"{exc.strerror or exc}; {kept}, and the same command resumes from it") from None


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
    optimizers = build_optimizers(config, model)
    bf16 = matmul_precision(config) == "bf16"
    rest_offset = _rest_offset(vocab)
    train_ids = vocab(data.train)
    loss_of = LossFunction(config.compile, log)

    checkpoint = work / CHECKPOINT
    step, total, losses, seconds = 0, config.steps, [], 0.0
    config_json = json.dumps(dataclasses.asdict(config), sort_keys=True)
    if checkpoint.is_file():
        state = torch.load(checkpoint, weights_only=False)
        if state["config"] != config_json or state["corpus_sha256"] != data.corpus_sha256:
            log(f"{checkpoint} is from a different configuration: starting over")
        else:
            model.load_state_dict(state["model"])
            for optimizer, saved in zip(optimizers, state["optimizers"], strict=True):
                optimizer.load_state_dict(saved)
            step, total, losses, seconds = state["step"], state["total"], state["losses"], state["seconds"]
            log(f"resuming from the checkpoint at step {step}/{total or '?'}")

    def save() -> None:
        _save_checkpoint(checkpoint, {"config": config_json, "corpus_sha256": data.corpus_sha256,
                                      "model": model.state_dict(), "optimizers": [o.state_dict() for o in optimizers],
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
            lr = learning_rate(config, step, total or 10**9)
            for optimizer in optimizers:
                for group in optimizer.param_groups:
                    group["lr"] = lr
            x, y = batch_at(config, train_ids, step)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                loss = loss_of(model, torch.from_numpy(x), torch.from_numpy(y), rest_offset)
            for optimizer in optimizers:
                optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            for optimizer in optimizers:
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
                                      or (timed_steps >= 25 and step < total * 9 // 10)):
                # a time budget: fit the schedule to the measured speed (the machine is shared, so
                # re-measure every 25 steps until 90%: a run calibrated under load and then sped up would
                # otherwise stop minutes early; the cosine's end moves a little, never jumps)
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


def training_command(config: TrainConfig) -> str:
    """The `icchat model train` call that runs `config`, or where it came from if no call does."""
    budget = {"steps": config.steps} if config.steps else {"minutes": config.minutes}
    if dataclasses.replace(PRESETS["demo"], seed=config.seed, threads=config.threads, **budget) != config:
        return "icchat.model.train.train_bundle (its configuration: training.config)"
    option, value = next(iter(budget.items()))
    return f"icchat model train --preset demo --{option} {value:g} --seed {config.seed} --threads {config.threads}"


def train_bundle(out: Path, config: TrainConfig, *, work: Path | None = None, checkpoint: Path | None = None,
                 force: bool = False, variants: tuple[str, ...] = ("f32", "q8"),
                 log: Callable[[str], None] = print, progress_stream: Any = None,
                 dataset: Path | None = None, command: str | None = None) -> Result:
    """Train (resuming if a checkpoint is there), write the float16 checkpoint and its provenance
    to `checkpoint` (default: the work directory), validate the model as the checkpoint has it,
    and export the bundle to `out` from the checkpoint, as `icchat up` does from the committed one."""
    from icchat.model import demo_checkpoint

    out = Path(out).expanduser().resolve()
    if out.exists() and not force:
        raise UserError(f"{out} already exists; pass --force to replace it")
    work = work or out.with_name(f"{out.name}.train")
    checkpoint = Path(checkpoint or work).expanduser().resolve()
    commit = demo_checkpoint.current_commit()  # the code that runs, before anyone commits more
    model, vocab, data, record = train(config, work, log=log, progress_stream=progress_stream,
                                       dataset=dataset)
    offset = _rest_offset(vocab)
    f32_loss = evaluate(model, vocab, data.validation, config, offset)
    weights = checkpoint / demo_checkpoint.WEIGHTS
    demo_checkpoint.save_checkpoint(weights, model, vocab.kept, config)
    model, vocab, _ = demo_checkpoint.load_checkpoint(weights)  # validate what the bundle will hold
    losses, rest = validation_losses(model, vocab, data.validation, config, offset)
    val_loss = float(losses.mean())
    log(f"validation: loss {val_loss:.3f}, perplexity {math.exp(val_loss):.1f} ({len(losses):,} held-out tokens, "
        f"float16 checkpoint; {math.exp(f32_loss):.2f} before rounding)")
    final_train_loss = round(sum(record["losses"][-50:]) / max(1, len(record["losses"][-50:])), 4)
    provenance = {
        "source": "trained",
        "name": f"icchat demo (GPT-2 architecture, {config.n_layer} x {config.n_embd})",
        "license": f"{corpus.LICENSE} (its training corpus, {corpus.PACKAGE})",
        "label": "demo model trained on a small chat corpus, not GPT-2's knowledge",
        "checkpoint": {"file": demo_checkpoint.WEIGHTS, "sha256": sha256_file(weights),
                       "bytes": weights.stat().st_size, "dtype": "float16",
                       "contents": f"the trained rows only: {len(vocab.kept):,} kept vocabulary rows + the rest row, "
                                   "positions, blocks, final norm; kept_ids maps rows to GPT-2 ids"},
        "command": command or training_command(config),
        "commit": commit,
        "cpu": demo_checkpoint.cpu_description(),
        "training": {
            "corpus": [{"name": f"{corpus.PACKAGE}=={corpus.PACKAGE_VERSION}", "file": "chitchat_dataset/dataset.json",
                        "license": corpus.LICENSE, "sha256": data.corpus_sha256,
                        "chats": {"train": data.chats[0], "validation": data.chats[1]}}],
            "format": "icchat.chat.template.ChatTemplate turns, one <|endoftext|> per chat",
            "config": dataclasses.asdict(config),
            "matmul_precision": matmul_precision(config),
            "steps": record["steps"], "tokens": record["tokens"],
            "train_tokens_available": len(data.train),
            "seconds": round(record["seconds"], 1),
            "tokens_per_s": round(record["tokens"] / max(record["seconds"], 1e-9), 1),
            "final_train_loss": final_train_loss,
            "validation_tokens": len(losses),
            "validation_method": EVALUATION,
            # the bundle's (float16 checkpoint widened to float32), and the float32 weights' before rounding
            "validation_loss": round(val_loss, 4),
            "validation_perplexity": round(math.exp(val_loss), 2),
            "validation_perplexity_before_float16": round(math.exp(f32_loss), 2),
            # where the loss goes: tokens with their own row vs the shared rest row
            "validation_rest_fraction": round(float(rest.mean()), 4),
            "validation_rest_nats_per_token": round(float(losses[rest].sum() / len(losses)), 4),
            "validation_perplexity_kept_tokens": round(math.exp(float(losses[~rest].mean())), 2),
            "vocab_rows_trained": len(vocab.kept),
        },
    }
    (checkpoint / demo_checkpoint.PROVENANCE).write_text(json.dumps(provenance, indent=2) + "\n")
    log(f"wrote {weights} ({provenance['checkpoint']['bytes'] / 1e6:.1f} MB) and its {demo_checkpoint.PROVENANCE}")
    log(f"exporting the bundle to {out}")
    demo_checkpoint.bundle_from_checkpoint(checkpoint, out, variants=variants, force=force, log=log)
    return Result(out, checkpoint, record["steps"], record["tokens"], record["seconds"], val_loss,
                  math.exp(val_loss), final_train_loss, record["losses"])


def _rest_offset(vocab: CompactVocab) -> Any:
    import torch

    offset = torch.zeros(vocab.size)
    offset[vocab.rest] = math.log(vocab.n_rest)
    return offset
