"""`icchat bench replica`: throughput of the local replica and the cost of its atomicity.

Measures, on the sysapi probe canister (canister/probes/sysapi.c, built with zig):
- calls per second of an empty query and an empty update (Python API, no HTTP);
- the cost of one System API call (a loop of `ic0.canister_self_size` minus an empty loop);
- per-message commit and rollback cost against heap size, for the kernel dirty-page tracker
  (userfaultfd), the comparison fallback, and a naive full-heap copy for reference;
- checkpoint cost (bytes and seconds) after one small update on a large heap;
- the wall-clock overhead of IC-accurate instruction metering on a compute-heavy method.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

MiB = 1024 * 1024


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--calls", type=int, default=2000, help="calls per throughput measurement")
    parser.add_argument("--heap-mib", type=int, nargs="+", default=[16, 64, 256, 1024], help="heap sizes to measure")
    parser.add_argument("--repeat", type=int, default=20, help="messages per heap-size measurement")


def _sysapi() -> bytes:
    from icchat.build.canister import compile_c
    from icchat.paths import BUILD, REPO

    return compile_c([REPO / "canister" / "probes" / "sysapi.c"], BUILD / "probes" / "sysapi.wasm").read_bytes()


def _u64(value: int) -> bytes:
    return value.to_bytes(8, "little")


def _per_second(call: Callable[[], Any], count: int) -> float:
    start = time.perf_counter()
    for _ in range(count):
        call()
    return count / (time.perf_counter() - start)


def _median_ms(call: Callable[[], Any], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(samples), 4)


@contextlib.contextmanager
def _tracking(mode: str):
    previous = os.environ.get("ICCHAT_DIRTY_TRACKING")
    os.environ["ICCHAT_DIRTY_TRACKING"] = mode
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("ICCHAT_DIRTY_TRACKING", None)
        else:
            os.environ["ICCHAT_DIRTY_TRACKING"] = previous


def _throughput(wasm: bytes, calls: int) -> dict[str, Any]:
    from icchat.replica import Replica

    with Replica() as replica:
        cid = replica.create_canister()
        replica.install_code(cid, wasm)
        for _ in range(50):  # warm up
            replica.query(cid, "empty_q")
            replica.update(cid, "empty")
        queries = max(_per_second(lambda: replica.query(cid, "empty_q"), calls) for _ in range(3))
        updates = max(_per_second(lambda: replica.update(cid, "empty"), calls) for _ in range(3))
        n = 20_000
        loop = min(_timed(lambda: replica.query(cid, "api_loop", _u64(n))) for _ in range(3))
        empty = min(_timed(lambda: replica.query(cid, "api_loop", _u64(0))) for _ in range(3))
        tracker = replica.canister(cid).execution_state.instance.heap.tracking
    return {
        "empty_query_calls_per_s": round(queries),
        "empty_update_calls_per_s": round(updates),
        "system_api_call_us": round((loop - empty) / n * 1e6, 2),
        "dirty_tracking": tracker,
    }


def _timed(call: Callable[[], Any]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def _atomicity(wasm: bytes, heap_mib: list[int], repeat: int, mode: str) -> list[dict[str, Any]]:
    from icchat.replica import Reject, Replica

    rows = []
    with _tracking(mode), Replica() as replica:
        cid = replica.create_canister()
        replica.install_code(cid, wasm)
        heap = replica.canister(cid).execution_state.instance.heap
        for target in sorted(heap_mib):
            pages = target * MiB // 65536 - heap.live_size // 65536
            if pages > 0:
                replica.update(cid, "grow", _u64(pages))
            replica.update(cid, "touch_heap", _u64(1))

            def trap() -> None:
                with contextlib.suppress(Reject):
                    replica.update(cid, "change_then_trap")

            rows.append({
                "tracking": heap.tracking,
                "heap_mib": round(heap.live_size / MiB),
                "update_touching_1_page_ms": _median_ms(lambda: replica.update(cid, "touch_heap", _u64(1)), repeat),
                "update_touching_256_pages_ms": _median_ms(lambda: replica.update(cid, "touch_heap", _u64(256)), repeat),
                "query_rollback_1_page_ms": _median_ms(lambda: replica.query(cid, "touch_heap_q", _u64(1)), repeat),
                "trap_rollback_ms": _median_ms(trap, repeat),
            })
    return rows


def _full_copy_ms(heap_mib: list[int], repeat: int) -> list[dict[str, Any]]:
    """What a naive snapshot would cost: copying the whole heap once per message."""
    return [{"heap_mib": size, "full_copy_ms": _copy_ms(size * MiB, max(3, repeat // 4))} for size in sorted(heap_mib)]


def _copy_ms(size: int, repeat: int) -> float:
    src, dst = ctypes.create_string_buffer(size), ctypes.create_string_buffer(size)
    ctypes.memset(src, 1, size)
    return _median_ms(lambda: ctypes.memmove(dst, src, size), repeat)


def _checkpoint(wasm: bytes, heap_mib: int) -> dict[str, Any]:
    from icchat.replica import Replica

    with tempfile.TemporaryDirectory() as directory, Replica(directory) as replica:
        cid = replica.create_canister()
        replica.install_code(cid, wasm)
        replica.update(cid, "grow", _u64(heap_mib * MiB // 65536))
        replica.update(cid, "touch_heap", _u64(700))  # make the heap non-zero where it matters
        start = time.perf_counter()
        replica.checkpoint()
        full_s = time.perf_counter() - start
        files_before = _files(Path(directory))
        replica.update(cid, "inc")
        start = time.perf_counter()
        replica.checkpoint()
        delta_s = time.perf_counter() - start
        delta_bytes = sum(size for path, size in _files(Path(directory)).items() if path not in files_before)
    return {
        "heap_mib": heap_mib,
        "first_checkpoint_s": round(full_s, 3),
        "checkpoint_after_small_update_s": round(delta_s, 4),
        "checkpoint_after_small_update_new_bytes": delta_bytes,
    }


def _files(directory: Path) -> dict[Path, int]:
    return {p: p.stat().st_size for p in directory.rglob("*") if p.is_file()}


def run(args: argparse.Namespace) -> dict[str, Any]:
    from icchat.bench._instrumentation import measure as measure_instrumentation
    from icchat.replica.dirty_pages import uffd_available

    wasm = _sysapi()
    atomicity = _atomicity(wasm, args.heap_mib, args.repeat, "uffd" if uffd_available() else "compare")
    if uffd_available():
        atomicity += _atomicity(wasm, args.heap_mib, args.repeat, "compare")
    return {
        "throughput": _throughput(wasm, args.calls),
        "atomicity": atomicity,
        "full_copy_reference": _full_copy_ms(args.heap_mib, args.repeat),
        "checkpoint": _checkpoint(wasm, max(args.heap_mib)),
        "instrumentation": measure_instrumentation(),
        "notes": (
            "Python API, no HTTP; one 2-core machine shared with other work. Commit/rollback cost "
            "with userfaultfd tracking follows the pages written, not the heap size; the comparison "
            "fallback and a full copy grow with the heap."
        ),
    }


def plot(result: dict[str, Any], png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for tracking in sorted({row["tracking"] for row in result["atomicity"]}):
        rows = [r for r in result["atomicity"] if r["tracking"] == tracking]
        ax.plot([r["heap_mib"] for r in rows], [r["update_touching_1_page_ms"] for r in rows], "o-", label=f"update, 1 page ({tracking})")
        ax.plot([r["heap_mib"] for r in rows], [r["trap_rollback_ms"] for r in rows], "s--", label=f"trap + rollback ({tracking})")
    copy = result["full_copy_reference"]
    ax.plot([r["heap_mib"] for r in copy], [r["full_copy_ms"] for r in copy], "k:", label="full heap copy (reference)")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("canister heap (MiB)")
    ax.set_ylabel("ms per message (median)")
    ax.set_title("Atomic messages: cost vs heap size")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(png, dpi=120)
    plt.close(fig)
