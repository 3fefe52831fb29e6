import subprocess
import sys

from icchat.cli import main


def run_cli(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "icchat", *argv], capture_output=True, text=True)


def test_unknown_subcommand_exits_with_usage_error():
    proc = run_cli("no-such-command")
    assert proc.returncode == 2
    assert "invalid choice" in proc.stderr


def test_unknown_benchmark_is_one_clear_line(capsys):
    assert main(["bench", "no-such-bench"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("icchat: error: unknown benchmark")
