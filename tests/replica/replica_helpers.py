"""Shared helpers of the replica tests."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
import wasmtime

from icchat.build.canister import compile_c
from icchat.ic.principal import Principal
from icchat.paths import BUILD, REPO
from icchat.replica import Reject

HERE = Path(__file__).resolve().parent
PROBES = REPO / "canister" / "probes"
CONTROLLER = Principal.self_authenticating(b"replica test controller key")
STRANGER = Principal.self_authenticating(b"someone else")


def build_sysapi() -> Path:
    return compile_c([PROBES / "sysapi.c"], BUILD / "test-canisters" / "sysapi.wasm")


def u64(value: int) -> bytes:
    return struct.pack("<Q", value)


def as_u64(data: bytes) -> int:
    assert len(data) == 8, data
    return struct.unpack("<Q", data)[0]


def wat(text: str) -> bytes:
    return wasmtime.wat2wasm(text)


def reject_of(call, *args, **kwargs) -> Reject:
    """Run a call that must be rejected; return the Reject."""
    with pytest.raises(Reject) as info:
        call(*args, **kwargs)
    return info.value


def api_index(replica, canister_id) -> dict[str, int]:
    """ic0 function name -> selector of the sysapi canister's `call_api`."""
    names = replica.query(canister_id, "api_names").decode().split()
    return {name: i for i, name in enumerate(names)}
