"""`icchat replica start`: loads state, runs until interrupted, saves state on the way out."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys

from icchat.cli import main
from icchat.replica import Replica


def test_start_loads_state_and_saves_it_on_interrupt(tmp_path):
    with Replica(tmp_path) as replica:
        replica.create_canister()
    env = dict(os.environ)
    process = subprocess.Popen(
        [sys.executable, "-m", "icchat", "replica", "start", "--state-dir", str(tmp_path), "--port", "4999"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        first = process.stdout.readline()
        assert "1 canister(s) loaded" in first, first + process.stderr.read()
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert "serving the IC HTTP interface on http://localhost:4999" in out
    assert "state saved" in out
    with Replica(tmp_path) as replica:
        assert len(replica.canister_ids()) == 1


def test_bad_port_and_busy_state_dir_are_one_line_errors(tmp_path, capsys):
    assert main(["replica", "start", "--state-dir", str(tmp_path), "--port", "0"]) == 1
    assert capsys.readouterr().err.strip() == "icchat: error: --port must be between 1 and 65535, not 0"
    with Replica(tmp_path):
        assert main(["replica", "start", "--state-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is in use by another replica" in err[0]


def test_status_reports_a_running_replica_and_says_when_none_runs(tmp_path, capsys):
    from icchat.replica.http import HttpServer

    assert main(["replica", "status", "--port", "9"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no replica answers at http://127.0.0.1:9" in err[0]
    with Replica(tmp_path) as replica, HttpServer(replica, port=0) as server:
        cid = replica.create_canister()
        assert main(["replica", "status", "--port", str(server.port)]) == 0
        out = capsys.readouterr().out
        assert "healthy" in out and str(cid) in out and "canisters     1" in out
        fingerprint = hashlib.sha256(replica.root_key_der()).hexdigest()[:16]
        assert f"root key      sha256 {fingerprint}" in out
        assert main(["replica", "status", "--url", server.url + "/api/v9"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "answered HTTP 404" in err[0]
