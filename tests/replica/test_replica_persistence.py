"""--state-dir: everything survives a restart, checkpoints are incremental, and a crash at any
point of a checkpoint (or a SIGKILL at a random moment) leaves a complete, consistent state."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from replica_helpers import CONTROLLER, HERE, STRANGER, as_u64, u64

from icchat.ic import candid, prices
from icchat.ic.principal import Principal
from icchat.replica import Replica
from icchat.replica.management import METHODS
from icchat.replica.persistence import StateError

MANAGEMENT = Principal.management()


def test_every_part_of_a_canister_survives_a_restart(tmp_path, sysapi_wasm):
    with Replica(tmp_path) as replica:
        cid = replica.create_canister(controllers=[CONTROLLER, STRANGER], cycles=10**15)  # 300 GiB of stable memory: a 98.8T freezing reserve
        replica.install_code(cid, sysapi_wasm, b"persisted init arg", sender=CONTROLLER)
        for _ in range(4):
            replica.update(cid, "inc")
        replica.update(cid, "grow", u64(3))
        replica.update(cid, "stable_write", u64(300 * 1024**3) + b"deep in stable memory")
        replica.update(cid, "set_certified", b"certified!")
        replica.update(cid, "set_timer", u64(replica.time_ns() + 3600 * 10**9))
        chunk_arg = candid.encode(METHODS["upload_chunk"].args, [{"canister_id": cid, "chunk": b"chunk bytes"}])
        replica.update(MANAGEMENT, "upload_chunk", chunk_arg, sender=CONTROLLER)
        stop_arg = candid.encode(METHODS["stop_canister"].args, [{"canister_id": cid}])
        before = {
            "state": replica.query(cid, "state"),
            "memory": replica.query(cid, "memory_size"),
            "info": replica.canister_info(cid),
            "timer": replica.canister(cid).system.global_timer,
            "time": replica.time_ns(),
        }
        replica.update(MANAGEMENT, "stop_canister", stop_arg, sender=CONTROLLER)
        info_stopped = replica.canister_info(cid)
    with Replica(tmp_path) as replica:
        assert replica.canister_info(cid) == info_stopped
        start_arg = candid.encode(METHODS["start_canister"].args, [{"canister_id": cid}])
        replica.update(MANAGEMENT, "start_canister", start_arg, sender=CONTROLLER)
        assert replica.query(cid, "state") == before["state"]
        assert replica.query(cid, "memory_size") == before["memory"]
        assert replica.query(cid, "init_arg") == b"persisted init arg"
        assert replica.query(cid, "stable_read", u64(300 * 1024**3) + u64(21)) == b"deep in stable memory"
        info = replica.canister_info(cid)
        assert (info.certified_data, info.cycles, info.module_hash, set(info.controllers)) == (
            b"certified!", info_stopped.cycles - prices.ingress_induction_cycles(len("start_canister") + len(start_arg)),
            before["info"].module_hash, {CONTROLLER, STRANGER}
        )
        assert replica.canister(cid).system.global_timer == before["timer"]
        assert list(replica.canister(cid).system.chunks.values()) == [b"chunk bytes"]
        assert replica.time_ns() > before["time"]
        assert as_u64(replica.update(cid, "inc")) == 5  # and it keeps running
        assert replica.create_canister() == Principal.from_canister_index(cid.canister_index() + 1)


def test_checkpoints_write_only_what_changed(tmp_path, sysapi_wasm):
    with Replica(tmp_path) as replica:
        cid = replica.create_canister(controllers=[CONTROLLER])
        replica.install_code(cid, sysapi_wasm, sender=CONTROLLER)
        replica.update(cid, "stable_write", u64(0) + bytes(range(256)) * 4096)  # 1 MiB of stable memory
        replica.checkpoint()
        directory = tmp_path / "canisters" / cid.to_text()
        sizes_before = {p.name: p.stat().st_size for p in directory.iterdir()}
        replica.update(cid, "inc")
        replica.checkpoint()
        new = {p.name: p.stat().st_size for p in directory.iterdir() if p.name not in sizes_before}
    heap_base = max(size for name, size in sizes_before.items() if name.startswith("heap"))
    assert heap_base > 4 * 1024 * 1024  # the canister's static buffers
    heap_delta = sum(size for name, size in new.items() if name.startswith("heap"))
    assert 0 < heap_delta <= 4 * 4096 + 100  # a few 4 KiB pages, not the heap
    assert not any(name.startswith("stable") for name in new)  # stable memory untouched


def test_a_state_directory_has_one_user(tmp_path):
    with Replica(tmp_path), pytest.raises(StateError, match="in use by another replica"):
        Replica(tmp_path)


def test_unreadable_state_is_a_clear_error_and_clean_recovers(tmp_path, sysapi_wasm):
    with Replica(tmp_path) as replica:
        replica.create_canister()
    (tmp_path / "MANIFEST").write_text("{ not json")
    with pytest.raises(StateError, match="start with --clean"):
        Replica(tmp_path)
    with Replica(tmp_path, clean=True) as replica:
        assert replica.canister_ids() == []


# --- crashes -----------------------------------------------------------------------------------------

CHILD = textwrap.dedent(
    """
    import os, sys
    sys.path[:0] = {paths!r}
    {preamble}
    from icchat.replica import Replica
    from icchat.ic.principal import Principal
    state, wasm_path, phase, crash_at = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    replica = Replica(state)
    if phase == "setup":
        cid = replica.create_canister()
        replica.install_code(cid, open(wasm_path, "rb").read())
        for _ in range(5):
            replica.update(cid, "inc_both")
        replica.checkpoint()
        os._exit(0)
    cid = Principal.from_canister_index(0)
    if phase == "loop":  # update and checkpoint forever, until killed
        print("ready", flush=True)
        while True:
            replica.update(cid, "inc_both")
            replica.checkpoint()
    for _ in range(3):
        replica.update(cid, "inc_both")
    replica.update(cid, "grow", (4).to_bytes(8, "little"))
    calls = [0]
    def dying(real):
        def wrapper(*args, **kwargs):
            calls[0] += 1
            if calls[0] == crash_at:
                os._exit(9)  # no cleanup, no flushing: like a kill
            return real(*args, **kwargs)
        return wrapper
    os.fsync, os.replace = dying(os.fsync), dying(os.replace)
    replica.checkpoint()
    print("durability points:", calls[0], flush=True)
    os._exit(0)
    """
)


def _child(tmp_path: Path, wasm: Path, phase: str, crash_at: int = 0, *, popen: bool = False):
    preamble = os.environ.get("ICCHAT_TEST_CHILD_PREAMBLE", "")
    script = CHILD.format(paths=[str(HERE.parents[1] / "py")], preamble=preamble)
    command = [sys.executable, "-c", script, str(tmp_path), str(wasm), phase, str(crash_at)]
    if popen:
        return subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def _consistent_counter(state: Path) -> int:
    with Replica(state) as replica:
        cid = Principal.from_canister_index(0)
        counter = as_u64(replica.query(cid, "read"))
        assert replica.query(cid, "stable_read", u64(8) + u64(8)) == u64(counter), "heap and stable memory disagree"
        return counter


@pytest.fixture(scope="module")
def sysapi_path(sysapi_wasm, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("wasm") / "sysapi.wasm"
    path.write_bytes(sysapi_wasm)
    return path


def test_a_crash_at_any_durability_point_of_a_checkpoint_is_harmless(tmp_path, sysapi_path):
    clean = _child(tmp_path / "count", sysapi_path, "setup")
    assert clean.returncode == 0, clean.stderr
    counted = _child(tmp_path / "count", sysapi_path, "crash", 0)
    assert counted.returncode == 0, counted.stderr
    points = int(counted.stdout.split("durability points:")[1])
    assert points >= 4
    for crash_at in range(1, points + 1):
        state = tmp_path / f"crash{crash_at}"
        assert _child(state, sysapi_path, "setup").returncode == 0
        result = _child(state, sysapi_path, "crash", crash_at)
        assert result.returncode == 9, result.stderr
        assert _consistent_counter(state) in (5, 8)


def test_sigkill_at_random_moments_never_corrupts_state(tmp_path, sysapi_path):
    assert _child(tmp_path, sysapi_path, "setup").returncode == 0
    last = 5
    for delay in (0.15, 0.4, 0.9):
        child = _child(tmp_path, sysapi_path, "loop", popen=True)
        assert child.stdout.readline().strip() == "ready"
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        child.wait()
        counter = _consistent_counter(tmp_path)
        assert counter >= last
        last = counter
    assert last > 5


def test_stale_files_from_a_crash_are_collected(tmp_path, sysapi_path):
    assert _child(tmp_path, sysapi_path, "setup").returncode == 0
    assert _child(tmp_path, sysapi_path, "crash", 3).returncode == 9
    with Replica(tmp_path) as replica:
        replica.update(Principal.from_canister_index(0), "inc_both")
        replica.checkpoint()
    leftovers = [p.name for p in tmp_path.rglob("*.tmp")]
    directory = tmp_path / "canisters" / Principal.from_canister_index(0).to_text()
    manifest = (tmp_path / "MANIFEST").read_text()
    unreferenced = [p.name for p in directory.iterdir() if p.name not in manifest]
    assert unreferenced == [] and leftovers == []
