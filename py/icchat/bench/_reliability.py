"""bench/results/reliability.json: one file, three sections written by different runners.

    {"benchmark": "reliability", "environment": {...},
     "durable_replies": {...}, "load": {...}, "onchain_abuse": {...}}

Each runner owns one section and replaces only that one; the others are kept as they are on
disk (merge on write, under a file lock, written atomically). A section carries its own
`environment` (date, commit, machine), since sections are regenerated at different times.

    from icchat.bench import _reliability
    _reliability.write_section("durable_replies", {...})        # from any runner
    result = _reliability.merged("load", {...})  # for a bench `run()` that returns the whole file

Section runners: `SECTION_RUNNERS[name]` names a module with `run_section(args) -> dict`, so
`icchat bench reliability` can regenerate any section without knowing how it is made.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from icchat.bench import environment
from icchat.paths import BENCH_RESULTS

NAME = "reliability"
SECTIONS = ("durable_replies", "load", "onchain_abuse")
SECTION_RUNNERS = {"durable_replies": "icchat.bench._reliability_durable", "load": "icchat.bench._reliability_load",
                   "onchain_abuse": "icchat.bench._reliability_abuse"}


def result_path(out_dir: Path = BENCH_RESULTS) -> Path:
    return out_dir / f"{NAME}.json"


def read(out_dir: Path = BENCH_RESULTS) -> dict[str, Any]:
    """The file as it is on disk ({} when missing or unreadable)."""
    try:
        data = json.loads(result_path(out_dir).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _check(section: str) -> None:
    if section not in SECTIONS:
        raise ValueError(f"unknown reliability section {section!r}; one of {SECTIONS}")


def merged(section: str, data: dict[str, Any], out_dir: Path = BENCH_RESULTS) -> dict[str, Any]:
    """The whole result with `section` replaced by `data` (what a bench `run()` returns; the
    bench writer adds "benchmark" and "environment" itself)."""
    _check(section)
    current = read(out_dir)
    result = {name: current[name] for name in SECTIONS if name in current}
    result[section] = {"environment": environment(), **data}
    return result


@contextmanager
def _locked(out_dir: Path):
    out_dir.mkdir(parents=True, exist_ok=True)
    # the lock lives outside the results folder, so it is never committed with them
    with open(Path(tempfile.gettempdir()) / f"icchat-{NAME}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def write_section(section: str, data: dict[str, Any], out_dir: Path = BENCH_RESULTS) -> Path:
    """Replace `section` in reliability.json, keeping the other sections; atomic."""
    with _locked(out_dir):
        result = {"benchmark": NAME, "environment": environment(), **merged(section, data, out_dir)}
        path = result_path(out_dir)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(result, indent=2) + "\n")
        os.replace(tmp, path)
    return path
