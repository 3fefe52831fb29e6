"""The two folders a deploy uploads, on any network: the gpt2 canister's /model/ and the page.

- model: the part of a bundle that browsers and the canister use (tokenizer, the q8 and f32
  ONNX decoders, one canister weight file), with a manifest that lists exactly those files and
  their headers (public files read cross-origin);
- page: build/web plus its deploy-time config.json (where the model and the API are: the one
  writer of that file) and the .ic-assets.json5 whose CSP names the model's and the API's origins.

`icchat build` lays out build/ic/web (the page as dfx.json and icp.yaml upload it to mainnet);
`icchat up` and `icchat deploy --app` (icchat.stack.app) lay out both folders under .state/.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

from icchat.deploy import canister_ids
from icchat.deploy.network import MAINNET_GATEWAY_DOMAIN, Network
from icchat.errors import UserError
from icchat.ic.prices import page_prices
from icchat.ic.principal import Principal
from icchat.model.manifest import MANIFEST, PRECISIONS, read_manifest
from icchat.paths import BUILD

MODEL_PREFIX = "/model/"
BROWSER_ROLES = {"tokenizer", "config"}
IC_SITE = BUILD / "ic" / "web"  # what dfx.json / icp.yaml upload to the frontend canister


def link_tree(files: dict[str, Path], out: Path) -> None:
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


def write_new(path: Path, text: str) -> None:
    """Write `path` as a new file: in a hard-linked tree, writing in place would change the source."""
    path.unlink(missing_ok=True)
    path.write_text(text)


# --- the gpt2 canister's /model/ ------------------------------------------------------------------

def served_model_files(bundle: Path, onchain_dtype: str) -> tuple[dict[str, Any], dict[str, Path]]:
    """The served manifest and the files it lists: what the page and the gpt2 canister need."""
    manifest = read_manifest(bundle)
    chosen = []
    for entry in manifest["files"]:
        role, variant = entry.get("role"), entry.get("variant")
        wanted = (role in BROWSER_ROLES or (role == "onnx-decoder" and variant in PRECISIONS)
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
    link_tree(files, folder)
    text = json.dumps(served, indent=2) + "\n"
    write_new(folder / MANIFEST, text)
    write_new(folder / ".ic-assets.json5", render_model_ic_assets())
    return hashlib.sha256(text.encode()).hexdigest()


# --- the page ----------------------------------------------------------------------------------

def page_config(network: Network, gpt2: Principal | str, model: dict[str, Any],
                llm_route: Principal | str | None = None) -> dict[str, Any]:
    """config.json for the page (network, hosts and canister are fallbacks: web/network.mjs derives
    them from the page's URL). `model`: label, meaningful, and optionally notice, manifest_sha256
    (the manifest the page checks the gpt2 canister certifies) and onchain_dtype. `llm_route`: the
    route canister the LLM service position calls (None: the page does not offer it)."""
    config = {"model_base": f"{network.gateway(gpt2)}{MODEL_PREFIX}", "network": "ic" if network.mainnet else "local",
              "api_host": network.url, "gpt2_canister": str(gpt2), "model_label": model.get("label", ""),
              "model_meaningful": bool(model.get("meaningful", False))}
    config.update({k: model[k] for k in ("manifest_sha256", "onchain_dtype") if model.get(k)})
    if model.get("notice"):
        config["model_notice"] = model["notice"]
    config["ic_prices"] = page_prices()  # for the page's mainnet cycles estimate of an onchain answer
    if llm_route is not None:
        config["llm_route_canister"] = str(llm_route)
    return config


def site_ic_assets(network: Network, gpt2: Principal | str | None) -> str:
    """The page's .ic-assets.json5 for `network`: the CSP names the gpt2 canister's origin (every
    canister's on mainnet while its id is unknown) and the API host."""
    from icchat.build.web import render_ic_assets

    model_origin = network.gateway(gpt2) if gpt2 else f"https://*.{MAINNET_GATEWAY_DOMAIN}"
    return render_ic_assets(model_origin, network.url)


def prepare_site(folder: Path, network: Network, gpt2: Principal | str | None, model: dict[str, Any],
                 llm_route: Principal | str | None = None) -> Path:
    """`folder` = build/web (hard links) + config.json and .ic-assets.json5 for `network`."""
    from icchat.build.web import WEB_OUT

    files = {str(p.relative_to(WEB_OUT)): p for p in WEB_OUT.rglob("*")
             if p.is_file() and p.name not in ("config.json", ".ic-assets.json5")}
    link_tree(files, folder)
    if gpt2 is not None:
        write_new(folder / "config.json", json.dumps(page_config(network, gpt2, model, llm_route), indent=2) + "\n")
    write_new(folder / ".ic-assets.json5", site_ic_assets(network, gpt2))
    return folder


def build_ic_site() -> Path:
    """build/ic/web: the page as dfx.json and icp.yaml upload it to mainnet (an `icchat build`
    step). config.json is written once canister_ids.json (or icp-cli's mapping) knows the gpt2
    canister; until then the page derives everything it can from its URL. It names llm_route
    when that is known too (the page then offers the LLM service)."""
    network = Network.parse("ic")
    gpt2 = canister_ids.lookup(canister_ids.CANISTER_IDS, "gpt2", "ic")
    llm_route = canister_ids.lookup(canister_ids.CANISTER_IDS, "llm_route", "ic")
    return prepare_site(IC_SITE, network, gpt2, {"label": "GPT-2 (124M)", "meaningful": True}, llm_route)
