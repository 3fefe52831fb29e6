"""web/ort-engine.mjs under Node's test runner with onnxruntime-web (tests/engine/ort_engine.test.mjs):
the decoder shape over an ONNX decoder, its tokens against the icchat engine's and the session's."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from icchat.build.engine import build_engine_wasm, build_sampler_wasm
from icchat.model.export import cached_seeded_bundle
from icchat.paths import BUILD

HERE = Path(__file__).parent


def test_ort_engine():
    node = shutil.which("node")
    assert node, "node is needed for the page's JavaScript tests"
    bundle = cached_seeded_bundle(BUILD / "models" / "tiny-s0")
    done = subprocess.run([node, "--test", str(HERE / "ort_engine.test.mjs")], capture_output=True, text=True,
                          timeout=600, env={**os.environ, "BUNDLE": str(bundle), "ENGINE_WASM": str(build_engine_wasm()),
                                            "SAMPLER_WASM": str(build_sampler_wasm())})
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "# fail 0" in done.stdout and "# pass 6" in done.stdout
