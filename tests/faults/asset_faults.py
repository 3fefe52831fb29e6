"""Fault scenario 1: the replica SIGKILLed in the middle of an asset batch (`icchat deploy` of a
several-MB site), restarted from its state directory: what was committed is served intact
(certified, byte-identical), nothing of the half batch shows, and the rerun resumes and completes."""

from __future__ import annotations

import random
import resource
import shutil
import time
from pathlib import Path

from live_replica import (
    LiveReplica,
    ScenarioRecord,
    assets_wasm,
    canister_get,
    create_and_install,
    deploy_args,
    icchat,
    identity_pem,
    journal_chunks,
    one_line_error,
)

from icchat.bench._host import free_port
from icchat.ic.principal import Principal

CHUNK = 1_900_000  # icchat.deploy.sync.CHUNK_BYTES
SITE_CONFIG = '[{ match: "**/*", headers: { "Cross-Origin-Opener-Policy": "same-origin" } }]\n'


def site(version: int) -> dict[str, bytes]:
    """A site of several MB; every file differs between versions, and one exists only in v1."""
    rng = random.Random(version)
    files = {
        "index.html": b"<!doctype html><title>v%d</title>" % version + b"<p>hello</p>\n" * 400,
        "app.js": b"export const version = %d;\n" % version * 300,
        "style.css": b"body { margin: %dpx; }\n" % version * 80,
        "big.bin": rng.randbytes(3 * CHUNK + 4321),  # four chunks, sent one after another
    }
    if version:
        files["only-in-v1.txt"] = b"this file arrives with v1 (here: v%d)\n" % version
    return files


def write_site(folder: Path, files: dict[str, bytes]) -> Path:
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    (folder / ".ic-assets.json5").write_text(SITE_CONFIG)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


def served_exactly(replica: LiveReplica, canister_id: Principal, files: dict[str, bytes],
                   absent: tuple[str, ...] = ()) -> tuple[bool, str]:
    """Every file served byte-identical through the certifying gateway; `absent` ones 404."""
    for name, data in files.items():
        status, _, body = canister_get(replica.port, canister_id, "/" + name)
        if status != 200 or body != data:
            return False, f"/{name}: status {status}, {len(body)} bytes, equal: {body == data}"
    for name in absent:
        status, _, _ = canister_get(replica.port, canister_id, "/" + name)
        if status != 404:
            return False, f"/{name} should not exist yet: status {status}"
    return True, "all files byte-identical"


def _v0_deployed(replica: LiveReplica, root: Path, record: ScenarioRecord) -> tuple[Principal, Path, Path, Path]:
    """Start the replica, install an asset canister and `icchat deploy` site v0 to it (checked):
    (its id, the deploying identity's PEM, the site folder, the deploy journal)."""
    identity, pem = identity_pem(root)
    replica.start()
    canister_id = create_and_install(replica, identity, assets_wasm())
    folder, journal = root / "site", root / "deploy.jsonl"
    write_site(folder, site(0))
    first = icchat("deploy", str(folder), *deploy_args(replica, canister_id, pem, journal))
    record.check("v0 deploys", first.returncode == 0, None if first.returncode == 0 else one_line_error(first.stderr))
    return canister_id, pem, folder, journal


def sigkill_mid_asset_batch(root: Path) -> ScenarioRecord:
    record = ScenarioRecord("sigkill_mid_asset_batch",
                            "replica SIGKILLed while `icchat deploy` uploads a several-MB site into a batch")
    replica = LiveReplica(root / "stack", free_port())
    try:
        canister_id, pem, folder, journal = _v0_deployed(replica, root, record)
        v0, v1 = site(0), site(1)
        # Kill right after v0's commit replied (no time for a debounced checkpoint) ...
        replica.kill()
        record.figures["restart_after_commit_s"] = round(replica.start(), 2)
        ok, why = served_exactly(replica, canister_id, v0)
        record.check("a batch committed just before the SIGKILL is served after restart", ok, why)
        # ... and in the middle of v1's batch: the small files and one chunk of big.bin accepted.
        write_site(folder, v1)
        small_chunks = 2 * (len(v1) - 1)  # identity + gzip of each small file, in one create_chunks
        killed = replica.kill_when(lambda: journal_chunks(journal) >= small_chunks + 1)
        interrupted = icchat("deploy", str(folder), *deploy_args(replica, canister_id, pem, journal))
        record.check("the replica was killed mid-batch", killed.wait(10))
        accepted = journal_chunks(journal)
        record.figures["chunks_accepted_before_kill"] = accepted
        message = one_line_error(interrupted.stderr)
        record.check("the interrupted deploy fails with a clear one-line error",
                     interrupted.returncode != 0 and ("cannot reach" in message or "lost" in message), message)
        t0 = time.monotonic()
        replica.start()
        ok, why = served_exactly(replica, canister_id, v0, absent=("only-in-v1.txt",))
        record.figures["recover_s"] = round(time.monotonic() - t0, 2)
        record.check("after restart v0 is served intact and nothing of the half batch is visible", ok, why)
        t0 = time.monotonic()
        resumed = icchat("deploy", str(folder), *deploy_args(replica, canister_id, pem, journal))
        record.figures["resume_deploy_s"] = round(time.monotonic() - t0, 2)
        record.check("the rerun completes", resumed.returncode == 0, None if resumed.returncode == 0 else one_line_error(resumed.stderr))
        record.check("the rerun resumes the interrupted batch (reuses its chunks)",
                     "reused" in resumed.stdout, resumed.stdout.strip().splitlines()[-1:])
        ok, why = served_exactly(replica, canister_id, v1)
        record.check("the result is byte-identical to the folder", ok, why)
        record.check("the journal is gone once committed", not journal.exists())
        # ... and while the commit itself is in flight: every chunk of v2 accepted.
        v2 = site(2)  # the same files and sizes as v1: as many chunks
        write_site(folder, v2)
        all_chunks = _chunks_served(replica, canister_id)
        killed = replica.kill_when(lambda: journal_chunks(journal) >= all_chunks)
        icchat("deploy", str(folder), *deploy_args(replica, canister_id, pem, journal))
        record.check("the replica was killed with the whole batch uploaded", killed.wait(10), all_chunks)
        replica.start()
        whole = [version for version, files in (("v1", v1), ("v2", v2)) if served_exactly(replica, canister_id, files)[0]]
        record.figures["served_after_a_kill_around_the_commit"] = whole
        record.check("a SIGKILL around the commit leaves exactly the old or the new site, never a mix",
                     len(whole) == 1, whole)
        again = icchat("deploy", str(folder), *deploy_args(replica, canister_id, pem, journal))
        ok, why = served_exactly(replica, canister_id, v2)
        record.check("and the rerun completes it", again.returncode == 0 and ok, why)
    finally:
        replica.stop()
    return record.done()


def _chunks_served(replica: LiveReplica, canister_id: Principal) -> int:
    """How many upload chunks the canister's current assets took (every encoding of every key)."""
    from icchat.deploy.assetstorage import AssetStorage

    assets = AssetStorage(replica.agent(), canister_id).list()
    return sum(-(-e.length // CHUNK) for a in assets.values() for e in a.encodings.values())


def _fill_disk(replica: LiveReplica, headroom: int = 256 * 1024) -> None:
    """A nearly full disk for the replica process: no file of it may grow past its log's size
    plus `headroom` (RLIMIT_FSIZE set from outside with prlimit; writes fail with EFBIG)."""
    log_size = (replica.root / "replica.log").stat().st_size
    _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.prlimit(replica.pid, resource.RLIMIT_FSIZE, (log_size + headroom, hard))


def _free_disk(replica: LiveReplica) -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.prlimit(replica.pid, resource.RLIMIT_FSIZE, (hard, hard))


def full_disk_live_replica(root: Path) -> ScenarioRecord:
    """The disk of a running replica fills up while `icchat deploy` uploads: the deploy stops
    with the replica's clear reason, the last good state is served and survives a SIGKILL, and
    once there is space again the same command completes (no restart needed)."""
    record = ScenarioRecord("full_disk_live_replica",
                            "a running replica's state writes fail (RLIMIT_FSIZE via prlimit: EFBIG) during "
                            "`icchat deploy`, then a SIGKILL, then space comes back")
    replica = LiveReplica(root / "stack", free_port())
    try:
        canister_id, pem, folder, journal = _v0_deployed(replica, root, record)
        v0, v1 = site(0), site(1)
        write_site(folder, v1)
        for attempt in ("before a restart", "after a restart"):
            _fill_disk(replica)
            refused = icchat("deploy", str(folder), *deploy_args(replica, canister_id, pem, journal))
            message = one_line_error(refused.stderr)
            record.check(f"{attempt}: the deploy stops with the replica's clear one-line reason",
                         refused.returncode != 0 and "cannot save its state" in message and "File too large" in message,
                         message)
            ok, why = served_exactly(replica, canister_id, v0, absent=("only-in-v1.txt",))
            record.check(f"{attempt}: the last good state is still served", ok, why)
            if attempt == "before a restart":
                replica.kill()
                replica.start()
                ok, why = served_exactly(replica, canister_id, v0, absent=("only-in-v1.txt",))
                record.check("a SIGKILL while the disk is full keeps the last good state", ok, why)
        _free_disk(replica)
        t0 = time.monotonic()
        again = icchat("deploy", str(folder), *deploy_args(replica, canister_id, pem, journal))
        record.figures["recover_s"] = round(time.monotonic() - t0, 2)
        record.check("with space back the same command completes, no restart needed", again.returncode == 0,
                     None if again.returncode == 0 else one_line_error(again.stderr))
        replica.kill()
        replica.start()
        ok, why = served_exactly(replica, canister_id, v1)
        record.check("and what it committed survives a SIGKILL", ok, why)
    finally:
        replica.stop()
    return record.done()
