"""The local replica: runs canister WASM under the IC System API, semantics and limits.

    from icchat.replica import Replica, Reject
    with Replica() as replica:                      # Replica(state_dir=...) persists
        cid = replica.create_canister(controllers=[me], cycles=10**12)
        replica.install_code(cid, wasm, sender=me)
        replica.update(cid, "method", arg, sender=me)

See docs/replica.md. Names are imported lazily so that submodules (the metering layer, the
HTTP interface) can be imported without loading the whole engine.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Replica": "icchat.replica.replica",
    "CanisterInfo": "icchat.replica.certification",
    "Certification": "icchat.replica.certification",
    "Reject": "icchat.replica.errors",
    "RejectCode": "icchat.replica.errors",
    "ErrorCode": "icchat.replica.errors",
    "IngressTooLarge": "icchat.replica.errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'icchat.replica' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
