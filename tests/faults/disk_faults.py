"""Fault scenario 5: a full disk (ENOSPC at a chosen write) while the replica checkpoints two
changed canisters and while a training run checkpoints: a clear one-line error, the last good
state kept, nothing half-written left, and nothing lost once space is back."""

from __future__ import annotations

import contextlib
import errno
import os
import random
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from live_replica import ScenarioRecord, assets_wasm

from icchat.ic.principal import Principal


@contextlib.contextmanager
def disk_full_after(target: Any, name: str, writes: int, where: Callable[[Any], bool] = lambda _: True):
    """Make `target.name` (a write function whose first argument is the path) fail with ENOSPC
    once `writes` matching calls went through: a full disk at a chosen write. Yields the count
    of refused writes."""
    real = getattr(target, name)
    seen, refused = [0], [0]

    def write(path: Any, *args: Any, **kwargs: Any) -> Any:
        if where(path):
            seen[0] += 1
            if seen[0] > writes:
                refused[0] += 1
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real(path, *args, **kwargs)

    setattr(target, name, write)
    try:
        yield refused
    finally:
        setattr(target, name, real)


def _serves(replica: Any, canister_id: Principal, key: str) -> bytes | None:
    from icchat.assets_canister import AssetsCanister
    from icchat.replica import Reject

    try:
        return AssetsCanister(replica, canister_id).content(key)
    except Reject:
        return None


def full_disk_replica_checkpoint(root: Path) -> ScenarioRecord:
    """Two asset canisters change; the disk fills at the second canister's files (and, second
    case, at the MANIFEST): a clear error, the last checkpoint kept, and nothing lost once space
    is back (the attempt consumed dirty-page records: they must be written again)."""
    from icchat.assets_canister import CONTROLLER, AssetsCanister, Upload
    from icchat.replica import Replica, persistence

    record = ScenarioRecord("full_disk_replica_checkpoint",
                            "ENOSPC from the replica's state writes (at a canister's files, then at the "
                            "MANIFEST) while it checkpoints two changed asset canisters")
    wasm = assets_wasm()
    state = root / "replica"
    for case, fails_at in (("canister files", lambda p: "canisters" in str(p)),
                           ("manifest", lambda p: Path(p).name == "MANIFEST")):
        shutil.rmtree(state, ignore_errors=True)
        with Replica(state) as replica:
            ids = []
            for _ in range(2):
                canister_id = replica.create_canister(controllers=[CONTROLLER])
                replica.install_code(canister_id, wasm, sender=CONTROLLER)
                ids.append(canister_id)
            for i, canister_id in enumerate(ids):
                AssetsCanister(replica, canister_id).upload({"/a.bin": Upload(random.Random(i).randbytes(300_000), "application/octet-stream")})
            replica.checkpoint()
            good_manifest = (state / "MANIFEST").read_bytes()
            new = {cid: random.Random(10 + i).randbytes(500_000) for i, cid in enumerate(ids)}
            for canister_id, data in new.items():
                AssetsCanister(replica, canister_id).upload({"/a.bin": Upload(data, "application/octet-stream")},
                                                            delete=["/a.bin"])
            # the first canister's files go through, the second one's (or the MANIFEST) hit a full disk
            allowed = 3 if case == "canister files" else 0
            error = None
            with disk_full_after(persistence, "_write_new", allowed, fails_at) as refused:
                try:
                    replica.checkpoint()
                except persistence.StateError as exc:
                    error = str(exc)
            record.check(f"{case}: the full disk was hit", refused[0] >= 1)
            record.check(f"{case}: a clear one-line error naming the cause and what is kept",
                         error is not None and "No space left on device" in error and "kept" in error
                         and "\n" not in error, error)
            record.check(f"{case}: the last good MANIFEST is untouched",
                         (state / "MANIFEST").read_bytes() == good_manifest)
            leftovers = [str(p.relative_to(state)) for p in state.rglob("*.tmp")]
            record.check(f"{case}: no half-written file is left taking space", not leftovers, leftovers or None)
            copy = root / f"copy-{case.replace(' ', '-')}"
            shutil.copytree(state, copy, ignore=shutil.ignore_patterns("LOCK"))
            with Replica(copy) as restarted:
                old = [_serves(restarted, cid, "/a.bin") for cid in ids]
            expected = [random.Random(i).randbytes(300_000) for i in range(len(ids))]
            record.check(f"{case}: a restart from the disk sees the last good checkpoint whole", old == expected)
            replica.checkpoint()  # space is back
        with Replica(state) as reopened:
            now = [_serves(reopened, cid, "/a.bin") for cid in ids]
        record.check(f"{case}: once space is back the next checkpoint keeps every change",
                     now == list(new.values()))
    return record.done()


def full_disk_training_checkpoint(root: Path) -> ScenarioRecord:
    """A training run (icchat.model.train, a tiny configuration) whose second checkpoint write
    hits a full disk: a clear error, the first checkpoint kept, and the same command resumes
    from it and completes."""
    import torch

    from icchat.errors import UserError
    from icchat.model import train
    record = ScenarioRecord("full_disk_training_checkpoint",
                            "ENOSPC halfway through writing a training checkpoint (torch.save)")
    config = train.TrainConfig(n_layer=1, n_head=2, n_embd=64, block=64, batch=4, steps=12, warmup=3, lr=3e-3,
                               keep_vocab=2048, max_chats=300, checkpoint_every=6, threads=1)
    work, dataset = root / "run", _small_chats(root / "chats.json")
    real_save = torch.save

    def half_then_full(obj: Any, path: Any, *args: Any, **kwargs: Any) -> None:
        real_save(obj, path, *args, **kwargs)
        size = Path(path).stat().st_size
        with open(path, "r+b") as f:
            f.truncate(size // 2)  # the disk filled halfway through this file
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    error = None
    torch.save = _count_then(real_save, 1, half_then_full)  # the second (and last) checkpoint fails
    try:
        train.train(config, work, log=lambda _: None, dataset=dataset)
    except UserError as exc:
        error = str(exc)
    finally:
        torch.save = real_save
    record.check("a clear one-line error naming the cause and what is kept",
                 error is not None and "No space left on device" in error and "kept" in error and "\n" not in error,
                 error)
    kept = torch.load(work / train.CHECKPOINT, weights_only=False)
    record.check("the last good checkpoint (step 6) still loads", kept["step"] == 6, kept["step"])
    record.check("no half-written checkpoint is left", not list(work.glob("*.tmp")))
    messages: list[str] = []
    _, _, _, resumed = train.train(config, work, log=messages.append, dataset=dataset)
    record.check("the same command resumes from it", any("resuming from the checkpoint at step 6" in m
                                                          for m in messages), messages[:3])
    # (that a resumed run equals an uninterrupted one is tests/model/test_train.py's)
    record.check("and completes the run from the kept steps", resumed["steps"] == config.steps
                 and resumed["losses"][:len(kept["losses"])] == kept["losses"], resumed["steps"])
    return record.done()


def _small_chats(path: Path) -> Path:
    """A small chat corpus in the dataset's format (the real one takes seconds to read)."""
    import json

    rng = random.Random(0)
    words = ["hi", "hello", "how", "are", "you", "fine", "thanks", "what", "is", "the", "weather", "like", "today", "good", "bad", "rain", "sun"]
    chats = {f"chat-{i:04d}": {"messages": [[{"text": " ".join(rng.choices(words, k=rng.randint(3, 12))), "sender": s}]
                                            for s in ("a", "b", "a", "b")]} for i in range(300)}
    path.write_text(json.dumps(chats))
    return path


def _count_then(first: Callable[..., Any], times: int, then: Callable[..., Any]) -> Callable[..., Any]:
    """A function that behaves as `first` for `times` calls, then as `then`."""
    calls = [0]

    def call(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return first(*args, **kwargs) if calls[0] <= times else then(*args, **kwargs)

    return call
