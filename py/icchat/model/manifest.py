"""manifest.json: what a bundle holds (every file with size, SHA-256, role, variant, dtype),
the model's dimensions, and where it came from.

A file's `variant` is its precision, `q8` or `f32` (plus the ONNX decoder's `f32-optimized` and
`q4`). Format 2 introduced these names (format 1 said `fp32` for the ONNX decoders); a reader
refuses any other format, saying how to rebuild the bundle.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from icchat.digest import sha256_file
from icchat.errors import UserError
from icchat.model.source import Dimensions

MANIFEST = "manifest.json"
FORMAT = "icchat-model-bundle"
FORMAT_VERSION = 2
PRECISIONS = ("q8", "f32")  # what the page and the gpt2 canister run: the variants they are served


def file_entry(root: Path, relative: str, role: str, **extra: Any) -> dict[str, Any]:
    path = root / relative
    return {"path": relative, "size": path.stat().st_size, "sha256": sha256_file(path),
            "role": role, **extra}


def write_manifest(root: Path, files: list[dict[str, Any]], dims: Dimensions, parameters: int,
                   provenance: dict[str, Any], *, model_extra: dict[str, Any] | None = None,
                   chat: dict[str, Any] | None = None, tokenizer: dict[str, Any] | None = None) -> Path:
    """model_extra: eos_token_id, bos_token_id; chat: the chat format (ChatTemplate.to_record);
    tokenizer: {"added_tokens": [{id, content, special}]}. Absent, a reader uses GPT-2's."""
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model": {"architecture": "gpt2", **asdict(dims), "parameters": parameters, **(model_extra or {})},
        **({"chat": chat} if chat else {}),
        **({"tokenizer": tokenizer} if tokenizer else {}),
        "provenance": provenance,
        "files": sorted(files, key=lambda f: f["path"]),
    }
    path = root / MANIFEST
    path.write_text(json.dumps(manifest, indent=2) + "\n")
    return path


def read_manifest(root: Path) -> dict[str, Any]:
    path = Path(root) / MANIFEST
    if not path.is_file():
        raise UserError(f"{root} is not a model bundle: no {MANIFEST}")
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise UserError(f"{path} is not valid JSON: {exc}") from None
    if manifest.get("format") != FORMAT:
        raise UserError(f"{path} is not an {FORMAT} manifest")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise UserError(f"{path} is format version {manifest.get('format_version')}, this icchat reads "
                        f"{FORMAT_VERSION}: rebuild it with `{rebuild_command(root, manifest)}`")
    return manifest


def is_current(root: Path) -> bool:
    """Whether `root` holds a bundle this icchat reads (one of an older format is rebuilt)."""
    try:
        read_manifest(root)
    except UserError:
        return False
    return True


def rebuild_command(root: Path, manifest: dict[str, Any]) -> str:
    """The icchat command that makes the bundle at `root` again, from its provenance."""
    provenance = manifest.get("provenance", {})
    if provenance.get("source") == "trained":
        return f"icchat model train --preset demo --out {root} --force"
    if provenance.get("source") == "config":
        what = f"--config {provenance.get('config')} --seed {provenance.get('seed', 0)}"
    else:
        what = f"--from-pretrained {provenance.get('pretrained', 'gpt2')}"
    if provenance.get("n_ctx"):
        what += f" --n-ctx {provenance['n_ctx']}"
    return f"icchat model export {what} --out {root} --force"


def verify_bundle(root: Path) -> dict[str, Any]:
    """Re-hash every file listed in the manifest; a UserError names the first bad one."""
    root = Path(root)
    manifest = read_manifest(root)
    for entry in manifest["files"]:
        path = root / entry["path"]
        if not path.is_file():
            raise UserError(f"{path} is listed in the manifest but missing")
        if path.stat().st_size != entry["size"]:
            raise UserError(f"{path} has {path.stat().st_size} bytes, manifest says {entry['size']}")
        if sha256_file(path) != entry["sha256"]:
            raise UserError(f"{path} does not match its SHA-256 in the manifest")
    return manifest


def find_file(manifest: dict[str, Any], role: str, variant: str | None = None) -> str:
    for entry in manifest["files"]:
        if entry["role"] == role and (variant is None or entry.get("variant") == variant):
            return entry["path"]
    raise UserError(f"the bundle has no {role} file" + (f" of variant {variant}" if variant else ""))
