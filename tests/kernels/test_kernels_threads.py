"""The icchat engine's threaded products (browser/ops_browser.c: q8 rows in units of four, f32 rows for one
token, batches of eight tokens for a prompt, handed to whichever thread asks) equal the naive
reference bit for bit with 1 to 4 threads, for both q8 kernels of the relaxed build, in Node's V8
(threads_check.mjs starts the helpers as web/engine.mjs does).

V8 compiles wasm twice: Liftoff first, TurboFan for hot code. Both are checked, except the relaxed
q8 kernel under Liftoff: Node 20's V8 (11.3, where relaxed SIMD was still behind a flag) computes
i32x4.relaxed_dot_i8x16_i7x16_add wrongly there for the first row of each four (Chromium's V8
does not; test_engine_threads.py compares the relaxed and SIMD128 engines in Chromium)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from icchat.build.kernel_check import build_kernel_check

HERE = Path(__file__).parent
THREADS = (1, 2, 3, 4)
CASES_PER_THREAD_COUNT = {"widened,relaxed": 7 * 2 + 6, "widened": 7 + 6}  # q8 shapes x kernels + f32 shapes


@pytest.mark.parametrize(("compiler", "kernels"), [("--no-liftoff", "widened,relaxed"), ("--liftoff-only", "widened")],
                         ids=["turbofan", "liftoff"])
def test_threaded_products_equal_the_reference(compiler, kernels):
    node = shutil.which("node")
    assert node, "node is needed for the threaded kernel checks"
    wasm = build_kernel_check("threads")
    done = subprocess.run([node, "--experimental-wasm-relaxed-simd", compiler, str(HERE / "threads_check.mjs"), str(wasm),
                           kernels, *map(str, THREADS)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    cases = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(cases) == CASES_PER_THREAD_COUNT[kernels] * len(THREADS)
    assert {case["threads"] for case in cases} == set(THREADS)
    assert {case["kernel"] for case in cases} == {*kernels.split(","), None}
    differing = [case for case in cases if case["differ"]]
    assert not differing, f"{len(differing)} of {len(cases)} threaded products differ from the reference: {differing[:5]}"
