"""The deploy steps of `icchat up`: which modules to install, which files to upload where.

The gpt2 canister gets the part of the bundle that browsers and the canister use (tokenizer,
the int8 and fp32 ONNX decoders, one canister weight file) under /model/, with a manifest that
lists exactly those files; the frontend canister gets the built page plus its deploy-time
config.json (where the model and the API are) and the headers in .ic-assets.json5.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from icchat.errors import UserError
from icchat.model.manifest import MANIFEST, read_manifest

MODEL_PREFIX = "/model/"
BROWSER_ROLES = {"tokenizer", "config"}
BROWSER_ONNX_VARIANTS = {"q8", "fp32"}


def modules(outputs: dict[str, Path]) -> dict[str, bytes]:
    """The WASM for each canister; gzipped when that is what fits one ingress message."""
    def module(path: Path) -> bytes:
        gz = path.with_name(path.name + ".gz")
        return gz.read_bytes() if gz.is_file() else path.read_bytes()

    return {"gpt2": module(outputs["gpt2"]), "frontend": module(outputs["assets"])}


def _link_tree(files: dict[str, Path], out: Path) -> None:
    """Make `out` hold exactly `files` (relative path -> source), hard-linked where possible."""
    if out.exists():
        shutil.rmtree(out)
    for relative, source in files.items():
        target = out / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(source, target)
        except OSError:
            shutil.copy2(source, target)


def _write_new(path: Path, text: str) -> None:
    """Write `path` as a new file: in a hard-linked tree, writing in place would change the source."""
    path.unlink(missing_ok=True)
    path.write_text(text)


def served_model_files(bundle: Path, onchain_dtype: str) -> tuple[dict[str, Any], dict[str, Path]]:
    """The served manifest and the files it lists: what the page and the gpt2 canister need."""
    manifest = read_manifest(bundle)
    chosen = []
    for entry in manifest["files"]:
        role, variant = entry.get("role"), entry.get("variant") or entry.get("dtype")
        wanted = (role in BROWSER_ROLES or (role == "onnx-decoder" and variant in BROWSER_ONNX_VARIANTS)
                  or (role == "canister-weights" and variant == onchain_dtype))
        if wanted:
            chosen.append(entry)
    if not any(e.get("role") == "canister-weights" for e in chosen):
        raise UserError(f"{bundle} has no {onchain_dtype} canister weight file; re-export it")
    served = dict(manifest, files=chosen)
    return served, {e["path"]: bundle / e["path"] for e in chosen}


def prepare_model_folder(bundle: Path, onchain_dtype: str, folder: Path) -> str:
    """Lay out in `folder` what the gpt2 canister serves under /model/: the browser's files, the
    `onchain_dtype` weight file, a manifest listing exactly them, and their headers (public files
    read cross-origin: CORS "*" and CORP cross-origin). Returns the manifest's SHA-256 (hex)."""
    from icchat.build.web import render_model_ic_assets

    served, files = served_model_files(bundle, onchain_dtype)
    _link_tree(files, folder)
    text = json.dumps(served, indent=2) + "\n"
    _write_new(folder / MANIFEST, text)
    _write_new(folder / ".ic-assets.json5", render_model_ic_assets())
    return hashlib.sha256(text.encode()).hexdigest()


def deploy_model(agent: Any, info: Any, options: Any, log: Callable[[str], None]) -> dict[str, Any]:
    """Upload the served part of the bundle to the gpt2 canister under /model/ in one batch (the
    canister switches files and model together), with a progress bar."""
    from icchat.deploy import TerminalProgress, sync_folder

    folder = options.state_dir / "upload" / "model"
    manifest_sha256 = prepare_model_folder(info.model.path, options.onchain_dtype, folder)
    report = sync_folder(agent, info.gpt2, folder, prefix=MODEL_PREFIX, progress=TerminalProgress(sys.stderr),
                         journal=options.state_dir / "deploy" / f"{info.gpt2}.json")
    log(f"  {report.summary()}")
    return {"label": info.model.label, "path": str(info.model.path), "meaningful": info.model.meaningful,
            "manifest_sha256": manifest_sha256, "onchain_dtype": options.onchain_dtype}


def page_prices() -> dict[str, Any]:
    """The few numbers of the IC price table (icchat.ic.prices.IC_PRICES) the page needs
    for its mainnet cycles estimate of an onchain answer, with the table's source and date."""
    from icchat.ic.prices import IC_PRICES

    keys = ("source", "read_on", "subnet", "update_message_execution_cycles", "cycles_per_instruction",
            "ingress_message_reception_cycles", "ingress_byte_reception_cycles", "query_call_cycles",
            "cycles_per_xdr", "usd_per_xdr", "usd_rate_date")
    return {k: IC_PRICES[k] for k in keys}


def deploy_page(agent: Any, info: Any, options: Any, log: Callable[[str], None]) -> None:
    from icchat.build.web import WEB_OUT, render_ic_assets
    from icchat.deploy import TerminalProgress, sync_folder

    files = {str(p.relative_to(WEB_OUT)): p for p in WEB_OUT.rglob("*") if p.is_file()}
    folder = options.state_dir / "upload" / "site"
    _link_tree(files, folder)
    model_origin = info.model_base.rsplit("/model/", 1)[0]
    api_origin = f"http://localhost:{info.port}"
    # the manifest deploy_model just uploaded: the page checks it is the one the canister certifies
    manifest_sha256 = hashlib.sha256((options.state_dir / "upload" / "model" / MANIFEST).read_bytes()).hexdigest()
    config = {"model_base": info.model_base, "network": "local", "api_host": api_origin,
              "gpt2_canister": str(info.gpt2), "model_label": info.model.label,
              "model_meaningful": info.model.meaningful, "model_notice": info.model.notice,
              "manifest_sha256": manifest_sha256,
              "onchain_dtype": options.onchain_dtype, "ic_prices": page_prices()}
    _write_new(folder / "config.json", json.dumps(config, indent=2) + "\n")
    _write_new(folder / ".ic-assets.json5", render_ic_assets(model_origin, api_origin))
    report = sync_folder(agent, info.frontend, folder, progress=TerminalProgress(sys.stderr),
                         journal=options.state_dir / "deploy" / f"{info.frontend}.json")
    log(f"  {report.summary()}")

