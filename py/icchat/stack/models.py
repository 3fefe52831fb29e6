"""Which model bundle the local stack runs: `--model gpt2`, `--model PATH`, or the offline fallback.

`gpt2` is the real GPT-2 (124M), exported once from the Hugging Face hub and cached under
build/models/gpt2. When the hub cannot be reached the default falls back, and says so, to the
seeded `tiny` model: GPT-2's architecture and tokenizer with random weights, whose text is not
meaningful (the page warns). `tiny` and `small` (124M shape, random) can also be asked for by name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from icchat.errors import UserError
from icchat.paths import BUILD

MODELS = BUILD / "models"
SEEDED = {"tiny": "tiny-s0", "small": "small-s0"}


@dataclass(frozen=True)
class ModelChoice:
    path: Path
    label: str
    meaningful: bool  # False for random weights: the page warns that the text means nothing
    note: str         # one line for the terminal: why this model


def _seeded(name: str, log: Callable[[str], None]) -> Path:
    from icchat.model.export import export_bundle

    out = MODELS / SEEDED[name]
    if not (out / "manifest.json").is_file():
        log(f"exporting the seeded {name} model to {out} (once)")
        export_bundle(out, config=name, seed=0, variants=["fp32", "q8"], log=log)
    return out


def _pretrained_gpt2(log: Callable[[str], None]) -> Path:
    from icchat.model.export import export_bundle

    out = MODELS / "gpt2"
    if not (out / "manifest.json").is_file():
        log(f"exporting GPT-2 from the Hugging Face hub to {out} (once)")
        export_bundle(out, pretrained="gpt2", variants=["fp32", "q8"], log=log)
    return out


def hub_reachable() -> bool:
    from icchat.model.source import _hub_reachable

    return _hub_reachable(timeout=3.0)


def choose_model(name: str | None, log: Callable[[str], None] = print) -> ModelChoice:
    """The bundle for `--model NAME` (None: gpt2 when the hub answers, else the offline fallback)."""
    if name is None:
        if hub_reachable():
            return ModelChoice(_pretrained_gpt2(log), "GPT-2 (124M)", True, "the real GPT-2 (default)")
        return ModelChoice(_seeded("tiny", log), "tiny seeded GPT-2 (random weights)", False,
                           "the Hugging Face hub is unreachable, so this runs the offline fallback: a tiny "
                           "GPT-2 with random weights (its text is not meaningful); pass --model PATH for "
                           "a bundle of your own")
    if name == "gpt2":
        if not (MODELS / "gpt2" / "manifest.json").is_file() and not hub_reachable():
            raise UserError("--model gpt2 needs the Hugging Face hub once (to export the weights), and it "
                            "is unreachable; use --model tiny, or --model PATH with an exported bundle")
        return ModelChoice(_pretrained_gpt2(log), "GPT-2 (124M)", True, "the real GPT-2")
    if name in SEEDED:
        shape = "2 layers, 128 wide" if name == "tiny" else "GPT-2 124M shape"
        return ModelChoice(_seeded(name, log), f"{name} seeded GPT-2 (random weights)", False,
                           f"seeded {name} model ({shape}, random weights: its text is not meaningful)")
    path = Path(name).expanduser()
    if not (path / "manifest.json").is_file():
        raise UserError(f"--model {name}: not gpt2, tiny, small, or a bundle directory with a manifest.json "
                        f"(make one with `icchat model export`)")
    from icchat.model.manifest import read_manifest

    manifest = read_manifest(path)
    provenance = manifest.get("provenance", {})
    random_weights = provenance.get("source") == "config"
    if random_weights:
        label = f"{provenance.get('config', path.name)} seeded GPT-2 (random weights)"
    else:
        label = str(provenance.get("pretrained") or provenance.get("source") or path.name)
    return ModelChoice(path.resolve(), label, not random_weights, f"the bundle in {path}")
