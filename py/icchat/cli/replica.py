"""`icchat replica start`: run the local replica (state in --state-dir) until Ctrl-C.

The HTTP interface attaches through one seam: `icchat.replica.http.HttpServer(replica, host,
port)` with `.start()` (serves in background threads), `.url` and `.stop()`. The replica loads
its state, runs timers, heartbeats and checkpoints, and saves cleanly on Ctrl-C/SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import time
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
    status = commands.add_parser("status", help="report a running replica (root key, canisters, uptime)")
    status.add_argument("--host", default="127.0.0.1", help="address the replica serves on (default 127.0.0.1)")
    status.add_argument("--port", type=int, default=4943, help="port the replica serves on (default 4943)")
    status.add_argument("--url", help="the replica's full address instead of --host/--port, e.g. http://localhost:4943")
    status.set_defaults(func=run_status)


def http_server_class() -> Any:
    """`icchat.replica.http.HttpServer` once the HTTP interface exists, else None."""
    try:
        from icchat.replica.http import HttpServer
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("icchat.replica.http"):
            return None
        raise
    except ImportError:
        return None
    return HttpServer


class StopFlag:
    """Set by SIGINT/SIGTERM. A plain flag polled by the main loop: raising KeyboardInterrupt
    from a handler can be swallowed (e.g. inside an import lock callback) and locks are unsafe
    in signal handlers, so the handler does nothing but flip a boolean."""

    def __init__(self) -> None:
        self.requested = False

    def __call__(self, signum: int, frame: object) -> None:
        self.requested = True


def run_start(args: argparse.Namespace) -> int:
    if not 0 < args.port < 65536:
        raise UserError(f"--port must be between 1 and 65535, not {args.port}")
    from icchat.replica import Replica

    stop = StopFlag()
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        replica = Replica(args.state_dir, clean=args.clean, print_debug=args.print_debug)
        try:
            _serve_until(stop, replica, args)
        finally:
            replica.close()
            print(f"icchat replica: state saved to {args.state_dir}", flush=True)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


def _serve_until(stop: StopFlag, replica: Any, args: argparse.Namespace) -> None:
    replica.start()
    count = len(replica.canister_ids())
    print(f"icchat replica: {count} canister(s) loaded from {args.state_dir}", flush=True)
    server_class = http_server_class()
    server = None
    if server_class is None:
        print("icchat replica: HTTP interface not installed yet; running timers and checkpoints. Ctrl-C to stop.", flush=True)
    else:
        server = server_class(replica, args.host, args.port)
        server.start()
        print(f"icchat replica: serving the IC HTTP interface on {server.url} (local development replica, not the IC). Ctrl-C to stop.", flush=True)
    try:
        while not stop.requested:
            time.sleep(0.2)
    finally:
        if server is not None:
            server.stop()


def run_status(args: argparse.Namespace) -> int:
    import hashlib
    import urllib.error
    import urllib.request

    import cbor2

    from icchat.ic.principal import Principal

    if args.url is None and not 0 < args.port < 65536:
        raise UserError(f"--port must be between 1 and 65535, not {args.port}")
    url = (args.url or f"http://{args.host}:{args.port}").rstrip("/")
    try:
        with urllib.request.urlopen(url + "/api/v2/status", timeout=10) as response:
            status = cbor2.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise UserError(f"{url} answered HTTP {exc.code} to /api/v2/status: not an IC replica's status") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise UserError(f"no replica answers at {url} ({reason}); start one with `icchat replica start`") from None
    except (ValueError, cbor2.CBORDecodeError) as exc:
        raise UserError(f"{url} answered, but not with an IC status: {exc}") from None
    if not hasattr(status, "get") or "root_key" not in status:
        raise UserError(f"{url} answered, but not with an IC status")
    root_key = bytes(status["root_key"])
    print(f"replica       {url} ({status.get('impl_version', 'unknown implementation')})")
    print(f"health        {status.get('replica_health_status', 'unknown')}")
    print(f"root key      sha256 {hashlib.sha256(root_key).hexdigest()[:16]}… ({len(root_key)} bytes DER)")
    print(f"subnet        {Principal.self_authenticating(root_key)}")
    if "icchat_uptime_seconds" in status:
        print(f"uptime        {int(status['icchat_uptime_seconds'])} s")
    canisters = [str(Principal(bytes(raw))) for raw in status.get("icchat_canisters", [])]
    print(f"canisters     {len(canisters)}" + "".join(f"\n  {c}" for c in canisters))
    return 0
