"""The progress bar (TTY: one redrawn line; log: a few plain lines) and the resume journal
(append-only, a torn last line ignored, scoped to one canister and prefix)."""

from __future__ import annotations

import io

from icchat.deploy.journal import Journal
from icchat.deploy.progress import SyncProgress, TerminalProgress, describe


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def snapshots(total_chunks: int = 50, chunk: int = 1_900_000) -> list[SyncProgress]:
    total = total_chunks * chunk
    out = [SyncProgress("uploading", 0, 3, 0, total, 0, 0, total_chunks, 0.0)]
    for i in range(1, total_chunks + 1):
        out.append(SyncProgress("uploading", 3 * i // total_chunks, 3, i * chunk, total, i * chunk, i,
                                total_chunks, i * 0.1))
    done = out[-1]
    out.append(SyncProgress("committing", 3, 3, done.bytes_done, total, done.bytes_sent, total_chunks, total_chunks, 5.0))
    out.append(SyncProgress("done", 3, 3, done.bytes_done, total, done.bytes_sent, total_chunks, total_chunks, 5.1))
    return out


def test_describe_shows_files_megabytes_rate_and_eta():
    p = SyncProgress("uploading", 1, 3, 19_000_000, 95_000_000, 19_000_000, 10, 50, 2.0)
    assert describe(p) == "uploading  1/3 files  19.0/95.0 MB  9.5 MB/s  ETA 0:08"
    assert p.eta_s == 8.0
    assert "ETA --:--" in describe(SyncProgress("uploading", 0, 3, 0, 10, 0, 0, 1, 0.0))


def test_tty_redraws_one_line():
    stream = Tty()
    bar = TerminalProgress(stream, min_interval_s=0)
    for p in snapshots():
        bar(p)
    text = stream.getvalue()
    assert text.count("\n") == 1 and text.endswith("\n")  # only the final line ends
    assert text.count("\r") == len(snapshots())
    assert text.rstrip().split("\r")[-1].startswith("done       3/3 files  95.0/95.0 MB")


def test_log_output_is_a_few_plain_lines():
    stream = io.StringIO()
    bar = TerminalProgress(stream)
    for p in snapshots():
        bar(p)
    lines = stream.getvalue().splitlines()
    assert 3 <= len(lines) <= 14 and "\r" not in stream.getvalue()
    assert lines[0].startswith("uploading  0/3") and lines[-1].startswith("done")


def test_journal_round_trip_and_torn_line(tmp_path):
    path = tmp_path / "deploy" / "j.jsonl"
    journal = Journal.start(path, "cid", "/", 7)
    journal.record(("/a", "identity", "ab" * 32, 0, 10), 1)
    journal.record(("/b", "gzip", "cd" * 32, 1_900_000, 5), 2)
    with path.open("a") as file:
        file.write('{"key": "/c", "encoding": "iden')  # killed mid-write
    again = Journal.load(path, "cid", "/")
    assert again is not None and again.batch_id == 7
    assert again.chunks == {("/a", "identity", "ab" * 32, 0, 10): 1, ("/b", "gzip", "cd" * 32, 1_900_000, 5): 2}
    assert Journal.load(path, "other canister", "/") is None
    assert Journal.load(path, "cid", "/model/") is None
    again.remove()
    assert Journal.load(path, "cid", "/") is None
    path.write_text("not json\n")
    assert Journal.load(path, "cid", "/") is None
