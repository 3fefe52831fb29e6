"""The same module gives the same ids in Pyodide (Python 3.14 in WASM, stdlib only)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

import icchat
from icchat.paths import REPO

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="needs Node")


def test_pyodide_ids_equal_cpython_ids(tmp_path, tokenizer, tokenizer_dir, texts):
    sample = texts[::5]  # 2,000 strings of every kind
    (tmp_path / "texts.json").write_text(json.dumps(sample))
    proc = subprocess.run(
        ["node", str(Path(__file__).with_name("pyodide_encode.mjs")),
         str(Path(icchat.__file__).parent), str(tokenizer_dir), str(tmp_path / "texts.json")],
        capture_output=True, text=True, cwd=REPO, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout)
    assert result["version"].startswith("3.14")
    assert result["ids"] == [tokenizer.encode(t) for t in sample]
    assert result["roundtrip"]
