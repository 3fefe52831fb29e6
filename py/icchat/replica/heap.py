"""A canister's WASM heap with a committed copy: rollback and persistence cost O(pages written).

The live heap is wasmtime's linear memory. The *shadow* is a private anonymous mapping holding
the heap as of the last committed execution (4 GiB of address space reserved, pages allocated
only when written). After an execution, the dirty-page tracker says which 4 KiB pages it wrote:
a commit copies those pages live -> shadow, a rollback copies them shadow -> live. Pages
committed since the last checkpoint accumulate in a bitmap for the persistence layer.

WASM memory cannot shrink, so rolling back an execution that grew the heap needs a fresh
instance (`Heap.rollback` returns False and the caller rebuilds from the shadow).
"""

from __future__ import annotations

import ctypes
import mmap

import wasmtime

from icchat.replica.dirty_pages import PAGE, Ranges, Tracker, make_tracker
from icchat.replica.limits import MAX_WASM32_MEMORY

SHADOW_RESERVATION = MAX_WASM32_MEMORY
ZERO_CHECK_BLOCK = 64 * 1024
HOST_WRITE_UNPROTECT_BYTES = 64 * 1024  # below this, a few faults cost less than the ioctl
_ZEROS = bytes(1 << 20)
_memcmp = ctypes.CDLL(None).memcmp
_memcmp.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
_memcmp.restype = ctypes.c_int


def is_zero(address: int, size: int) -> bool:
    """Whether `size` (at most 1 MiB) bytes at `address` are all zero."""
    return size <= len(_ZEROS) and _memcmp(address, _ZEROS, size) == 0
_MAP_NORESERVE = getattr(mmap, "MAP_NORESERVE", 0x4000)


def memory_address(memory: wasmtime.Memory, store: wasmtime.Store) -> int:
    return ctypes.cast(memory.data_ptr(store), ctypes.c_void_p).value or 0


class Shadow:
    """Reserved, lazily populated copy of a heap (zero beyond `size`)."""

    def __init__(self) -> None:
        self._map = mmap.mmap(-1, SHADOW_RESERVATION, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | _MAP_NORESERVE)
        self._view = ctypes.c_char.from_buffer(self._map)
        self.address = ctypes.addressof(self._view)
        self.size = 0

    def view(self, start: int, end: int) -> memoryview:
        return memoryview(self._map)[start:end]

    def close(self) -> None:
        del self._view
        self._map.close()


class Heap:
    """The live memory of one instance plus its shadow and dirty bookkeeping."""

    def __init__(self, memory: wasmtime.Memory | None, store: wasmtime.Store, shadow: Shadow | None = None) -> None:
        self.memory = memory
        self.store = store
        self.shadow = shadow or Shadow()
        self._tracker: Tracker | None = None
        # Pages committed since the last checkpoint: one byte per 4 KiB page of the 4 GiB space.
        self.dirty = bytearray(SHADOW_RESERVATION // PAGE)
        self.dirty_size_changed = False

    # --- sizes --------------------------------------------------------------------------------------

    @property
    def live_size(self) -> int:
        return self.memory.data_len(self.store) if self.memory is not None else 0

    @property
    def live_address(self) -> int:
        return memory_address(self.memory, self.store) if self.memory is not None else 0

    @property
    def size(self) -> int:
        """The committed heap size in bytes."""
        return self.shadow.size

    # --- setup --------------------------------------------------------------------------------------

    def adopt_live(self) -> None:
        """Make the live heap (a fresh instance's) the committed state, all of it dirty."""
        size = self.live_size
        self._zero_shadow_tail(0)
        live, shadow = self.live_address, self.shadow.address
        for start in range(0, size, ZERO_CHECK_BLOCK):
            n = min(ZERO_CHECK_BLOCK, size - start)
            if not is_zero(live + start, n):  # untouched zero pages stay unallocated in the shadow
                ctypes.memmove(shadow + start, live + start, n)
        self.shadow.size = size
        self._mark(0, size // PAGE)
        self.dirty_size_changed = True
        self._start_tracking()

    def restore_live_from_shadow(self) -> None:
        """Copy the committed state into a fresh instance's memory (growing it to size)."""
        if self.memory is None:
            return
        grow = (self.shadow.size - self.live_size) // 65536
        if grow > 0:
            self.memory.grow(self.store, grow)
        if self.shadow.size:
            ctypes.memmove(self.live_address, self.shadow.address, self.shadow.size)
        self._start_tracking()

    def _start_tracking(self) -> None:
        if self.memory is None:
            return
        if self._tracker is None:
            self._tracker = make_tracker(self.live_address, MAX_WASM32_MEMORY, self.live_size, self.shadow.address)
        else:
            self._tracker.collect(self.live_size)  # writes so far are not an execution's

    @property
    def tracking(self) -> str:
        return type(self._tracker).__name__ if self._tracker else "none"

    # --- transactions ---------------------------------------------------------------------------------

    def host_will_write(self, offset: int, size: int) -> None:
        """The host is about to write [offset, offset + size) of the live heap during an execution
        (e.g. a 2 MB stable memory read): tell the tracker up front, one ioctl instead of a
        write-protect fault per page. Small writes are left to the faults."""
        if self._tracker is not None and size >= HOST_WRITE_UNPROTECT_BYTES:
            self._tracker.unprotect(offset, size)

    def commit(self) -> int:
        """Copy this execution's writes into the shadow; returns the number of pages written."""
        if self.memory is None or self._tracker is None:
            return 0
        size = self.live_size
        ranges = self._tracker.collect(size)
        live, shadow = self.live_address, self.shadow.address
        pages = 0
        for first, end in _clip(ranges, size):
            ctypes.memmove(shadow + first * PAGE, live + first * PAGE, (end - first) * PAGE)
            self._mark(first, end)
            pages += end - first
        if size != self.shadow.size:
            # Grown pages the tracker did not report are zero in both copies: nothing to copy or
            # persist beyond the new size.
            self.shadow.size = size
            self.dirty_size_changed = True
        return pages

    def rollback(self) -> bool:
        """Undo this execution's writes. False if the heap grew: the caller must rebuild."""
        if self.memory is None or self._tracker is None:
            return True
        size = self.live_size
        if size != self.shadow.size:
            return False
        # Restore the written pages while they are still unprotected, then protect them again:
        # restoring protected pages would fault once more per page.
        ranges = _clip(self._tracker.collect(size, reprotect=False), size)
        live, shadow = self.live_address, self.shadow.address
        for first, end in ranges:
            ctypes.memmove(live + first * PAGE, shadow + first * PAGE, (end - first) * PAGE)
        self._tracker.protect_ranges(ranges)
        return True

    # --- persistence ------------------------------------------------------------------------------------

    def take_dirty(self) -> tuple[Ranges, bool]:
        """Committed page ranges changed since the last call; resets the record."""
        ranges: Ranges = []
        dirty = self.dirty
        limit = (self.shadow.size + PAGE - 1) // PAGE
        start = dirty.find(1, 0, limit)
        while start != -1:
            end = dirty.find(0, start, limit)
            if end == -1:
                end = limit
            ranges.append((start, end))
            start = dirty.find(1, end, limit)
        if ranges:
            self.dirty[: limit] = bytes(limit)
        changed, self.dirty_size_changed = self.dirty_size_changed, False
        return ranges, changed

    def mark_all_dirty(self) -> None:
        self._mark(0, (self.shadow.size + PAGE - 1) // PAGE)
        self.dirty_size_changed = True

    def load_shadow(self, size: int) -> None:
        """Prepare the shadow for loading a heap image of `size` bytes (filled by the caller)."""
        self._zero_shadow_tail(0)
        self.shadow.size = size

    def _mark(self, first: int, end: int) -> None:
        if end > first:
            self.dirty[first:end] = b"\x01" * (end - first)

    def _zero_shadow_tail(self, size: int) -> None:
        if self.shadow.size > size:
            ctypes.memset(self.shadow.address + size, 0, self.shadow.size - size)

    def close(self) -> None:
        if self._tracker is not None:
            self._tracker.close()
            self._tracker = None


def _clip(ranges: Ranges, size: int) -> Ranges:
    limit = (size + PAGE - 1) // PAGE
    return [(first, min(end, limit)) for first, end in ranges if first < limit]
