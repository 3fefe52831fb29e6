"""Stop strings across token boundaries: text is released only once it cannot be the start of
a stop string, so a reply never shows part of the next turn's marker."""

from __future__ import annotations


class StopStringFilter:
    def __init__(self, stop_strings: tuple[str, ...] | list[str]) -> None:
        self.stop_strings = tuple(s for s in stop_strings if s)
        self.pending = ""
        self.stopped = False

    def push(self, text: str) -> str:
        """Add decoded text; return what is safe to show. After a stop string, nothing."""
        if self.stopped:
            return ""
        buffer = self.pending + text
        hits = [i for i in (buffer.find(s) for s in self.stop_strings) if i >= 0]
        if hits:
            self.stopped, self.pending = True, ""
            return buffer[: min(hits)]
        hold = self._held_suffix(buffer)
        self.pending = buffer[len(buffer) - hold:] if hold else ""
        return buffer[: len(buffer) - hold]

    def flush(self) -> str:
        """The end of the reply: what was held back was not a stop string after all."""
        out, self.pending = ("" if self.stopped else self.pending), ""
        return out

    def _held_suffix(self, buffer: str) -> int:
        """The length of the longest end of `buffer` that starts some stop string."""
        best = 0
        for stop in self.stop_strings:
            for n in range(min(len(stop) - 1, len(buffer)), best, -1):
                if buffer.endswith(stop[:n]):
                    best = n
                    break
        return best
