"""The threaded icchat engine in Chromium (shared memory, helper workers from web/engine.mjs):
the same logits, bit for bit, and the same tokens with 1, 2 and 3 threads, for f32 and q8 weight
files, a prompt that splits into a batch of eight and three single tokens, and sampled steps.

Chromium is driven from a child process (icchat.bench._engine_page's origin and page, launched by
icchat.bench._host), so this
module does not meet another Playwright instance of the same pytest session (e2e's browser)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from support.browser import require_chromium

from icchat.bench._engine_page import engine_wasm_path

PROMPT = [15496, 11, 616, 1438, 318, 257, 1332, 286, 262, 3992, 13]

DRIVER = """
import json, sys
from pathlib import Path
from playwright.sync_api import sync_playwright
from icchat.bench._engine_page import EngineOrigin
from icchat.bench._host import launch_chromium
weights, jobs = sys.argv[1], json.loads(sys.argv[2])
with EngineOrigin(Path(weights)) as origin, sync_playwright() as playwright:
    browser = launch_chromium(playwright)
    page = origin.open(browser)
    out = []
    for job in jobs:
        try:
            out.append(origin.run(page, job))
        except RuntimeError as error:
            out.append({"error": str(error)})
    browser.close()
print(json.dumps(out))
"""


def run_jobs(weights_dir: Path, jobs: list[dict]) -> list[dict]:
    require_chromium()
    done = subprocess.run([sys.executable, "-c", DRIVER, str(weights_dir), json.dumps(jobs)], capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def job(weight_files, dtype: str, threads: int, wasm: str | None = None, relaxed: bool = True) -> dict:
    return {"wasm": wasm or engine_wasm_path(threads, relaxed), "threads": threads,
            "weights": f"/weights/{Path(weight_files[dtype]).name}", "prompt": PROMPT, "steps": 6,
            "sampling": [0.9, 40, 0.95, 77], "logits": True}


@pytest.fixture(scope="module")
def results(weight_files):
    jobs = [job(weight_files, dtype, threads) for dtype in ("f32", "q8") for threads in (1, 2, 3)]
    jobs.append(job(weight_files, "q8", 2, wasm=engine_wasm_path(1)))  # the one-thread build, asked for two
    jobs += [job(weight_files, "q8", threads, relaxed=False) for threads in (1, 2)]  # SIMD128 (no relaxed SIMD)
    jobs += [{**job(weight_files, "q8", threads), "kernel": kernel} for kernel in ("relaxed", "simd128") for threads in (1, 2)]
    return run_jobs(Path(weight_files["q8"]).parent, jobs)


@pytest.mark.parametrize("dtype", ["f32", "q8"])
def test_threads_change_nothing(results, dtype):
    one, *many = results[:3] if dtype == "f32" else results[3:6]
    assert "error" not in one, one
    assert one["threads"] == 1
    for threads, run in zip((2, 3), many, strict=True):
        assert "error" not in run, run
        assert run["threads"] == threads
        assert run["first"] == one["first"], f"{threads} threads: prompt logits differ"
        assert run["last"] == one["last"], f"{threads} threads: logits after the steps differ"
        assert run["tokens"] == one["tokens"]


def test_the_one_thread_build_refuses_threads(results):
    assert "runs 1 to 1 threads, not 2" in results[6]["error"]


def test_relaxed_simd_and_simd128_give_the_same_logits(results):
    """Chromium runs the relaxed-SIMD modules (relaxed_dot over u7 planes, on a CPU with VNNI);
    browsers without relaxed SIMD get the SIMD128 ones (widened int8), and a relaxed module on a CPU
    without VNNI picks its widening product: the exact q8 sums make all of them agree bit for bit."""
    chosen, simd128_module, forced = results[3:5], results[7:9], results[9:13]
    assert all(r["kernel"] in ("relaxed", "simd128") for r in chosen)  # timed on this device
    assert [r["kernel"] for r in simd128_module + forced] == ["simd128"] * 2 + ["relaxed"] * 2 + ["simd128"] * 2
    for plain, fast in zip(simd128_module * 3, chosen + forced, strict=True):
        assert "error" not in plain, plain
        assert plain["threads"] == fast["threads"]
        assert plain["first"] == fast["first"] and plain["last"] == fast["last"]
        assert plain["tokens"] == fast["tokens"]
