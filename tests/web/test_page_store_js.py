"""web/page-store.mjs under Node's test runner (tests/web/page_store.test.mjs)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

HERE = Path(__file__).parent


def test_page_store_mjs():
    node = shutil.which("node")
    assert node, "node is needed for the page's JavaScript tests"
    done = subprocess.run([node, "--test", str(HERE / "page_store.test.mjs")], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "# fail 0" in done.stdout and "# pass 5" in done.stdout
