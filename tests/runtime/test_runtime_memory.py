"""rt.c memory: rt_alloc (persistent), per-message scratch with mark/release, rt_buf, and the
traps of exhaustion, through the probe's `alloc` and `exhaust` methods."""

from __future__ import annotations

import struct

import pytest

SCRATCH, ALLOC, MARK, RELEASE, HEAP_USED, BUFFER = range(6)


def run(probe, *ops: tuple[int, int, int]) -> list[tuple[int, int]]:
    """Each op's (result, flag); for allocations (address, 1 if the memory came zeroed)."""
    reply = probe.update("alloc", b"".join(struct.pack("<3I", *op) for op in ops))
    values = struct.unpack(f"<{2 * len(ops)}Q", reply)
    return list(zip(values[::2], values[1::2], strict=True))


@pytest.mark.parametrize("kind", [SCRATCH, ALLOC])
def test_allocations_are_aligned_zeroed_and_disjoint(probe, kind):
    sizes_aligns = [(3, 1), (10, 2), (7, 4), (33, 8), (5, 16), (100, 64), (9, 4096), (1, 65536), (0, 8)]
    results = run(probe, *[(kind, size, align) for size, align in sizes_aligns])
    previous_end = 0
    for (address, zeroed), (size, align) in zip(results, sizes_aligns, strict=True):
        assert address % align == 0
        assert zeroed == 1
        assert address >= previous_end
        previous_end = address + size


def test_released_scratch_is_reused_and_zeroed_again(probe):
    results = run(probe,
                  (SCRATCH, 100, 8),
                  (MARK, 0, 0),
                  (SCRATCH, 1000, 16),  # filled with 0xa5 by the probe
                  (RELEASE, 1, 0),
                  (SCRATCH, 500, 1),    # inside the released block
                  (SCRATCH, 2000, 1))   # straddles its end and fresh memory
    (first, _), _, (block, _), _, (again, zeroed_again), (after, zeroed_after) = results
    assert block == (first + 100 + 15) // 16 * 16
    assert again == first + 100  # the released block starts at the mark, right after `first`
    assert (zeroed_again, zeroed_after) == (1, 1)
    assert after == again + 500


def test_each_message_starts_with_fresh_zeroed_scratch(probe):
    (first, _), = run(probe, (SCRATCH, 4096, 8))
    (second, zeroed), = run(probe, (SCRATCH, 4096, 8))
    assert (second, zeroed) == (first, 1)


def test_persistent_allocations_survive_messages_and_grow_the_heap(probe):
    (used_before, _), (first, zeroed) = run(probe, (HEAP_USED, 0, 0), (ALLOC, 200_000, 64))
    (second, zeroed_second), (used_after, _) = run(probe, (ALLOC, 10, 8), (HEAP_USED, 0, 0))
    assert zeroed == zeroed_second == 1
    assert second >= first + 200_000  # the first block was not handed out again
    assert used_after >= used_before + 200_010


def test_growing_buffer_keeps_its_bytes(probe):
    (_, intact), = run(probe, (BUFFER, 100_000, 0))
    assert intact == 1


@pytest.mark.parametrize(("op", "size", "reason"), [
    (0, 0xFFFF_FFF0, "out of memory: "),
    (1, 17 << 20, "scratch memory exhausted: a message needs more than 16777216 bytes"),
    (2, 3, "rt_alloc: alignment 3 is not a power of two up to 65536"),
    (3, 0xFFFF_FF00, "scratch memory exhausted: a message needs more than 16777216 bytes"),
])
def test_exhaustion_traps_with_a_reason(probe, op, size, reason):
    message = probe.trap_message("exhaust", struct.pack("<II", op, size), update=True)
    assert message.startswith(reason)
    if reason == "out of memory: ":
        assert message.endswith(" more bytes needed")
    (_, zeroed), = run(probe, (SCRATCH, 64, 8))  # and the canister goes on
    assert zeroed == 1
