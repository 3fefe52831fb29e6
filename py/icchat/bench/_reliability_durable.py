"""The "durable_replies" section of bench/results/reliability.json: what publishing replies only
after a checkpoint holds them costs (the replica's group commit; tests/faults proves a SIGKILL
right after a reply loses nothing): median latency of a small update (create_batch on the asset
canister) over the IC HTTP interface, with the replica's state in memory and persisted.

    icchat bench reliability --section durable_replies
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

CALLS = 30


def run_section(args: argparse.Namespace | None = None) -> dict[str, Any]:
    from icchat.build.assets import build_assets_wasm
    from icchat.ic import candid
    from icchat.ic.agent import Agent
    from icchat.ic.identity import Ed25519Identity
    from icchat.replica import Replica
    from icchat.replica.http import HttpServer

    wasm, me = build_assets_wasm().read_bytes(), Ed25519Identity.from_seed(bytes(32))
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
                for _ in range(CALLS):
                    started = time.perf_counter()
                    agent.update(canister_id, "create_batch", arg)
                    seconds.append(time.perf_counter() - started)
                medians[label] = round(statistics.median(seconds) * 1000, 1)
    return {"what": f"median of {CALLS} create_batch update calls (v3, certificate verified)", **medians}


def markdown(section: dict[str, Any]) -> list[str]:
    """The section as BENCHMARKS.md lines."""
    return ["### Durable replies", "",
            f"Latency ({section['what']}): {section['in_memory_ms']} ms in memory, {section['persisted_ms']} ms persisted "
            "(the checkpoint before each reply is published).", ""]
