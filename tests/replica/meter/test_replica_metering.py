"""IC accounting end to end: a zig-built SIMD canister in the replica reads its own
performance_counter."""

from __future__ import annotations

import struct

import pytest

from icchat.build.canister import compile_c
from icchat.ic.principal import Principal
from icchat.paths import BUILD, REPO
from icchat.replica import Replica

MATMUL = REPO / "canister" / "probes" / "matmul.c"


@pytest.fixture(scope="module")
def matmul():
    wasm = compile_c([MATMUL], BUILD / "test" / "meter" / "matmul.wasm").read_bytes()
    with Replica() as replica:
        me = Principal.self_authenticating(b"metering-test-key")
        cid = replica.create_canister(controllers=[me], cycles=10**13)
        replica.install_code(cid, wasm, sender=me)
        yield replica, cid, me


def counted(replica, cid, me, rounds: int) -> int:
    return struct.unpack("<Q", replica.update(cid, "matvec", bytes([rounds]), sender=me))[0]


def test_count_is_deterministic_and_linear(matmul):
    replica, cid, me = matmul
    one, two, three = (counted(replica, cid, me, r) for r in (1, 2, 3))
    assert counted(replica, cid, me, 2) == two
    per_matvec = two - one
    assert three - two == per_matvec
    # 256x256 multiply-accumulates as 16,384 f32x4 steps: mul 2 + add 2 + two v128.load 1 each,
    # plus address arithmetic and loop control the compiler emits around them.
    assert 6 * 16_384 < per_matvec < 30 * 16_384
