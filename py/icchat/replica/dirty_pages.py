"""Which 4 KiB pages of a WASM heap did an execution write? Asked of the kernel, not guessed.

`UffdTracker` uses Linux userfaultfd write-protection in asynchronous mode
(UFFD_FEATURE_WP_ASYNC, Linux >= 6.7) with the PAGEMAP_SCAN ioctl: the heap's address range is
write-protected; the kernel resolves a write fault itself (no signal, no helper thread) and
marks the page written; PAGEMAP_SCAN lists the written pages and re-protects them in one call.
The cost is one minor fault per first write to a page plus a scan proportional to the written
pages, so committing or rolling back a message costs O(pages written), not O(heap).

`CompareTracker` is the portable fallback: it compares the heap with its committed copy,
block by block with memcmp, O(heap) per execution but still copy-free. `make_tracker` picks the
best one that works here; ICCHAT_DIRTY_TRACKING=compare forces the fallback.
"""

from __future__ import annotations

import ctypes
import os
import threading
from typing import Protocol

PAGE = 4096
Ranges = list[tuple[int, int]]  # [(first page, end page)) in page indices, sorted, disjoint

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.ioctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p]
_libc.ioctl.restype = ctypes.c_int
_libc.memcmp.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]
_libc.memcmp.restype = ctypes.c_int


def _iowr(kind: int, nr: int, size: int) -> int:
    return (3 << 30) | (size << 16) | (kind << 8) | nr


SYS_USERFAULTFD = 323  # x86_64
UFFD_API = 0xAA
UFFDIO_API = _iowr(0xAA, 0x3F, 24)
UFFDIO_REGISTER = _iowr(0xAA, 0x00, 32)
UFFDIO_WRITEPROTECT = _iowr(0xAA, 0x06, 24)
UFFD_FEATURE_WP_UNPOPULATED = 1 << 13
UFFD_FEATURE_WP_ASYNC = 1 << 15
UFFDIO_REGISTER_MODE_WP = 1 << 1
UFFDIO_WRITEPROTECT_MODE_WP = 1 << 0
PAGEMAP_SCAN = _iowr(ord("f"), 16, 96)
PAGE_IS_WRITTEN = 1 << 1
PM_SCAN_WP_MATCHING = 1 << 0
SCAN_BATCH = 1024
PROTECT_GAP_PAGES = 64  # protect_ranges: a gap this small costs less than another ioctl


class Tracker(Protocol):
    """Tracks writes to one heap; `collect` returns the pages written since the last collect."""

    def collect(self, length: int, reprotect: bool = True) -> Ranges: ...

    def protect_ranges(self, ranges: Ranges) -> None: ...

    def unprotect(self, offset: int, size: int) -> None: ...

    def close(self) -> None: ...


class DirtyTrackingUnavailable(OSError):
    pass


class _Uffd:
    """The process-wide userfaultfd and /proc/self/pagemap handles (opened once, lazily)."""

    _lock = threading.Lock()
    _instance: _Uffd | None = None
    _failure: OSError | None = None

    def __init__(self) -> None:
        fd = _libc.syscall(SYS_USERFAULTFD, os.O_CLOEXEC | os.O_NONBLOCK)
        if fd < 0:
            err = ctypes.get_errno()
            raise DirtyTrackingUnavailable(err, f"userfaultfd: {os.strerror(err)}")
        self.fd = fd
        api = (ctypes.c_uint64 * 3)(UFFD_API, UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED, 0)
        try:
            _ioctl(fd, UFFDIO_API, api)
            self.pagemap = os.open("/proc/self/pagemap", os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            os.close(fd)
            raise DirtyTrackingUnavailable(exc.errno, f"userfaultfd write-protect: {exc.strerror}") from None

    @classmethod
    def get(cls) -> _Uffd:
        with cls._lock:
            if cls._instance is None:
                if cls._failure is not None:
                    raise cls._failure
                try:
                    cls._instance = cls()
                except OSError as exc:
                    cls._failure = exc
                    raise
            return cls._instance


def _ioctl(fd: int, request: int, arg: ctypes.Array) -> int:
    result = _libc.ioctl(fd, request, ctypes.cast(arg, ctypes.c_void_p))
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return result


class UffdTracker:
    """Write tracking of [base, base + reservation) by the kernel (see the module docstring)."""

    def __init__(self, base: int, reservation: int, length: int) -> None:
        self._uffd = _Uffd.get()
        self.base = base
        register = (ctypes.c_uint64 * 4)(base, reservation, UFFDIO_REGISTER_MODE_WP, 0)
        try:
            _ioctl(self._uffd.fd, UFFDIO_REGISTER, register)
        except OSError as exc:
            raise DirtyTrackingUnavailable(exc.errno, f"UFFDIO_REGISTER: {exc.strerror}") from None
        self._vec = (ctypes.c_uint64 * (3 * SCAN_BATCH))()
        self.protect(length)
        # Probe once: a kernel without PAGEMAP_SCAN fails here, before we rely on it.
        self.collect(length)

    def protect(self, length: int) -> None:
        if length:
            arg = (ctypes.c_uint64 * 3)(self.base, length, UFFDIO_WRITEPROTECT_MODE_WP)
            _ioctl(self._uffd.fd, UFFDIO_WRITEPROTECT, arg)

    def protect_ranges(self, ranges: Ranges) -> None:
        """Write-protect these pages again (after `collect(reprotect=False)` and our own writes).
        Ranges a few pages apart go in one ioctl: re-protecting protected pages changes nothing."""
        merged: Ranges = []
        for first, end in ranges:
            if merged and first - merged[-1][1] <= PROTECT_GAP_PAGES:
                merged[-1] = (merged[-1][0], end)
            else:
                merged.append((first, end))
        for first, end in merged:
            arg = (ctypes.c_uint64 * 3)(self.base + first * PAGE, (end - first) * PAGE, UFFDIO_WRITEPROTECT_MODE_WP)
            _ioctl(self._uffd.fd, UFFDIO_WRITEPROTECT, arg)

    def unprotect(self, offset: int, size: int) -> None:
        """Mark the pages of [offset, offset + size) written without a fault each: the host is
        about to fill them (a stable memory read into the heap). They are reported as written."""
        first, end = offset // PAGE * PAGE, -(-(offset + size) // PAGE) * PAGE
        if end > first:
            arg = (ctypes.c_uint64 * 3)(self.base + first, end - first, 0)
            _ioctl(self._uffd.fd, UFFDIO_WRITEPROTECT, arg)

    def collect(self, length: int, reprotect: bool = True) -> Ranges:
        """Pages written since the last collect, re-protected in the same ioctl unless
        `reprotect` is False: a rollback restores them first (a write to a protected page costs
        a fault) and then calls `protect_ranges`."""
        ranges: Ranges = []
        start, end = self.base, self.base + length
        flags = PM_SCAN_WP_MATCHING if reprotect else 0
        while start < end:
            arg = (ctypes.c_uint64 * 12)(
                96, flags, start, end, 0, ctypes.addressof(self._vec), SCAN_BATCH,
                0, 0, PAGE_IS_WRITTEN, 0, PAGE_IS_WRITTEN,
            )
            try:
                count = _ioctl(self._uffd.pagemap, PAGEMAP_SCAN, arg)
            except OSError as exc:
                raise DirtyTrackingUnavailable(exc.errno, f"PAGEMAP_SCAN: {exc.strerror}") from None
            for i in range(count):
                first = (self._vec[3 * i] - self.base) // PAGE
                last = (self._vec[3 * i + 1] - self.base + PAGE - 1) // PAGE
                if ranges and ranges[-1][1] == first:
                    ranges[-1] = (ranges[-1][0], last)
                else:
                    ranges.append((first, last))
            walk_end = arg[4]
            if count < SCAN_BATCH or walk_end >= end or walk_end <= start:
                break
            start = walk_end
        return ranges

    def close(self) -> None:
        # The registration disappears with the heap's mapping; nothing to release per heap.
        pass


class CompareTracker:
    """Finds written pages by comparing the live heap with its committed copy."""

    BLOCK = 256 * PAGE

    def __init__(self, live_base: int, shadow_base: int) -> None:
        self.live_base = live_base
        self.shadow_base = shadow_base

    def collect(self, length: int, reprotect: bool = True) -> Ranges:
        ranges: Ranges = []
        memcmp = _libc.memcmp
        for block in range(0, length, self.BLOCK):
            size = min(self.BLOCK, length - block)
            if memcmp(self.live_base + block, self.shadow_base + block, size) == 0:
                continue
            for offset in range(block, block + size, PAGE):
                n = min(PAGE, length - offset)
                if memcmp(self.live_base + offset, self.shadow_base + offset, n) != 0:
                    page = offset // PAGE
                    if ranges and ranges[-1][1] == page:
                        ranges[-1] = (ranges[-1][0], page + 1)
                    else:
                        ranges.append((page, page + 1))
        return ranges

    def protect_ranges(self, ranges: Ranges) -> None:
        pass

    def unprotect(self, offset: int, size: int) -> None:
        pass

    def close(self) -> None:
        pass


def uffd_available() -> bool:
    if os.environ.get("ICCHAT_DIRTY_TRACKING") == "compare":
        return False
    try:
        _Uffd.get()
    except OSError:
        return False
    return True


def make_tracker(base: int, reservation: int, length: int, shadow_base: int) -> Tracker:
    """Kernel write tracking when this machine offers it, else comparison with the shadow copy."""
    if uffd_available():
        try:
            return UffdTracker(base, reservation, length)
        except DirtyTrackingUnavailable:
            pass  # e.g. a kernel without PAGEMAP_SCAN: fall back
    return CompareTracker(base, shadow_base)
