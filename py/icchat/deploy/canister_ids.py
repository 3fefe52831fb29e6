"""canister_ids.json in dfx's format: which canister id each name has on each network.

    {"frontend": {"ic": "<id>"}, "gpt2": {"ic": "<id>"}}

dfx writes it at the project root for persistent networks (`dfx canister create --network ic`);
icp-cli keeps the same mapping per environment in .icp/data/mappings/<env>.ids.json
({"frontend": "<id>", ...}), which is read as a fallback. The local stack (`icchat up`) keeps its
own in .state/canister_ids.json under `local`, as dfx keeps .dfx/local/canister_ids.json.
Written atomically.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from icchat.errors import UserError
from icchat.ic.principal import Principal
from icchat.paths import REPO

CANISTER_IDS = REPO / "canister_ids.json"
ICP_CLI_MAPPINGS = REPO / ".icp" / "data" / "mappings"


def load(path: Path) -> dict[str, dict[str, str]]:
    """The mapping in `path` ({} if the file does not exist); a malformed file is an error."""
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise UserError(f"{path}: not readable as canister_ids.json ({exc})") from None
    if not isinstance(raw, dict) or not all(isinstance(v, dict) for v in raw.values()):
        raise UserError(f'{path}: expected {{"<canister>": {{"<network>": "<id>"}}}}')
    return {name: {str(k): str(v) for k, v in networks.items()} for name, networks in raw.items()}


def lookup(path: Path, name: str, network: str, icp_mappings: Path | None = ICP_CLI_MAPPINGS) -> Principal | None:
    """The id of canister `name` on `network` from `path`, else from icp-cli's mapping."""
    text = load(path).get(name, {}).get(network)
    if text is None and icp_mappings is not None:
        try:
            text = json.loads((icp_mappings / f"{network}.ids.json").read_text()).get(name)
        except (OSError, ValueError, AttributeError):
            text = None
    if text is None:
        return None
    try:
        return Principal.from_text(text)
    except ValueError as exc:
        raise UserError(f"{path}: {name}.{network} is not a canister id ({exc})") from None


def record(path: Path, name: str, network: str, canister_id: Principal) -> None:
    """Set `name`'s id on `network`, keeping every other entry."""
    ids = load(path)
    ids.setdefault(name, {})[network] = str(canister_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(ids, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)
