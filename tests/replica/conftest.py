"""Fixtures for the replica tests: the sysapi test canister (built with zig) and fresh replicas."""

from __future__ import annotations

import pytest
from replica_helpers import CONTROLLER, build_sysapi

from icchat.replica import Replica


@pytest.fixture(scope="session")
def sysapi_wasm() -> bytes:
    return build_sysapi().read_bytes()


@pytest.fixture
def replica():
    with Replica() as r:
        yield r


@pytest.fixture
def canister(replica, sysapi_wasm):
    """The sysapi canister, installed (init arg b"hello") and controlled by CONTROLLER, with the
    provisional default of 100T cycles: the IC's freezing threshold of a canister holding 200 GiB
    of stable memory (test_stable_memory_64_bit_is_sparse) is 65.8T."""
    cid = replica.create_canister(controllers=[CONTROLLER], cycles=100_000_000_000_000)
    replica.install_code(cid, sysapi_wasm, b"hello", sender=CONTROLLER)
    return cid
