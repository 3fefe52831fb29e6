"""manifest.json: what a bundle holds (every file with size, SHA-256, role, variant, dtype),
the model's dimensions, and where it came from."""

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
FORMAT_VERSION = 1


def file_entry(root: Path, relative: str, role: str, **extra: Any) -> dict[str, Any]:
    path = root / relative
    return {"path": relative, "size": path.stat().st_size, "sha256": sha256_file(path),
            "role": role, **extra}


def write_manifest(root: Path, files: list[dict[str, Any]], dims: Dimensions, parameters: int,
                   provenance: dict[str, Any]) -> Path:
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model": {"architecture": "gpt2", **asdict(dims), "parameters": parameters},
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
    return manifest


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
