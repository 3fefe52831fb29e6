"""The one installer: what a canister runs, and installing or upgrading a module, in one
install_code message or chunked when it does not fit. The app deploy (icchat.stack.app) decides
which canister gets which module; this module sends it.

The module hash the IC reports is the SHA-256 of the module as it was sent (gzipped or not); the
build gzips deterministically, so the same build gives the same hash and a deploy compares hashes
to skip an install that would change nothing.

A module (gzipped or not) plus its argument must fit one 2 MiB ingress message; larger ones go
through the canister's wasm chunk store (interface spec, "IC method upload_chunk" and
"install_chunked_code"): clear_chunk_store, upload_chunk per 1 MiB (the store's chunk limit),
then install_chunked_code with every chunk hash and the SHA-256 of the whole module.

Which module a canister runs is read from its public `icchat:canister` metadata (read_state
`canister/<id>/metadata/icchat:canister`, certified), so a deploy upgrades only canisters that run
one of ours and never replaces someone else's module.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from icchat.ic import management
from icchat.ic.hashtree import LookupStatus
from icchat.ic.principal import Principal

CHUNK_BYTES = 1024 * 1024  # the chunk store's per-chunk limit
SINGLE_MESSAGE_BYTES = management.MAX_INSTALL_ARG


@dataclass(frozen=True)
class InstallPlan:
    """The management calls an install or upgrade of `module` takes."""
    size: int
    chunked: bool
    chunk_sizes: tuple[int, ...]

    @classmethod
    def of(cls, module: bytes, single_limit: int = SINGLE_MESSAGE_BYTES) -> InstallPlan:
        if len(module) <= single_limit:
            return cls(len(module), False, ())
        sizes = tuple(min(CHUNK_BYTES, len(module) - at) for at in range(0, len(module), CHUNK_BYTES))
        return cls(len(module), True, sizes)

    def describe(self, mode: str) -> list[str]:
        if not self.chunked:
            return [f"install_code (mode {mode}, {self.size:,} bytes)"]
        return ["clear_chunk_store",
                f"upload_chunk x {len(self.chunk_sizes)} ({self.size:,} bytes, <= {CHUNK_BYTES:,} each)",
                f"install_chunked_code (mode {mode}, {len(self.chunk_sizes)} chunk hashes)"]


def module_sha256(agent: Any, canister_id: Principal) -> str:
    """Hex SHA-256 of the installed module, "" when the canister is empty."""
    module_hash = management.canister_status(agent, canister_id).get("module_hash")
    return module_hash.hex() if module_hash else ""


def running_kind(agent: Any, canister_id: Principal) -> str | None:
    """The canister's public `icchat:canister` metadata ("gpt2", "assets"), None if it has none."""
    from icchat.build.metadata import KIND_SECTION
    from icchat.ic.agent import HttpError

    path = [b"canister", canister_id.raw, b"metadata", KIND_SECTION.encode()]
    try:
        found = agent.read_state(canister_id, [path]).lookup(path)
    except HttpError:
        return None  # some replicas answer 404 for a section the module lacks
    if found.status is LookupStatus.FOUND and found.value is not None:
        return found.value.decode("utf-8", "replace")
    return None


def install(agent: Any, canister_id: Principal, module: bytes, mode: str, *, arg: bytes = b"",
            single_limit: int = SINGLE_MESSAGE_BYTES) -> InstallPlan:
    """Install (`mode` install/reinstall/upgrade) `module` with `arg`, chunked when it does not fit one message."""
    plan = InstallPlan.of(module, single_limit - len(arg))
    if not plan.chunked:
        management.install_code(agent, canister_id, module, arg=arg, mode=mode)
        return plan
    # management._call encodes with the replica's management.did (the IC's ic.did)
    management._call(agent, "clear_chunk_store", {"canister_id": canister_id}, canister_id)
    hashes = []
    for at in range(0, len(module), CHUNK_BYTES):
        (reply,) = management._call(agent, "upload_chunk",
                                    {"canister_id": canister_id, "chunk": module[at:at + CHUNK_BYTES]}, canister_id)
        hashes.append({"hash": reply["hash"]})
    install_mode: dict[str, Any] = {"upgrade": None} if mode == "upgrade" else {mode: None}
    management._call(agent, "install_chunked_code", {
        "mode": install_mode, "target_canister": canister_id, "store_canister": None,
        "chunk_hashes_list": hashes, "wasm_module_hash": hashlib.sha256(module).digest(),
        "arg": arg, "sender_canister_version": None}, canister_id)
    management._call(agent, "clear_chunk_store", {"canister_id": canister_id}, canister_id)
    return plan
