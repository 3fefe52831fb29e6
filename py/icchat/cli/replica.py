"""`icchat replica start`: run the local replica (state in --state-dir) until Ctrl-C.

The HTTP interface (issue 4) attaches through one seam: a module `icchat.replica.http` exposing
`serve(replica, host, port)`, which serves until KeyboardInterrupt. Without it, the replica
loads its state, runs timers, heartbeats and checkpoints, and saves cleanly on Ctrl-C/SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path
from typing import Any

from icchat.errors import UserError
from icchat.paths import REPO

DEFAULT_STATE_DIR = REPO / ".state" / "replica"


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("replica", help="run the local IC replica")
    commands = parser.add_subparsers(dest="replica_command", metavar="COMMAND", required=True)
    start = commands.add_parser("start", help="load state and run until Ctrl-C (state is saved on exit)")
    start.add_argument("--host", default="127.0.0.1", help="address to serve the IC HTTP interface on")
    start.add_argument("--port", type=int, default=4943, help="port of the IC HTTP interface (default 4943, like dfx)")
    start.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR, help=f"where canisters persist (default {DEFAULT_STATE_DIR})")
    start.add_argument("--clean", action="store_true", help="discard any existing state first")
    start.add_argument("--print-debug", action="store_true", help="print canisters' ic0.debug_print output")
    start.set_defaults(func=run_start)


def serve_hook() -> Any:
    """`icchat.replica.http.serve` once the HTTP interface exists, else None."""
    try:
        from icchat.replica.http import serve
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("icchat.replica.http"):
            return None
        raise
    except ImportError:
        return None
    return serve


def run_start(args: argparse.Namespace) -> int:
    if not 0 < args.port < 65536:
        raise UserError(f"--port must be between 1 and 65535, not {args.port}")
    from icchat.replica import Replica

    replica = Replica(args.state_dir, clean=args.clean, print_debug=args.print_debug)
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: _interrupt(stop))
    try:
        replica.start()
        count = len(replica.canister_ids())
        print(f"icchat replica: {count} canister(s) loaded from {args.state_dir}", flush=True)
        serve = serve_hook()
        if serve is not None:
            serve(replica, args.host, args.port)
        else:
            print("icchat replica: HTTP interface not installed yet; running timers and checkpoints. Ctrl-C to stop.", flush=True)
            while not stop.wait(3600):
                pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        replica.close()
        print(f"icchat replica: state saved to {args.state_dir}", flush=True)
    return 0


def _interrupt(stop: threading.Event) -> None:
    stop.set()
    raise KeyboardInterrupt
