"""The gpt2 canister on a real replica process: SIGKILL mid model-bundle upload and mid verified
chat, and upgrades between the calls of a streaming chat (tiny seeded model)."""

from __future__ import annotations

import gpt2_faults as faults


def test_sigkill_mid_model_upload(tmp_path):
    record = faults.sigkill_mid_model_upload(tmp_path)
    assert record.outcome == "survived", record.checks
    assert 4 <= record.figures["chunks_accepted_before_kill"] < 15


def test_sigkill_mid_verified_chat(tmp_path):
    record = faults.sigkill_mid_verified_chat(tmp_path)
    assert record.outcome == "survived", record.checks


def test_upgrade_mid_chat(tmp_path):
    record = faults.upgrade_mid_chat(tmp_path)
    assert record.outcome == "survived", record.checks
