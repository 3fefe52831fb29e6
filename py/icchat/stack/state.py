"""What the local stack has deployed, kept in .state/local.json between runs of `icchat up`.

Canister ids, the module hash installed in each, and the model bundle uploaded, so a second run
reuses the canisters and uploads only what changed. Written atomically (a crash mid-write keeps
the previous file).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class DeployedCanister:
    canister_id: str
    module_sha256: str = ""


@dataclass
class LocalState:
    canisters: dict[str, DeployedCanister] = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)  # label, path, manifest sha256, meaningful

    @classmethod
    def load(cls, path: Path) -> LocalState:
        try:
            raw = json.loads(path.read_text())
        except (OSError, ValueError):
            return cls()
        canisters = {name: DeployedCanister(**entry) for name, entry in raw.get("canisters", {}).items()}
        return cls(canisters=canisters, model=dict(raw.get("model", {})))

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2) + "\n")
        os.replace(tmp, path)
