"""Deploy progress: snapshots handed to a callback, and a terminal progress bar on stderr.

On a TTY the bar is one line redrawn with \\r (at most 10 times a second); otherwise a few plain
lines (start, every 10% or 10 s, end), so logs stay short.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import TextIO


@dataclass(frozen=True)
class SyncProgress:
    phase: str  # "uploading", "committing", "done"
    files_done: int
    files_total: int
    bytes_done: int  # includes chunks reused from an interrupted run
    bytes_total: int
    bytes_sent: int  # sent in this run
    chunks_done: int
    chunks_total: int
    elapsed_s: float

    @property
    def rate_mb_s(self) -> float:
        return self.bytes_sent / self.elapsed_s / 1e6 if self.elapsed_s > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        rate = self.bytes_sent / self.elapsed_s if self.elapsed_s > 0 else 0.0
        return (self.bytes_total - self.bytes_done) / rate if rate > 0 else None


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    seconds = int(seconds + 0.5)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else f"{seconds // 60}:{seconds % 60:02d}"


def describe(p: SyncProgress) -> str:
    return (f"{p.phase:<10} {p.files_done}/{p.files_total} files  {p.bytes_done / 1e6:.1f}/{p.bytes_total / 1e6:.1f} MB"
            f"  {p.rate_mb_s:.1f} MB/s  ETA {_clock(p.eta_s if p.phase == 'uploading' else 0)}")


class TerminalProgress:
    """A `progress` callback for sync_folder that draws on `stream` (stderr by default)."""

    def __init__(self, stream: TextIO | None = None, *, min_interval_s: float = 0.1) -> None:
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.min_interval_s = min_interval_s
        self._last_draw = 0.0
        self._last_line_pct = -1.0
        self._last_line_time = 0.0
        self._width = 0

    def __call__(self, p: SyncProgress) -> None:
        now = time.monotonic()
        final = p.phase != "uploading"
        if self.tty:
            if not final and now - self._last_draw < self.min_interval_s:
                return
            self._last_draw = now
            line = describe(p)
            self.stream.write("\r" + line.ljust(self._width))
            self._width = len(line)
            if p.phase == "done":
                self.stream.write("\n")
            self.stream.flush()
            return
        pct = 100.0 * p.bytes_done / p.bytes_total if p.bytes_total else 100.0
        if final or self._last_line_pct < 0 or pct - self._last_line_pct >= 10 or now - self._last_line_time >= 10:
            self._last_line_pct, self._last_line_time = pct, now
            self.stream.write(describe(p) + "\n")
            self.stream.flush()
