"""Dirty-page tracking: the kernel's answer (userfaultfd) and the fallback (comparison) both find
exactly the pages a WASM execution wrote, and the replica is correct with either."""

from __future__ import annotations

import ctypes

import pytest
import wasmtime
from hypothesis import given, settings
from hypothesis import strategies as st
from replica_helpers import CONTROLLER, as_u64, reject_of, u64

from icchat.replica import Replica
from icchat.replica.dirty_pages import PAGE, CompareTracker, UffdTracker, uffd_available
from icchat.replica.heap import Shadow, memory_address

PAGES = 64
WRITER = f"""(module (memory (export "memory") {PAGES // 16})
  (func (export "write") (param $addr i32) (param $value i32) (i32.store8 (local.get $addr) (local.get $value))))"""


def _memory():
    engine = wasmtime.Engine(wasmtime.Config())
    store = wasmtime.Store(engine)
    instance = wasmtime.Instance(store, wasmtime.Module(engine, WRITER), [])
    exports = instance.exports(store)
    return store, exports["memory"], exports["write"]


def _pages(ranges) -> set[int]:
    return {page for first, end in ranges for page in range(first, end)}


@pytest.mark.parametrize("kind", ["uffd", "compare"])
@settings(max_examples=40, deadline=None)
@given(
    writes=st.lists(st.integers(0, PAGES * PAGE - 1), max_size=30, unique=True),
    again=st.lists(st.integers(0, PAGES * PAGE - 1), max_size=10, unique=True),
)
def test_tracker_reports_exactly_the_written_pages(kind, writes, again):
    if kind == "uffd" and not uffd_available():
        pytest.skip("userfaultfd write-protect with PAGEMAP_SCAN is not available on this kernel")
    store, memory, write = _memory()
    length = memory.data_len(store)
    shadow = Shadow()
    try:
        base = memory_address(memory, store)
        ctypes.memmove(shadow.address, base, length)
        tracker = UffdTracker(base, 4 << 30, length) if kind == "uffd" else CompareTracker(base, shadow.address)
        for batch in (writes, again):
            for address in batch:  # each write changes its byte, so both trackers must see it
                write(store, address, (memory.read(store, address, address + 1)[0] + 1) % 256)
            got = _pages(tracker.collect(length))
            assert got == {address // PAGE for address in batch}
            ctypes.memmove(shadow.address, base, length)  # commit, as the heap does
    finally:
        shadow.close()


@pytest.fixture(params=["uffd", "compare"])
def tracked_replica(request, monkeypatch, tmp_path):
    if request.param == "uffd" and not uffd_available():
        pytest.skip("userfaultfd write-protect with PAGEMAP_SCAN is not available on this kernel")
    if request.param == "compare":
        monkeypatch.setenv("ICCHAT_DIRTY_TRACKING", "compare")
    with Replica(tmp_path) as replica:
        yield replica, request.param


def test_replica_semantics_hold_with_either_tracker(tracked_replica, sysapi_wasm, tmp_path):
    replica, kind = tracked_replica
    cid = replica.create_canister(controllers=[CONTROLLER])
    replica.install_code(cid, sysapi_wasm, sender=CONTROLLER)
    expected = {"uffd": "UffdTracker", "compare": "CompareTracker"}[kind]
    assert replica.canister(cid).execution_state.instance.heap.tracking == expected
    replica.update(cid, "inc")
    reject_of(replica.update, cid, "change_then_trap")
    reject_of(replica.update, cid, "grow_then_trap", u64(8))
    assert as_u64(replica.query(cid, "inc_in_query")) == 2
    assert replica.update(cid, "touch_heap", u64(50)) == b""
    assert as_u64(replica.query(cid, "read")) == 1
    replica.checkpoint()
    replica.close()
    with Replica(tmp_path) as again:
        assert as_u64(again.query(cid, "read")) == 1
        assert again.update(cid, "touch_heap_q", u64(1)) == b""
