"""The management canister (`aaaaa-aa`) over an Agent: create, install, status — what deploying
canisters needs, with the Candid types of the replica's management.did (the IC's ic.did).

    cid = create_canister(agent, controllers=[agent.identity.principal])   # local replicas
    install_code(agent, cid, wasm_bytes, mode="install")                    # gzipped if > 2 MiB

Calls to aaaaa-aa are routed by the canister they are about (the effective canister id).
"""

from __future__ import annotations

import gzip
from collections.abc import Sequence
from functools import cache
from typing import Any

from icchat.ic import candid
from icchat.ic.agent import Agent
from icchat.ic.principal import Principal

MANAGEMENT = Principal.management()
MAX_INSTALL_ARG = 2 * 1024 * 1024 - 64 * 1024  # keep the whole message under the 2 MiB ingress limit


@cache
def _methods() -> dict[str, candid.Func]:
    from importlib.resources import files

    did = candid.parse_did(files("icchat.replica").joinpath("management.did").read_text())
    assert did.service is not None
    return did.service.methods  # type: ignore[return-value]


def _call(agent: Agent, method: str, value: dict[str, Any], effective: Principal) -> list[Any]:
    func = _methods()[method]
    reply = agent.update(MANAGEMENT, method, candid.encode(list(func.args), [value]), effective_canister_id=effective)
    return candid.decode(reply, list(func.rets))


def create_canister(agent: Agent, *, controllers: Sequence[Principal] | None = None,
                    cycles: int = 10**14, effective: Principal | None = None) -> Principal:
    """A new canister via provisional_create_canister_with_cycles (local replicas; mainnet
    creates canisters with cycles through the cycles ledger instead). The default is the local
    replica's own (100T): it charges execution as mainnet does, and an update prepays 40B."""
    settings = None
    if controllers is not None:
        settings = {"controllers": list(controllers)}
    (reply,) = _call(agent, "provisional_create_canister_with_cycles",
                     {"amount": cycles, "settings": settings, "specified_id": None, "sender_canister_version": None},
                     effective or Principal.from_canister_index(0))
    return reply["canister_id"]


def install_code(agent: Agent, canister_id: Principal, wasm: bytes, *, arg: bytes = b"",
                 mode: str = "install") -> None:
    """Install, reinstall or upgrade (`mode`); modules over the limit are sent gzipped."""
    if len(wasm) > MAX_INSTALL_ARG and not wasm.startswith(b"\x1f\x8b"):
        wasm = gzip.compress(wasm, compresslevel=9, mtime=0)
    if len(wasm) + len(arg) > MAX_INSTALL_ARG:
        raise ValueError(f"module ({len(wasm)} bytes, gzipped) and argument do not fit one install_code "
                         "message; chunked installation is not implemented here")
    install_mode: dict[str, Any] = {"upgrade": None} if mode == "upgrade" else {mode: None}
    _call(agent, "install_code", {"mode": install_mode, "canister_id": canister_id, "wasm_module": wasm,
                                  "arg": arg, "sender_canister_version": None}, canister_id)


def canister_status(agent: Agent, canister_id: Principal) -> dict[str, Any]:
    (status,) = _call(agent, "canister_status", {"canister_id": canister_id}, canister_id)
    return status
