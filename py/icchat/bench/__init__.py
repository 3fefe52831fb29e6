"""Benchmarks: each module `icchat.bench.<name>` defines `run(args) -> dict` and optionally
`plot(result, png_path)` and `add_arguments(parser)`. `icchat bench <name>` writes
`bench/results/<name>.json` (with the command, machine and commit that produced it) and a PNG.

Speed and memory targets live here, never in timed tests.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

from icchat.paths import BENCH_RESULTS, REPO


def environment() -> dict[str, Any]:
    """What a reader needs to reproduce or compare a figure."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        commit = ""
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": " ".join(["icchat", *sys.argv[1:]]),
        "commit": commit or None,
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def write_result(name: str, result: dict[str, Any], out_dir: Path = BENCH_RESULTS) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.json"
    payload = {"benchmark": name, "environment": environment(), **result}
    path.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n")
    return path
