"""web/engine.mjs's choice of engine module under Node's test runner (tests/engine/engine_module.test.mjs),
with relaxed SIMD off (Node 20's default, like Safari) and on (like Chromium)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).parent


@pytest.mark.parametrize("relaxed", [False, True], ids=["simd128", "relaxed"])
def test_engine_module_choice(relaxed):
    node = shutil.which("node")
    assert node, "node is needed for the page's JavaScript tests"
    flags = ["--experimental-wasm-relaxed-simd"] if relaxed else []
    done = subprocess.run([node, *flags, "--test", str(HERE / "engine_module.test.mjs")], capture_output=True,
                          text=True, timeout=120, env={**os.environ, "EXPECT_RELAXED": "1" if relaxed else "0"})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "# fail 0" in done.stdout and "# pass 3" in done.stdout
