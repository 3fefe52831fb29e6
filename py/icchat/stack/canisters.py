"""Install-or-upgrade for the stack's canisters, on top of icchat.ic.management.

The module hash the IC reports is the SHA-256 of the module as it was sent (gzipped or not), so
the stack always sends the same bytes for the same build (deterministic gzip) and compares hashes
to skip an install that would change nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from icchat.ic import management
from icchat.ic.principal import Principal


def module_sha256(agent: Any, canister_id: Principal) -> str:
    """Hex SHA-256 of the installed module, "" when the canister is empty."""
    module_hash = management.canister_status(agent, canister_id).get("module_hash")
    return module_hash.hex() if module_hash else ""


def ensure_installed(agent: Any, canister_id: Principal, wasm: bytes,
                     arg_for: Callable[[str], bytes] = lambda mode: b"") -> str:
    """Install `wasm` into an empty canister, upgrade one running another module; returns
    "installed", "upgraded" or "unchanged" (same module hash: nothing sent). `arg_for(mode)`:
    the install or upgrade argument."""
    current = module_sha256(agent, canister_id)
    if current == hashlib.sha256(wasm).hexdigest():
        return "unchanged"
    mode = "upgrade" if current else "install"
    management.install_code(agent, canister_id, wasm, arg=arg_for(mode), mode=mode)
    return "upgraded" if current else "installed"
