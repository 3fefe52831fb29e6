"""A rolled-back execution's pages are restored before they are write-protected again (restoring
protected pages would fault once more per page), and then protected: the next execution that
writes them is seen. Checked on the trackers themselves and through a replica's query/update."""

from __future__ import annotations

import ctypes

import pytest
import wasmtime
from replica_helpers import CONTROLLER, as_u64

from icchat.replica import Replica
from icchat.replica.dirty_pages import PAGE, CompareTracker, UffdTracker, uffd_available
from icchat.replica.heap import Shadow, memory_address

PAGES = 32
WRITER = f"""(module (memory (export "memory") {PAGES // 16})
  (func (export "write") (param $addr i32) (param $value i32) (i32.store8 (local.get $addr) (local.get $value))))"""


def _pages(ranges) -> set[int]:
    return {page for first, end in ranges for page in range(first, end)}


@pytest.mark.parametrize("kind", ["uffd", "compare"])
def test_restored_pages_are_protected_again_and_later_writes_seen(kind):
    if kind == "uffd" and not uffd_available():
        pytest.skip("userfaultfd write-protect with PAGEMAP_SCAN is not available on this kernel")
    engine = wasmtime.Engine(wasmtime.Config())
    store = wasmtime.Store(engine)
    exports = wasmtime.Instance(store, wasmtime.Module(engine, WRITER), []).exports(store)
    memory, write = exports["memory"], exports["write"]
    length = memory.data_len(store)
    shadow = Shadow()
    try:
        base = memory_address(memory, store)
        tracker = UffdTracker(base, 4 << 30, length) if kind == "uffd" else CompareTracker(base, shadow.address)
        for address in (0, 5 * PAGE + 7, 6 * PAGE, 20 * PAGE + 100):
            write(store, address, 1)
        ranges = tracker.collect(length, reprotect=False)
        assert _pages(ranges) == {0, 5, 6, 20}
        for first, end in ranges:  # the rollback: committed (zero) content back
            ctypes.memmove(base + first * PAGE, shadow.address + first * PAGE, (end - first) * PAGE)
        tracker.protect_ranges(ranges)
        assert tracker.collect(length) == []  # the restoring writes are not an execution's
        assert memory.read(store, 0, length) == bytes(length)
        write(store, 6 * PAGE + 1, 2)  # a restored page, written by the next execution
        write(store, 9 * PAGE, 3)
        assert _pages(tracker.collect(length)) == {6, 9}
    finally:
        shadow.close()


def test_a_page_a_rolled_back_query_wrote_is_committed_by_the_next_update(sysapi_wasm, tmp_path):
    with Replica(tmp_path) as replica:
        cid = replica.create_canister(controllers=[CONTROLLER])
        replica.install_code(cid, sysapi_wasm, sender=CONTROLLER)
        assert as_u64(replica.query(cid, "inc_in_query")) == 1  # writes the counter's page, rolled back
        replica.update(cid, "inc")  # writes the same page: must be seen, so committed
        assert as_u64(replica.query(cid, "inc_in_query")) == 2
        replica.update(cid, "inc")
        replica.checkpoint()
    with Replica(tmp_path) as again:  # what persisted is what the updates committed
        assert as_u64(again.query(cid, "read")) == 2


def test_a_host_write_announced_up_front_is_tracked_without_a_fault_per_page():
    if not uffd_available():
        pytest.skip("userfaultfd write-protect with PAGEMAP_SCAN is not available on this kernel")
    import resource

    engine = wasmtime.Engine(wasmtime.Config())
    store = wasmtime.Store(engine)
    module = wasmtime.Module(engine, '(module (memory (export "memory") 64))')  # 4 MiB
    memory = wasmtime.Instance(store, module, []).exports(store)["memory"]
    length = memory.data_len(store)
    base = memory_address(memory, store)
    ctypes.memset(base, 0, length)  # populated, so only write-protection could fault
    tracker = UffdTracker(base, 4 << 30, length)
    data = bytes(range(256)) * 4096  # 1 MiB

    def faults_writing(offset: int) -> int:
        before = resource.getrusage(resource.RUSAGE_THREAD).ru_minflt
        ctypes.memmove(base + offset, data, len(data))
        return resource.getrusage(resource.RUSAGE_THREAD).ru_minflt - before

    protected = faults_writing(0)  # 256 protected pages: a fault each
    tracker.unprotect(2 * PAGE * 256 + 100, len(data))  # 1 MiB from an unaligned offset
    announced = faults_writing(2 * PAGE * 256 + 100)
    assert protected >= 200 and announced <= 4, (protected, announced)
    first = 2 * 256
    assert _pages(tracker.collect(length)) == set(range(256)) | set(range(first, first + 257))
