"""The "faults" section of bench/results/reliability.json: the stack hurt on purpose, then checked.

Each scenario runs a real `icchat replica start` process (icchat.bench._faults_live), hurts it at
a chosen moment (SIGKILL between two messages, an upgrade between two calls of a chat, a full
disk at a checkpoint), restarts it and checks that nothing committed was lost, nothing
half-written is visible and every upload resumes. Scenarios: _faults_assets (asset batch, full
disk on a live replica), _faults_gpt2 (model upload, verified chat, upgrades mid-chat),
_faults_disk (full disk in the persistence layer and in training), and
e2e/test_page_recovers.py (the page in Chromium). tests/faults runs each one; `icchat bench
reliability --section faults` (or the module below) runs them all and records what each
checked, its outcome and the time to recover.

    python -m icchat.bench._reliability_faults [--no-page]   # regenerate just this section
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from icchat.bench._faults_assets import full_disk_live_replica, sigkill_mid_asset_batch
from icchat.bench._faults_disk import full_disk_replica_checkpoint, full_disk_training_checkpoint
from icchat.bench._faults_gpt2 import (
    sigkill_mid_model_upload,
    sigkill_mid_verified_chat,
    upgrade_mid_chat,
)
from icchat.bench._faults_live import ScenarioRecord

SCENARIOS: dict[str, Callable[[Path], ScenarioRecord]] = {
    "sigkill_mid_asset_batch": sigkill_mid_asset_batch,
    "sigkill_mid_model_upload": sigkill_mid_model_upload,
    "sigkill_mid_verified_chat": sigkill_mid_verified_chat,
    "upgrade_mid_chat": upgrade_mid_chat,
    "full_disk_replica_checkpoint": full_disk_replica_checkpoint,
    "full_disk_live_replica": full_disk_live_replica,
    "full_disk_training_checkpoint": full_disk_training_checkpoint,
}


def run_section(args: argparse.Namespace | None = None) -> dict[str, Any]:
    import tempfile

    from icchat.bench._faults_live import FaultCheckFailed

    records = []
    for name, scenario in SCENARIOS.items():
        with tempfile.TemporaryDirectory(prefix=f"icchat-fault-{name}-") as tmp:
            started = time.monotonic()
            try:
                record = scenario(Path(tmp)).as_json()
            except FaultCheckFailed as failed:
                record = {"scenario": name, "outcome": "failed", "error": str(failed)}
            record["seconds"] = round(time.monotonic() - started, 1)
            records.append(record)
    if not getattr(args, "no_page", False):
        records.append(page_recovers())
    survived = sum(r["outcome"] == "survived" for r in records)
    return {"survived": survived, "scenarios_run": len(records), "scenarios": records,
            "durable_replies": durable_reply_cost(),
            "notes": "each scenario: a real `icchat replica start` process, killed with SIGKILL (or "
                     "upgraded, or out of disk) at a moment chosen by a hook on the client's progress; "
                     "recover_s = from the restart command until the first correct certified answer "
                     "(the page: replica restart + the first onchain answer after one click); replies "
                     "over the IC HTTP interface are published only after a checkpoint holding them "
                     "(group commit), so a SIGKILL right after a reply loses nothing"}


def page_recovers() -> dict[str, Any]:
    """Scenario 6 is an e2e test (real Chromium against the real stack): run it, read its figures."""
    import json
    import subprocess
    import sys

    from icchat.paths import BUILD, REPO

    started = time.monotonic()
    test = "e2e/test_page_recovers.py"
    done = subprocess.run([sys.executable, "-m", "pytest", test, "-q", "-p", "no:cacheprovider"], cwd=REPO,
                          capture_output=True, text=True, timeout=900)
    try:
        seen = json.loads((BUILD / "e2e-artifacts" / "figures.json").read_text())
    except (OSError, ValueError):
        seen = {}
    figures = {k: v for k, v in seen.items() if k.startswith(("page_", "replica_restart"))}
    checks = ["the page shows a clear one-line status when the replica dies mid-answer (onchain verified)",
              "the question stays in the box, no half answer is shown, answers on this device go on",
              "after the replica restarts, one click on Send answers onchain (fast and verified) with the "
              "tokens of the uninterrupted run"]
    tail = (done.stdout.strip().splitlines() or [""])[-1]
    return {"scenario": "page_recovers", "fault": "replica SIGKILLed with the page open in Chromium, then restarted",
            "outcome": "survived" if done.returncode == 0 else "failed",
            "checks": [{"check": c, "ok": done.returncode == 0} for c in checks], "test": test, "pytest": tail,
            **figures, "recover_s": _sum(figures.get("replica_restart_s"), figures.get("page_recovered_onchain-fast_s")),
            "seconds": round(time.monotonic() - started, 1)}


def durable_reply_cost(calls: int = 30) -> dict[str, Any]:
    """What publishing replies only after a checkpoint costs: median latency of a small update
    (create_batch on the asset canister) over the IC HTTP interface, in memory vs persisted."""
    import statistics
    import tempfile

    from icchat.bench._faults_live import assets_wasm
    from icchat.ic import candid
    from icchat.ic.agent import Agent
    from icchat.ic.identity import Ed25519Identity
    from icchat.replica import Replica
    from icchat.replica.http import HttpServer

    wasm, me = assets_wasm(), Ed25519Identity.from_seed(bytes(32))
    arg = candid.encode(candid.parse_types("(record {})"), [{}])
    medians = {}
    with tempfile.TemporaryDirectory(prefix="icchat-durable-") as tmp:
        for label, state in (("in_memory_ms", None), ("persisted_ms", Path(tmp))):
            with Replica(state) as replica, HttpServer(replica, port=0) as server:
                canister_id = replica.create_canister(controllers=[me.principal])
                replica.install_code(canister_id, wasm, sender=me.principal)
                agent = Agent(server.url, me)
                agent.fetch_root_key()
                seconds = []
                for _ in range(calls):
                    started = time.perf_counter()
                    agent.update(canister_id, "create_batch", arg)
                    seconds.append(time.perf_counter() - started)
                medians[label] = round(statistics.median(seconds) * 1000, 1)
    return {"what": f"median of {calls} create_batch update calls (v3, certificate verified)", **medians}


def _sum(*values: float | None) -> float | None:
    return None if None in values else round(sum(v for v in values if v is not None), 2)


def markdown(section: dict[str, Any]) -> list[str]:
    """The "faults" section as BENCHMARKS.md lines: one row per scenario."""
    lines = ["### Faults", "", "| scenario | fault | checks | outcome | recover (s) |", "|---|---|---|---|---|"]
    for s in section.get("scenarios", []):
        checks = s.get("checks", [])
        passed = sum(bool(c.get("ok")) for c in checks)
        lines.append(f"| `{s['scenario']}` | {s.get('fault', '')} | {passed}/{len(checks)} | {s['outcome']} | "
                     f"{s.get('recover_s', '-') if s.get('recover_s') is not None else '-'} |")
    durable = section.get("durable_replies")
    if durable:
        lines += ["", f"Durable replies ({durable['what']}): {durable['in_memory_ms']} ms in memory, "
                      f"{durable['persisted_ms']} ms persisted (the checkpoint before each reply is published)."]
    return [*lines, ""]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-page", action="store_true", help="skip the page scenario (Chromium e2e)")


def main() -> None:
    from icchat.bench import _reliability

    parser = argparse.ArgumentParser(prog="python -m icchat.bench._reliability_faults")
    add_arguments(parser)
    path = _reliability.write_section("faults", run_section(parser.parse_args()))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
