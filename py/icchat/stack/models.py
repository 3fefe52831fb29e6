"""Which model bundle the local stack runs: `--model gpt2`, `--model PATH`, or the offline fallback.

`gpt2` is the real GPT-2 (124M), exported once from the Hugging Face hub and cached under
build/models/gpt2. When the hub cannot be reached the default falls back, and says so, to the
`demo` model: a small GPT-2 trained on a chat corpus, whose float16 checkpoint is committed in
models/demo (icchat.model.demo_checkpoint); its bundle is exported from it in seconds, once, into
build/models/demo, and again whenever the committed checkpoint changes. It chats in English but
knows nothing, and the page says so. `demo-train` trains the same recipe here instead
(icchat.model.train, ≤ 10 minutes the first time, then cached under build/models/demo-train).
`demo`, `demo-train`, `tiny` and `small` (the last two: seeded random weights, whose text is not
meaningful: the page warns) can also be asked for by name. A cached bundle of an older format
(icchat.model.manifest.FORMAT_VERSION) is made again the same way, with no step by hand.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from icchat.errors import UserError
from icchat.model.manifest import is_current
from icchat.paths import BUILD

MODELS = BUILD / "models"
SEEDED = {"tiny": "tiny-s0", "small": "small-s0"}
DEMO_LABEL = "demo model trained on a small chat corpus, not GPT-2's knowledge"
DEMO_NOTICE = ("this is a small demo model trained on a chat corpus: it chats in English, "
               "but it has none of GPT-2's knowledge.")


@dataclass(frozen=True)
class ModelChoice:
    path: Path
    label: str
    meaningful: bool  # False for random weights: the page warns that the text means nothing
    note: str         # one line for the terminal: why this model
    notice: str = ""  # shown on the page (config.json model_notice), e.g. for the demo model


def _seeded(name: str, log: Callable[[str], None]) -> Path:
    from icchat.model.export import export_bundle

    out = MODELS / SEEDED[name]
    if not is_current(out):
        log(f"exporting the seeded {name} model to {out} (once)")
        export_bundle(out, config=name, seed=0, variants=["f32", "q8"], force=True, log=log)
    return out


def _pretrained_gpt2(log: Callable[[str], None]) -> Path:
    from icchat.model.export import export_bundle

    out = MODELS / "gpt2"
    if not is_current(out):
        log(f"exporting GPT-2 from the Hugging Face hub to {out} (once)")
        export_bundle(out, pretrained="gpt2", variants=["f32", "q8"], force=True, log=log)
    return out


def _demo(log: Callable[[str], None]) -> Path:
    """The committed checkpoint's bundle, exported again when the checkpoint is not the one it was made from."""
    from icchat.model import demo_checkpoint
    from icchat.model.manifest import read_manifest

    out = MODELS / "demo"
    wanted = demo_checkpoint.read_provenance(demo_checkpoint.DEMO_DIR)["checkpoint"]["sha256"]
    if not is_current(out) or read_manifest(out)["provenance"].get("checkpoint", {}).get("sha256") != wanted:
        log(f"exporting the demo model from its committed checkpoint ({demo_checkpoint.DEMO_DIR}) to {out}")
        demo_checkpoint.bundle_from_checkpoint(demo_checkpoint.DEMO_DIR, out, force=True, log=log)
    return out


def _demo_trained(log: Callable[[str], None]) -> Path:
    out = MODELS / "demo-train"
    if not is_current(out):
        from icchat.model.train import PRESETS, train_bundle

        minutes = PRESETS["demo"].minutes
        log(f"training the demo model once (about {minutes + 1:.0f} minutes on 2 cores; cached in {out}, "
            "and an interrupted run resumes)")
        train_bundle(out, PRESETS["demo"], force=True, log=log)
    return out


def _demo_choice(log: Callable[[str], None], note: str) -> ModelChoice:
    return ModelChoice(_demo(log), DEMO_LABEL, True, note, DEMO_NOTICE)


def _checkpoint(name: str, log: Callable[[str], None]) -> ModelChoice:
    """A Hugging Face GPT-2-family checkpoint: a hub id (online, or in the local HF cache) or a
    local checkpoint directory, exported once under build/models/hf/ (a changed directory: pass
    it to `icchat model export --force` yourself), then run like any bundle."""
    from icchat.model.export import export_bundle
    from icchat.model.manifest import read_manifest

    local = Path(name).expanduser()
    where = str(local.resolve()) if local.exists() else name
    out = MODELS / "hf" / re.sub(r"[^A-Za-z0-9._-]+", "--", where).strip("-.")
    if not is_current(out):
        log(f"exporting {name} to {out} (once)")
        export_bundle(out, pretrained=where, variants=["f32", "q8"], force=True, log=log)
    provenance = read_manifest(out)["provenance"]
    return ModelChoice(out, str(provenance.get("name") or name), True, f"the checkpoint {name}")


def hub_reachable() -> bool:
    from icchat.model.source import _hub_reachable

    return _hub_reachable(timeout=3.0)


def choose_model(name: str | None, log: Callable[[str], None] = print) -> ModelChoice:
    """The bundle for `--model NAME` (None: gpt2 when the hub answers, else the offline fallback)."""
    if name is None:
        if hub_reachable():
            return ModelChoice(_pretrained_gpt2(log), "GPT-2 (124M)", True, "the real GPT-2 (default)")
        return _demo_choice(log, "the Hugging Face hub is unreachable, so this runs the offline default: "
                                 "the demo model, trained on a small chat corpus (English chit-chat, "
                                 "not GPT-2's knowledge; its checkpoint is in the repository); "
                                 "--model demo-train|tiny|gpt2|PATH overrides")
    if name == "demo":
        return _demo_choice(log, "the demo model (its checkpoint committed in models/demo)")
    if name == "demo-train":
        return ModelChoice(_demo_trained(log), DEMO_LABEL, True,
                           "the demo model's recipe, trained on this machine", DEMO_NOTICE)
    if name == "gpt2":
        if not is_current(MODELS / "gpt2") and not hub_reachable():
            raise UserError("--model gpt2 needs the Hugging Face hub once (to export the weights), and it "
                            "is unreachable; use --model tiny, or --model PATH with an exported bundle")
        return ModelChoice(_pretrained_gpt2(log), "GPT-2 (124M)", True, "the real GPT-2")
    if name in SEEDED:
        shape = "2 layers, 128 wide" if name == "tiny" else "GPT-2 124M shape"
        return ModelChoice(_seeded(name, log), f"{name} seeded GPT-2 (random weights)", False,
                           f"seeded {name} model ({shape}, random weights: its text is not meaningful)")
    path = Path(name).expanduser()
    if not (path / "manifest.json").is_file():
        if (path / "config.json").is_file() or not path.exists():
            return _checkpoint(name, log)
        raise UserError(f"--model {name}: not gpt2, demo, demo-train, tiny, small, a Hugging Face GPT-2 checkpoint "
                        f"or a bundle directory with a manifest.json (make one with `icchat model export`)")
    from icchat.model.manifest import read_manifest

    manifest = read_manifest(path)
    provenance = manifest.get("provenance", {})
    random_weights = provenance.get("source") == "config"
    if provenance.get("source") == "trained":
        return ModelChoice(path.resolve(), str(provenance.get("label") or path.name), True,
                           f"the bundle in {path}", DEMO_NOTICE if provenance.get("label") == DEMO_LABEL else "")
    if random_weights:
        label = f"{provenance.get('config', path.name)} seeded GPT-2 (random weights)"
    else:
        label = str(provenance.get("pretrained") or provenance.get("source") or path.name)
    return ModelChoice(path.resolve(), label, not random_weights, f"the bundle in {path}")
