"""A command of ours in the background: detached from the terminal (its own session), its output
appended to a log file, waited for until it answers; found alive and stopped by its pid.
(icchat.stack.replica_process and serve_process keep their records on top of it.)"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from icchat.errors import UserError


def spawn(command: Sequence[str], log: Path, answers: Callable[[], bool], timeout_s: float, what: str) -> int:
    """Start `command` detached; its pid once `answers()` is true. UserError naming the log if it
    exits first, or does not answer within `timeout_s` (it is terminated then)."""
    with log.open("ab") as out:
        child = subprocess.Popen(list(command), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                 start_new_session=True, close_fds=True)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise UserError(f"{what} exited at start (code {child.returncode}); see {log}")
        if answers():
            return child.pid
        time.sleep(0.2)
    child.terminate()
    raise UserError(f"{what} did not answer within {timeout_s:.0f} s; see {log}")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child of ours counts as dead
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][:1] != "Z"
    except OSError:
        return True


def terminate(pid: int, timeout_s: float) -> None:
    """SIGTERM (the process saves what it keeps), SIGKILL if it is still there after `timeout_s`."""
    if not alive(pid):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if alive(pid):
        os.kill(pid, signal.SIGKILL)
