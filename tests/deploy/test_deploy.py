"""`icchat deploy` end to end: our asset canister (real WASM) on the replica, files uploaded over
the IC HTTP interface by sync_folder / the CLI, fetched back through the replica's HTTP gateway
(which verifies certification) byte for byte."""

from __future__ import annotations

import gzip
import http.client
import json
import random
from pathlib import Path

import pytest

from icchat.cli import main
from icchat.deploy import CHUNK_BYTES, DeployError, sync_folder
from icchat.deploy.assetstorage import AssetStorage
from icchat.ic.identity import Ed25519Identity, Identity
from icchat.ic.principal import Principal

BIG = 4 * CHUNK_BYTES + 12345  # five chunks, the last one short
CONFIG = """// per-asset settings, dfx's format
[
  { match: "**/*", headers: { "Cross-Origin-Opener-Policy": "same-origin",
                              "Cross-Origin-Embedder-Policy": "require-corp" } },
  { match: "**/*.mjs", cache: { max_age: 31536000 } },
]
"""


class Interrupted(Exception):
    pass


def site_files(seed: int = 0) -> dict[str, bytes]:
    rng = random.Random(seed)
    return {
        "index.html": b"<!doctype html><title>icchat %d</title>" % seed + b"<p>hello, chat</p>\n" * 300,
        "app.mjs": b"export const answer = %d;\n" % seed * 400,
        "style.css": b"body { margin: %dpx; }\n" % seed * 100,
        "data/config.json": json.dumps({"seed": seed, "words": ["a"] * 500}).encode(),
        "deep/nested/notes.txt": b"notes %d " % seed * 50,
        "big.bin": rng.randbytes(BIG),
    }


def write_site(root: Path, files: dict[str, bytes]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / ".ic-assets.json5").write_text(CONFIG)
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def fetch(port: int, cid: Principal, path: str, headers: dict[str, str] | None = None, *,
          raw: bool = False) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        connection.request("GET", path, headers={"Host": f"{cid}.{'raw.' if raw else ''}localhost", **(headers or {})})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def assert_served(http_replica, cid: Principal, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        status, _, body = fetch(http_replica.server.port, cid, "/" + name)
        assert status == 200, (name, status, body[:300])
        assert body == data, name


@pytest.fixture(scope="session")
def assets_wasm() -> bytes:
    build = pytest.importorskip("icchat.build.assets", reason="the asset canister has not landed yet")
    return Path(build.build_assets_wasm()).read_bytes()


def install_assets(replica, wasm: bytes, owner: Identity) -> Principal:
    cid = replica.create_canister(controllers=[owner.principal])
    replica.install_code(cid, wasm, sender=owner.principal)
    return cid


@pytest.fixture
def assets(http_replica, assets_wasm, owner) -> Principal:
    return install_assets(http_replica.replica, assets_wasm, owner)


def test_deploy_serves_every_file_certified_with_headers_and_gzip(http_replica, assets, owner, tmp_path):
    files = site_files()
    folder = write_site(tmp_path / "site", files)
    seen = []
    report = sync_folder(http_replica.agent(owner), assets, folder, progress=seen.append,
                         journal=tmp_path / "journal.jsonl")
    assert report.files == len(files) and report.files_uploaded == len(files)
    assert report.chunks_uploaded == 5 + 5 * 2  # big.bin's five chunks; identity + gzip of the rest
    assert report.chunk_calls == 5 + 1  # the ten small ones travel in one create_chunks call
    assert seen[-1].phase == "done" and seen[-1].files_done == len(files)
    assert seen[-1].bytes_done == seen[-1].bytes_total
    assert not (tmp_path / "journal.jsonl").exists()  # committed: nothing to resume
    assert_served(http_replica, assets, files)
    status, headers, body = fetch(http_replica.server.port, assets, "/app.mjs", {"Accept-Encoding": "gzip"})
    assert status == 200 and headers.get("content-encoding") == "gzip"
    assert gzip.decompress(body) == files["app.mjs"]
    assert headers["content-type"].startswith("text/javascript")
    assert headers["cross-origin-opener-policy"] == "same-origin"
    assert headers["cross-origin-embedder-policy"] == "require-corp"
    assert "max-age=31536000" in headers.get("cache-control", "")
    listed = AssetStorage(http_replica.agent(), assets).list()
    assert set(listed) == {"/" + name for name in files}
    assert set(listed["/big.bin"].encodings) == {"identity"}  # random bytes: gzip would not pay


def test_deployed_files_are_certified_or_nothing_unless_a_rule_allows_raw_access(http_replica, assets, owner, tmp_path):
    """Our default allow_raw_access is false: on the raw domain the canister redirects to the
    certified one; a rule `allow_raw_access: true` serves the file there."""
    folder = write_site(tmp_path / "site", {"index.html": b"<p>page</p>", "public/open.txt": b"open"})
    (folder / "public" / ".ic-assets.json5").write_text('[{ match: "*", allow_raw_access: true }]')
    sync_folder(http_replica.agent(owner), assets, folder)
    port = http_replica.server.port
    status, headers, _ = fetch(port, assets, "/index.html?x=1", raw=True)
    assert (status, headers["location"]) == (308, f"http://{assets}.localhost/index.html?x=1")
    assert fetch(port, assets, "/public/open.txt", raw=True)[::2] == (200, b"open")
    listed = AssetStorage(http_replica.agent(), assets).get_asset_properties("/index.html")
    assert listed.allow_raw_access is False
    assert sync_folder(http_replica.agent(owner), assets, folder).operations == 0  # the setting holds


def test_second_run_changes_nothing_and_a_change_uploads_only_itself(http_replica, assets, owner, tmp_path):
    files = site_files()
    folder = write_site(tmp_path / "site", files)
    agent = http_replica.agent(owner)
    sync_folder(agent, assets, folder)
    again = sync_folder(agent, assets, folder)
    assert (again.chunks_uploaded, again.operations, again.batch_id) == (0, 0, None)
    files["style.css"] = b"body { margin: 1px; }\n" * 100
    (folder / "style.css").write_bytes(files["style.css"])
    changed = sync_folder(agent, assets, folder)
    assert changed.files_uploaded == 1 and changed.chunks_uploaded == 2  # identity + gzip
    assert changed.operation_kinds == {"SetAssetContent": 2}
    assert_served(http_replica, assets, files)


def test_deleted_file_disappears(http_replica, assets, owner, tmp_path):
    files = site_files()
    folder = write_site(tmp_path / "site", files)
    agent = http_replica.agent(owner)
    sync_folder(agent, assets, folder)
    (folder / "deep" / "nested" / "notes.txt").unlink()
    del files["deep/nested/notes.txt"]
    report = sync_folder(agent, assets, folder)
    assert report.files_deleted == 1 and report.chunks_uploaded == 0
    assert "/deep/nested/notes.txt" not in AssetStorage(agent, assets).list()
    _status, _, body = fetch(http_replica.server.port, assets, "/deep/nested/notes.txt")
    assert body != b"notes 0 " * 50
    assert_served(http_replica, assets, files)


def test_interrupted_run_resumes_with_only_the_missing_chunks(http_replica, assets, owner, tmp_path):
    old = site_files(0)
    folder = write_site(tmp_path / "site", old)
    agent = http_replica.agent(owner)
    sync_folder(agent, assets, folder)
    new = site_files(1)  # every file changes
    write_site(folder, new)
    journal = tmp_path / "journal.jsonl"

    def stop_inside_the_big_file(p):  # the ten single-chunk encodings go first, then big.bin's five
        if p.chunks_done >= 12:
            raise Interrupted

    with pytest.raises(Interrupted):
        sync_folder(agent, assets, folder, progress=stop_inside_the_big_file, journal=journal)
    journalled = len(journal.read_text().splitlines()) - 1
    assert journalled == 12
    assert_served(http_replica, assets, old)  # the open batch is invisible
    resumed = sync_folder(agent, assets, folder, journal=journal)
    assert resumed.resumed and resumed.chunks_reused == journalled
    assert resumed.chunks_uploaded == 15 - journalled
    assert_served(http_replica, assets, new)
    assert not journal.exists()


def test_expired_batch_starts_a_new_one(tmp_path, assets_wasm, owner):
    from deploy_replica import HttpReplica

    from icchat.replica import Replica
    from icchat.replica.http import HttpServer

    with Replica(tmp_path / "replica") as replica, HttpServer(replica, port=0) as server:
        own = HttpReplica(replica, server)
        cid = install_assets(replica, assets_wasm, owner)
        files = site_files(2)
        folder = write_site(tmp_path / "site", files)
        journal = tmp_path / "journal.jsonl"
        agent = own.agent(owner)

        def stop(p):
            if p.chunks_done >= 3:
                raise Interrupted

        with pytest.raises(Interrupted):
            sync_folder(agent, cid, folder, progress=stop, journal=journal)
        replica.advance_time(20 * 60)  # long past the batch expiry
        report = sync_folder(agent, cid, folder, journal=journal)
        assert not report.resumed and report.chunks_reused == 0 and report.chunks_uploaded == 15
        assert_served(own, cid, files)


def test_unauthorized_identities_get_the_canisters_reason(http_replica, assets, owner, tmp_path):
    folder = write_site(tmp_path / "site", {"index.html": b"<p>hi</p>"})
    stranger = Ed25519Identity.generate()
    for who in (stranger, Identity()):
        with pytest.raises(DeployError, match="rejected") as info:
            sync_folder(http_replica.agent(who), assets, folder)
        assert len(str(info.value).splitlines()) == 1
        assert "Caller does not have Commit permission: only controllers and principals with Commit permission may call create_batch" in str(info.value)
    assert AssetStorage(http_replica.agent(), assets).list() == {}
    AssetStorage(http_replica.agent(owner), assets).authorize(stranger.principal)
    assert sync_folder(http_replica.agent(stranger), assets, folder).files_uploaded == 1


def test_prefix_manages_only_its_keys(http_replica, assets, owner, tmp_path):
    agent = http_replica.agent(owner)
    site = write_site(tmp_path / "site", {"index.html": b"<p>page</p>"})
    model = write_site(tmp_path / "model", {"weights.bin": b"\x01" * 1000, "config.json": b"{}"})
    sync_folder(agent, assets, site)
    sync_folder(agent, assets, model, prefix="/model/")
    (model / "config.json").unlink()
    sync_folder(agent, assets, model, prefix="/model")
    assert set(AssetStorage(agent, assets).list()) == {"/index.html", "/model/weights.bin"}
    status, _, body = fetch(http_replica.server.port, assets, "/model/weights.bin")
    assert (status, body) == (200, b"\x01" * 1000)


def test_cli_deploy(http_replica, assets, owner, tmp_path, capsys):
    files = {"index.html": b"<p>cli</p>" * 50, "app.mjs": b"export default 1;\n" * 40}
    folder = write_site(tmp_path / "site", files)
    pem = tmp_path / "identity.pem"
    pem.write_bytes(owner.to_pem())
    args = ["deploy", str(folder), "--canister", str(assets), "--network", http_replica.url,
            "--identity", str(pem), "--journal", str(tmp_path / "j.jsonl")]
    assert main(args) == 0
    out = capsys.readouterr()
    assert "uploaded 2" in out.out and "MB/s" in out.err
    assert_served(http_replica, assets, files)
    assert main(args) == 0
    assert "already up to date" in capsys.readouterr().out
    (folder / "new.txt").write_text("something to upload")
    # Errors are one line each: no identity, unknown canister, unreachable replica.
    for bad, expected in (
        ([*args[:6], "--journal", str(tmp_path / "j.jsonl")], "rejected"),
        (["deploy", str(folder), "--canister", str(Principal.from_canister_index(4242)), "--network",
          http_replica.url, "--identity", str(pem)], str(Principal.from_canister_index(4242))),
        (["deploy", str(folder), "--canister", str(assets), "--network", "http://127.0.0.1:9"], "cannot reach"),
    ):
        assert main(bad) == 1
        err = capsys.readouterr().err.strip()
        assert err.startswith("icchat: error: ") and expected in err and len(err.splitlines()) == 1, err


def test_deploy_over_the_official_uploaders_files_reuses_their_content(http_replica, assets, owner, tmp_path):
    """Files uploaded by @dfinity/assets (tests/assets/js/upload.mjs) are recognised by their
    sha256: our deploy adds gzip encodings and fixes settings, and uploads no identity bytes."""
    import subprocess

    from icchat.paths import REPO

    script, seed = REPO / "tests" / "assets" / "js" / "upload.mjs", "09" * 32
    folder = tmp_path / "site"
    files = {"index.html": b"<!doctype html><p>official</p>\n" * 200, "js/app.js": b"console.log(1);\n" * 300,
             "style.css": b"p { color: red; }\n" * 200, "model.bin": random.Random(5).randbytes(3 * CHUNK_BYTES)}
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)

    def node(*args: str) -> dict:
        process = subprocess.run(["node", str(script), http_replica.url, str(assets), seed, *args],
                                 capture_output=True, text=True, timeout=300, cwd=REPO)
        assert process.returncode == 0, process.stderr[-3000:]
        return json.loads(process.stdout.strip().splitlines()[-1])

    uploader = Principal.from_text(node("principal")["principal"])
    AssetStorage(http_replica.agent(owner), assets).authorize(uploader)
    assert all(node("upload", str(folder))["roundtrip"].values())
    report = sync_folder(http_replica.agent(owner), assets, folder)
    assert "CreateAsset" not in report.operation_kinds
    assert report.operation_kinds["SetAssetContent"] == 3  # gzip of the three text files only
    assert report.chunks_uploaded == 3 and report.bytes_uploaded < 10_000
    assert report.files_deleted == 1  # /single.txt, which the script `store`d outside the folder
    assert_served(http_replica, assets, files)
    status, headers, body = fetch(http_replica.server.port, assets, "/js/app.js", {"Accept-Encoding": "gzip"})
    assert status == 200
    assert headers.get("content-encoding") == "gzip" and gzip.decompress(body) == files["js/app.js"]


def test_changed_content_type_recreates_the_asset(http_replica, assets, owner, tmp_path):
    import hashlib

    from icchat.deploy import assetstorage as ops

    store = AssetStorage(http_replica.agent(owner), assets)
    old = b"served as octet-stream by another tool"
    batch = store.create_batch()
    chunk = store.create_chunk(batch, old)
    store.commit_batch(batch, [ops.create_asset("/notes.txt", "application/octet-stream", max_age=None, headers=None),
                               ops.set_asset_content("/notes.txt", "identity", [chunk], hashlib.sha256(old).digest())])
    folder = write_site(tmp_path / "site", {"notes.txt": old})
    report = sync_folder(http_replica.agent(owner), assets, folder)
    assert report.operation_kinds == {"DeleteAsset": 1, "CreateAsset": 1, "SetAssetContent": 1}
    assert store.list()["/notes.txt"].content_type == "text/plain"
    status, headers, body = fetch(http_replica.server.port, assets, "/notes.txt")
    assert (status, body) == (200, old) and headers["content-type"].startswith("text/plain")
