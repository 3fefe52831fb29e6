"""Fetch a streamed body's next chunks on a worker thread while the current one is being sent.

Each chunk of a long body costs a streaming-callback query (and, when certified, its share of
the body's SHA-256); sending costs a socket write that waits for the client. Done in turn, each
waits for the other. `prefetched` runs the fetching (and `on_chunk`, the hashing) on a thread at
most `depth` chunks ahead of the socket, so both proceed at once: the query's WASM, hashlib and
socket writes release the GIL. Order, content and errors are unchanged: chunks come out as the
source made them, and a failure of the source is raised at its place in the stream.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator

Chunk = bytes | memoryview  # streaming bodies are views into the callback replies
DEPTH = 2  # chunks in hand ahead of the socket: 2 x 2 MB of memory, enough to overlap
_POLL_SECONDS = 0.1  # how often a blocked worker checks whether the client went away


class _End:
    pass


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def prefetched(chunks: Iterable[Chunk], on_chunk: Callable[[Chunk], None] | None = None,
               depth: int = DEPTH) -> Iterator[Chunk]:
    """The chunks of `chunks`, fetched (and passed to `on_chunk`) up to `depth` ahead. Closing
    the returned generator (the client went away) stops the worker after its current chunk."""
    ready: queue.Queue[Chunk | _End | _Failure] = queue.Queue(maxsize=depth)
    stop = threading.Event()
    worker = threading.Thread(target=_fetch, args=(chunks, on_chunk, ready, stop), name="icchat-gateway-prefetch",
                              daemon=True)
    worker.start()
    try:
        while True:
            item = ready.get()
            if isinstance(item, _End):
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item
    finally:
        stop.set()


def _fetch(chunks: Iterable[Chunk], on_chunk: Callable[[Chunk], None] | None,
           ready: queue.Queue[Chunk | _End | _Failure], stop: threading.Event) -> None:
    source = iter(chunks)
    try:
        for chunk in source:
            if on_chunk is not None:
                on_chunk(chunk)
            if not _put(ready, chunk, stop):
                return
        _put(ready, _End(), stop)
    except BaseException as exc:  # handed to the reader, raised where the stream fails
        _put(ready, _Failure(exc), stop)
    finally:
        close = getattr(source, "close", None)
        if callable(close):
            close()


def _put(ready: queue.Queue[Chunk | _End | _Failure], item: Chunk | _End | _Failure, stop: threading.Event) -> bool:
    while not stop.is_set():
        try:
            ready.put(item, timeout=_POLL_SECONDS)
            return True
        except queue.Full:
            continue
    return False
