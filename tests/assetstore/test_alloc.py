"""The free-list allocator (canister/runtime/alloc.c) through the probe canister: random malloc /
calloc / realloc / free sequences keep every block's bytes, blocks never overlap, freed memory is
reused, and misuse traps with its reason."""

from __future__ import annotations

import hashlib
import itertools
import struct

import pytest
from certtree_helpers import u32
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from icchat.replica import Reject

SLOTS = 256
OPS = {"malloc": 0, "free": 1, "realloc": 2, "calloc": 3}
HEADER = 16


def pattern(seed: int, size: int) -> bytes:
    return bytes((seed + j * 31 + (j >> 8)) & 0xFF for j in range(size))


def run(probe, ops: list[tuple[str, int, int, int]]) -> tuple[int, int, dict[int, tuple[int, int, int]]]:
    """Apply (op, slot, size, seed) in one message; returns heap used, live bytes and, per
    occupied slot, (address, size, usable)."""
    arg = u32(len(ops)) + b"".join(bytes([OPS[op]]) + u32(slot) + u32(size) + bytes([seed]) for op, slot, size, seed in ops)
    reply = probe.update("alloc_ops", arg)
    heap, live = struct.unpack_from("<QQ", reply)
    slots = {}
    for s in range(SLOTS):
        address, size, usable = struct.unpack_from("<III", reply, 16 + 12 * s)
        if address:
            slots[s] = (address, size, usable)
    return heap, live, slots


def free_all(slots=range(SLOTS)) -> list[tuple[str, int, int, int]]:
    return [("free", s, 0, 0) for s in slots]


def check_layout(slots: dict[int, tuple[int, int, int]]) -> None:
    spans = sorted((address - HEADER, address + usable) for address, _, usable in slots.values())
    for address, size, usable in slots.values():
        assert address % 16 == 0 and usable >= size
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert end <= start, spans  # headers included: no two blocks share a byte


def check_contents(probe, model: dict[int, tuple[int, int]]) -> None:
    reply = probe.query("alloc_contents")
    for s, (size, seed) in model.items():
        assert reply[33 * s] == seed
        assert reply[33 * s + 1:33 * s + 33] == hashlib.sha256(pattern(seed, size)).digest(), s


size = st.one_of(st.integers(0, 300), st.integers(0, 70_000), st.integers(60_000, 400_000))
op = st.tuples(st.sampled_from(["malloc", "free", "realloc", "realloc", "calloc"]), st.integers(0, 11), size, st.integers(0, 255))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(op, max_size=40))
def test_random_sequences_keep_contents_and_never_overlap(probe, ops):
    run(probe, free_all(range(12)))
    _, live, slots = run(probe, ops)
    model: dict[int, tuple[int, int]] = {}
    for name, slot, n, seed in ops:  # the canister checked realloc prefixes and calloc zeroes itself
        if name == "free":
            model.pop(slot, None)
        else:
            model[slot] = (n, seed)
    assert {s: v[1] for s, v in slots.items()} == {s: n for s, (n, _) in model.items()}
    assert live == sum(usable for _, _, usable in slots.values())
    check_layout(slots)
    check_contents(probe, model)


def test_freed_blocks_are_reused(probe):
    run(probe, free_all())
    small = [("malloc", s, 24 + 8 * (s % 40), s) for s in range(200)]
    heap_before, _, _ = run(probe, small)
    for _ in range(3):  # the same sizes again: the free lists serve them, the heap does not grow
        run(probe, free_all())
        heap, _, slots = run(probe, small)
        assert heap == heap_before
    check_layout(slots)
    # A large block's run serves smaller large requests after it is freed (split)...
    run(probe, free_all())
    heap, _, slots = run(probe, [("malloc", 0, 400_000, 1)])
    run(probe, [("free", 0, 0, 0)])
    heap_after, _, slots = run(probe, [("malloc", 1, 150_000, 2), ("malloc", 2, 150_000, 3)])
    assert heap_after == heap
    check_layout(slots)
    # A run split exactly to its end leaves nothing behind that overlaps the next block.
    run(probe, free_all())
    unit = 65536
    run(probe, [("malloc", 10, 7 * unit - 16, 1), ("malloc", 11, unit - 16, 2), ("free", 10, 0, 0)])
    _, _, slots = run(probe, [("malloc", 12, 3 * unit - 16, 3), ("malloc", 13, 4 * unit - 16, 4), ("malloc", 14, unit - 16, 5)])
    check_layout(slots)
    check_contents(probe, {11: (unit - 16, 2), 12: (3 * unit - 16, 3), 13: (4 * unit - 16, 4), 14: (unit - 16, 5)})
    # ...and two neighbouring freed runs merge to serve one request as large as both.
    run(probe, free_all())
    heap, _, slots = run(probe, [("malloc", 3, 2 * 65536 - 16, 4), ("malloc", 4, 2 * 65536 - 16, 5)])
    (a, _, ua), (b, _, _) = slots[3], slots[4]
    heap2, _, _ = run(probe, [("free", 3, 0, 0), ("free", 4, 0, 0), ("malloc", 5, 4 * 65536 - 16, 6)])
    if b == a + ua + HEADER:  # adjacent runs (nothing else took memory between them)
        assert heap2 == heap
    check_contents(probe, {5: (4 * 65536 - 16, 6)})


def test_realloc_keeps_the_prefix_across_classes(probe):
    run(probe, free_all())
    sizes = [1, 17, 200, 5000, 65536, 65537, 300_000, 70_000, 100, 0, 33]
    for i, n in enumerate(sizes):
        _, _, slots = run(probe, [("realloc", 7, n, i)])  # the canister checks the kept prefix
        assert slots[7][1] == n
    check_contents(probe, {7: (33, len(sizes) - 1)})


@pytest.mark.parametrize(("what", "reason"), [(0, "was already freed"), (1, "is not a block from rt_malloc")])
def test_misuse_traps_with_the_reason(probe, what, reason):
    with pytest.raises(Reject) as failure:
        probe.update("alloc_misuse", bytes([what]))
    assert reason in failure.value.message
