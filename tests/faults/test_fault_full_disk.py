"""A full disk (ENOSPC at a chosen write) while the replica checkpoints and while training
checkpoints: a clear error, the last good state kept, nothing lost once space is back."""

from __future__ import annotations

import disk_faults as faults
import pytest


def test_full_disk_while_the_replica_checkpoints(tmp_path):
    record = faults.full_disk_replica_checkpoint(tmp_path)
    assert record.outcome == "survived", record.checks


def test_full_disk_while_training_checkpoints(tmp_path):
    pytest.importorskip("torch")
    record = faults.full_disk_training_checkpoint(tmp_path)
    assert record.outcome == "survived", record.checks
