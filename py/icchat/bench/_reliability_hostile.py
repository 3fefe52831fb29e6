"""The "hostile_input" section of bench/results/reliability.json: the hostile-input tests run, and
what they tried and found.

Runs `pytest tests/hostile` (and, with `--e2e`, `e2e/test_hostile_page.py` in Chromium) with
Hypothesis statistics, and records per test file: tests passed/failed, the examples Hypothesis
generated, and the time taken; plus the fixes these tests led to (kept in FIXES by hand).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from typing import Any

from icchat.paths import REPO

FILES = {
    "tests/hostile/test_hostile_http_parsing.py": "raw-socket HTTP: request lines, header count/size, framing, slow clients, non-UTF-8 paths, Host, bad CBOR",
    "tests/hostile/test_hostile_http_request.py": "http_request / streaming-callback Candid arguments: traversal, huge URLs and headers, forged tokens",
    "tests/hostile/test_hostile_asset_keys.py": "asset keys, encodings and headers through every write method; callers without permission",
    "tests/hostile/test_hostile_gpt2.py": "every gpt2 method with random and boundary values (NaN/inf, 2^32-1, huge stop lists)",
    "tests/hostile/test_onchain_abuse.py": "fresh identities and the anonymous principal hammer generate, prefill, queries as updates, "
                                           "2 MB arguments, asset writes (JS agent): cycles within the budget, cache kept",
}
E2E = {"e2e/test_hostile_page.py": "Chromium: another origin vs stored conversations and uploads; markup in prompts, answers, file names; hostile URLs"}
FIXES = [
    "replica HTTP server: Transfer-Encoding of any kind, non-decimal or conflicting Content-Length refused (411/400, "
    "connection closed) instead of read leniently ('+5', '5_0', ' ', 'gzip, chunked' were accepted: request smuggling)",
    "replica HTTP server: refusals of unparsable requests carry a status line (were HTTP/0.9 bare bodies) and one line of text",
    "gateway: a request target with raw non-ASCII bytes, or a path that is not percent-encoded UTF-8, is a 400 "
    "before the canister is called (was a 503 'verification failed')",
    "asset store: keys with control characters (CR, LF, tab, ...) are refused (only NUL was), so reject messages "
    "that echo keys stay one line",
    "gpt2 canister: prompt + max_new_tokens checked in 64 bits (2 + 4294967294 wrapped to 0 on wasm32, passed the "
    "context check, then trapped on scratch memory)",
]
# Hypothesis's statistics, per test and phase: "- 15 passing, 0 failing, and 1 invalid test cases"
_STATS = re.compile(r"(\d+) passing, (\d+) failing, and (\d+) invalid test cases")


def run_file(path: str) -> dict[str, Any]:
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "pytest", path, "-q", "-p", "no:cacheprovider",
                           "--hypothesis-show-statistics"], cwd=REPO, capture_output=True, text=True)
    out = proc.stdout + proc.stderr
    passed = sum(int(n) for n in re.findall(r"(\d+) passed", out.splitlines()[-1] if out.strip() else ""))
    failed = sum(int(n) for n in re.findall(r"(\d+) failed", out.splitlines()[-1] if out.strip() else ""))
    generated = sum(int(a) + int(b) + int(c) for a, b, c in _STATS.findall(out))
    return {"tests_passed": passed, "tests_failed": failed, "hypothesis_examples": generated,
            "seconds": round(time.monotonic() - started, 1), "exit_code": proc.returncode}


def run_section(args: argparse.Namespace | None = None) -> dict[str, Any]:
    files = dict(FILES)
    if getattr(args, "e2e", False):
        files.update(E2E)
    runs = {}
    for path, what in files.items():
        print(f"hostile input: {path}")
        runs[path] = {"tries": what, **run_file(path)}
    return {"files": runs,
            "tests_passed": sum(r["tests_passed"] for r in runs.values()),
            "tests_failed": sum(r["tests_failed"] for r in runs.values()),
            "hypothesis_examples": sum(r["hypothesis_examples"] for r in runs.values()),
            "fixes": FIXES}
