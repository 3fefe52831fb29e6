"""Fixtures for the icchat.ic tests: long-lived Node peers running the official JS libraries."""

from __future__ import annotations

import pytest
from node_peer import NodePeer, node_available

CANDID_IMPLS = ("@dfinity/candid", "@icp-sdk/core/candid")


@pytest.fixture(scope="session", params=CANDID_IMPLS)
def js_candid(request):
    """The official JS Candid codec (both generations), as a peer process."""
    if not node_available():
        pytest.skip("node and node_modules/@icp-sdk/core are needed (./dev up installs them)")
    peer = NodePeer("candid_peer.mjs", request.param)
    yield peer
    peer.close()
