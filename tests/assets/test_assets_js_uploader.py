"""The official JS uploader (@dfinity/assets + @dfinity/agent 3.4.3) works against the asset canister
unchanged: it uploads a folder (small files and a 5 MB file, chunked at 1.9 MB, 16 calls in flight)
in one batch and `store`s a small file; reads everything back through its own get/get_chunk and
isCertified (v1 tree lookup); then each file comes back byte-identical through the verifying gateway."""

from __future__ import annotations

import json
import subprocess

from icchat.ic.principal import Principal
from icchat.paths import REPO
from icchat.replica import Reject

SCRIPT = REPO / "tests" / "assets" / "js" / "upload.mjs"
SEED = "07" * 32


def node(*args: str) -> dict:
    process = subprocess.run(["node", str(SCRIPT), *args], capture_output=True, text=True, timeout=300, cwd=REPO)
    assert process.returncode == 0, process.stderr[-3000:]
    return json.loads(process.stdout.strip().splitlines()[-1])


def test_official_uploader_round_trip(gateway, assets, site_dir):
    url = gateway.server.url
    principal = Principal.from_text(node(url, str(assets.id), SEED, "principal")["principal"])
    assets.authorize(principal)
    result = node(url, str(assets.id), SEED, "upload", str(site_dir))
    assert sorted(result["keys"]) == ["/index.html", "/js/app.js", "/model.bin", "/style.css"]
    assert result["listed"] == sorted([*result["keys"], "/single.txt"])
    assert all(result["roundtrip"].values()), result["roundtrip"]
    assert all(result["certified"].values()), result["certified"]
    for key in result["keys"]:
        status, headers, body = gateway.fetch(assets, key)
        assert status == 200 and body == (site_dir / key[1:]).read_bytes(), key
    status, headers, _ = gateway.fetch(assets, "/index.html")
    assert headers["cross-origin-opener-policy"] == "same-origin"
    assert gateway.fetch(assets, "/single.txt")[2] == b"stored in one call\n"


def test_official_uploader_without_permission_is_rejected(gateway, assets, site_dir):
    process = subprocess.run(["node", str(SCRIPT), gateway.server.url, str(assets.id), "08" * 32, "upload", str(site_dir)],
                             capture_output=True, text=True, timeout=300, cwd=REPO)
    assert process.returncode != 0
    assert "Caller does not have Commit permission" in process.stderr
    try:
        assets.list()
    except Reject as exc:  # pragma: no cover - list is public
        raise AssertionError(exc) from None
    assert assets.list() == []
