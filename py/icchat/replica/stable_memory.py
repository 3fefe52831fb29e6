"""A canister's stable memory: sparse, transactional, and cheap to persist incrementally.

Stable memory can be hundreds of GiB on the IC, so it is never allocated eagerly: only 64 KiB
pages that were written exist (the rest read as zeros). Each execution runs in a transaction:
the first write to a page saves its old content in a journal, so a trap rolls back exactly the
pages it touched, and a commit hands their indices to the persistence layer (`take_dirty`).
Per-execution access and write volumes are counted in 4 KiB OS pages against the IC's limits.
"""

from __future__ import annotations

import ctypes
from collections.abc import Iterable, Iterator

from icchat.replica import errors
from icchat.replica.limits import MAX_STABLE_MEMORY, OS_PAGE, WASM_PAGE

PAGE = WASM_PAGE  # storage granularity
PageBuffer = ctypes.c_char * PAGE


class StableMemory:
    def __init__(self) -> None:
        self.size_pages = 0  # in 64 KiB WASM pages, as ic0.stable64_size reports
        self._pages: dict[int, ctypes.Array] = {}
        self._journal: dict[int, bytes | None] | None = None
        self._size_before = 0
        self._accessed: set[int] = set()  # OS pages touched in this execution
        self._written: set[int] = set()  # OS pages modified in this execution
        self._access_limit = 0
        self._write_limit = 0
        self._dirty: set[int] = set()  # pages changed since the last checkpoint
        self._size_dirty = False

    # --- transactions ---------------------------------------------------------------------------

    def begin(self, access_limit: int, write_limit: int) -> None:
        """Start an execution allowed to touch `access_limit` and modify `write_limit` bytes."""
        self._journal = {}
        self._size_before = self.size_pages
        self._accessed.clear()
        self._written.clear()
        self._access_limit = access_limit // OS_PAGE
        self._write_limit = write_limit // OS_PAGE

    def commit(self) -> None:
        if self._journal is None:
            return
        self._dirty.update(self._journal)
        if self.size_pages != self._size_before:
            self._size_dirty = True
        self._journal = None

    def rollback(self) -> None:
        if self._journal is None:
            return
        for index, old in self._journal.items():
            if old is None:
                self._pages.pop(index, None)
            else:
                ctypes.memmove(self._pages[index], old, PAGE)
        self.size_pages = self._size_before
        self._journal = None

    # --- the System API's operations ------------------------------------------------------------

    @property
    def size_bytes(self) -> int:
        return self.size_pages * PAGE

    def grow(self, new_pages: int, max_bytes: int = MAX_STABLE_MEMORY) -> int:
        """Grow by `new_pages`; the old size in pages, or -1 if that would exceed `max_bytes`."""
        old = self.size_pages
        if new_pages < 0 or (old + new_pages) * PAGE > max_bytes:
            return -1
        self.size_pages = old + new_pages
        return old

    def read_to(self, address: int, offset: int, size: int) -> None:
        """Copy stable[offset:offset+size] to host memory at `address` (bounds already checked)."""
        self._count(offset, size, write=False)
        for index, start, length, done in self._segments(offset, size):
            page = self._pages.get(index)
            if page is None:
                ctypes.memset(address + done, 0, length)
            else:
                ctypes.memmove(address + done, ctypes.addressof(page) + start, length)

    def write_from(self, address: int, offset: int, size: int) -> None:
        """Copy `size` bytes of host memory at `address` to stable[offset:]."""
        self._count(offset, size, write=True)
        for index, start, length, done in self._segments(offset, size):
            page = self._page_for_write(index)
            ctypes.memmove(ctypes.addressof(page) + start, address + done, length)

    def read(self, offset: int, size: int) -> bytes:
        """Plain read for tools and tests (not counted against execution limits)."""
        out = ctypes.create_string_buffer(size)
        for index, start, length, done in self._segments(offset, size):
            page = self._pages.get(index)
            if page is not None:
                ctypes.memmove(ctypes.addressof(out) + done, ctypes.addressof(page) + start, length)
        return out.raw

    # --- persistence ------------------------------------------------------------------------------

    def pages(self) -> Iterator[tuple[int, memoryview]]:
        """The pages that exist, in index order."""
        for index in sorted(self._pages):
            yield index, memoryview(self._pages[index]).cast("B")

    def page(self, index: int) -> memoryview | None:
        page = self._pages.get(index)
        return None if page is None else memoryview(page).cast("B")

    def take_dirty(self) -> tuple[set[int], bool]:
        """Pages changed since the last call (and whether the size changed); resets the record."""
        dirty, size_dirty = self._dirty, self._size_dirty
        self._dirty, self._size_dirty = set(), False
        return dirty, size_dirty

    def mark_all_dirty(self) -> None:
        self._dirty.update(self._pages)
        self._size_dirty = True

    def load_page(self, index: int, data: bytes | memoryview | None) -> None:
        """Install a page from disk (None: the page is all zeros)."""
        if data is None:
            self._pages.pop(index, None)
            return
        page = self._pages.get(index) or PageBuffer()
        ctypes.memmove(page, bytes(data), PAGE)
        self._pages[index] = page

    @property
    def resident_bytes(self) -> int:
        return len(self._pages) * PAGE

    # --- internals --------------------------------------------------------------------------------

    def _page_for_write(self, index: int) -> ctypes.Array:
        page = self._pages.get(index)
        if self._journal is not None and index not in self._journal:
            self._journal[index] = None if page is None else bytes(page)
        if page is None:
            page = self._pages[index] = PageBuffer()
        return page

    def _count(self, offset: int, size: int, *, write: bool) -> None:
        if self._journal is None or size == 0:
            return
        pages = range(offset // OS_PAGE, (offset + size - 1) // OS_PAGE + 1)
        self._accessed.update(pages)
        if len(self._accessed) > self._access_limit:
            raise errors.memory_access_limit_exceeded("accessed", self._access_limit * OS_PAGE)
        if write:
            self._written.update(pages)
            if len(self._written) > self._write_limit:
                raise errors.memory_access_limit_exceeded("modified", self._write_limit * OS_PAGE)

    @staticmethod
    def _segments(offset: int, size: int) -> Iterable[tuple[int, int, int, int]]:
        """(page index, offset in page, length, offset in the copied range) covering the range."""
        done = 0
        while done < size:
            position = offset + done
            index, start = divmod(position, PAGE)
            length = min(PAGE - start, size - done)
            yield index, start, length, done
            done += length
