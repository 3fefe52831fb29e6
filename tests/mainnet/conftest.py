"""A real replica serving the IC HTTP interface and gateway on a free port, and a PEM identity:
`icchat deploy --app --network <its URL>` runs the same code path as `--network ic`."""

from __future__ import annotations

from pathlib import Path

import pytest

from icchat.ic.identity import Ed25519Identity, Secp256k1Identity
from icchat.replica import Replica
from icchat.replica.http import HttpServer


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with Replica(tmp_path_factory.mktemp("mainnet-replica")) as replica, HttpServer(replica, port=0) as http:
        yield http


@pytest.fixture(scope="module")
def pem(tmp_path_factory) -> Path:
    """A dfx-style Ed25519 PEM (PKCS#8), as `dfx identity new --storage plaintext` writes."""
    path = tmp_path_factory.mktemp("identity") / "identity.pem"
    path.write_bytes(Ed25519Identity.from_seed(b"icchat-mainnet-test".ljust(32, b"\0")).to_pem())
    return path


@pytest.fixture(scope="module")
def secp_pem(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("identity-secp") / "identity.pem"
    path.write_bytes(Secp256k1Identity.generate().to_pem())
    return path
