"""SHA-256 (canister/runtime/sha256.c) in the probe canister against hashlib."""

from __future__ import annotations

import hashlib
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


def hashed_in_pieces(probe, data: bytes, cuts: list[int]) -> bytes:
    return probe.query("sha256", struct.pack(f"<I{len(cuts)}I", len(cuts), *cuts) + data)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300), st.lists(st.integers(0, 300), max_size=6))
def test_sha256_in_random_pieces_matches_hashlib(probe, data, cuts):
    offsets = sorted(min(c, len(data)) for c in cuts)
    assert hashed_in_pieces(probe, data, offsets) == hashlib.sha256(data).digest()


@pytest.mark.parametrize("size", [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000])
def test_sha256_at_padding_boundaries(probe, size):
    data = bytes(range(256)) * 4
    data = data[:size]
    cuts = sorted({size // 3, size // 2, size})
    assert hashed_in_pieces(probe, data, cuts) == hashlib.sha256(data).digest()


def test_sha256_of_megabytes_and_its_cost_is_linear(probe):
    """3 MiB in one call (bit length past 2^24); the instruction count is per byte, not per call."""
    costs = {}
    for size in (1 << 20, 3 << 20):
        reply = probe.query("sha256_cost", struct.pack("<I", size))
        expected = bytes((i * 7 + 3) & 0xFF for i in range(size))
        assert reply[:32] == hashlib.sha256(expected).digest()
        costs[size] = struct.unpack("<Q", reply[32:])[0]
    per_byte = (costs[3 << 20] - costs[1 << 20]) / (2 << 20)
    assert costs[3 << 20] / (3 << 20) == pytest.approx(per_byte, rel=0.01)


def test_sha256_probe_refuses_offsets_outside_the_data(probe):
    failure = probe.reject("sha256", struct.pack("<II", 1, 10) + b"short")
    assert failure.message == "sha256: offsets must ascend within the data"
