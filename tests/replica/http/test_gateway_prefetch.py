"""`gateway_prefetch.prefetched`: the body's chunks in order from a worker thread that runs ahead
by at most `depth`, each passed to `on_chunk` first; a failure is raised where the stream failed;
closing the stream (the client left) stops the worker."""

from __future__ import annotations

import threading
import time

import pytest

from icchat.replica.http.gateway_prefetch import prefetched


class Source:
    """Numbered chunks, recording how far it was pulled and whether it was closed."""

    def __init__(self, n: int, fail_at: int | None = None) -> None:
        self.n, self.fail_at, self.pulled, self.closed = n, fail_at, 0, threading.Event()

    def __iter__(self):
        try:
            for i in range(self.n):
                if i == self.fail_at:
                    raise ValueError(f"chunk {i} failed")
                self.pulled = i + 1
                yield b"%d" % i
        finally:
            self.closed.set()


def test_chunks_come_in_order_each_seen_by_on_chunk_first():
    seen: list[bytes] = []
    out = list(prefetched(Source(50), seen.append, depth=3))
    assert out == [b"%d" % i for i in range(50)]
    assert seen == out


def test_the_worker_runs_at_most_depth_chunks_ahead():
    source = Source(100)
    stream = prefetched(source, depth=2)
    assert next(stream) == b"0"
    time.sleep(0.3)
    # one handed out, two in the queue, one in the worker's hand waiting for room
    assert source.pulled <= 1 + 2 + 1
    stream.close()


def test_a_failure_is_raised_after_the_chunks_before_it():
    stream = prefetched(Source(10, fail_at=4))
    assert [next(stream) for _ in range(4)] == [b"0", b"1", b"2", b"3"]
    with pytest.raises(ValueError, match="chunk 4 failed"):
        next(stream)


def test_closing_the_stream_stops_the_worker_and_closes_the_source():
    source = Source(10_000)
    stream = prefetched(source, depth=2)
    next(stream)
    stream.close()
    assert source.closed.wait(5), "the worker kept the source open after the client left"
    assert source.pulled < 10
