"""SIGKILL of a real replica process in the middle of an asset batch: what was committed stays
served (certified, byte-identical), nothing of the half batch shows, `icchat deploy` resumes.
And the same replica's disk filling up during a deploy: a clear reason, the last good state kept."""

from __future__ import annotations

import asset_faults as faults


def test_sigkill_mid_asset_batch(tmp_path):
    record = faults.sigkill_mid_asset_batch(tmp_path)
    assert record.outcome == "survived", record.checks
    assert record.figures["chunks_accepted_before_kill"] < 2 * 4 + 4  # killed before the batch was whole


def test_full_disk_on_a_live_replica(tmp_path):
    record = faults.full_disk_live_replica(tmp_path)
    assert record.outcome == "survived", record.checks
