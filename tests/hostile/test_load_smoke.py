"""The load bench's smoke run (icchat.bench._reliability_load, SMOKE plan) against `icchat up`'s
real stack: concurrent page loads, a model-file download and onchain chats in both modes from
several identities, alone and all at once. Every response is checked (byte-identical files,
the file's SHA-256, the reference greedy tokens, certificates verified by the agent): no wrong
answer and no error, and the replica's memory stays bounded. Speed figures are the bench's job
(`icchat bench reliability --load`), not this test's."""

from __future__ import annotations

import pytest

from icchat.bench import _reliability_load as load


@pytest.fixture(scope="module")
def result():
    with load.running_stack() as stack:
        yield load.measure(stack, load.SMOKE, log=lambda _: None)


def test_every_answer_under_load_is_the_right_one(result):
    assert result["wrong_answers"] == 0
    for scenario in ("pages", "verified", "fast"):
        for level in result[scenario]["levels"]:
            assert level["requests"] > 0 and level["errors"] == 0, (scenario, level)
    assert result["big"]["levels"][0]["requests"] == 1 and result["big"]["levels"][0]["errors"] == 0
    assert result["mixed"]["errors"] == 0 and result["mixed"]["wrong_answers"] == 0, result["mixed"]


def test_the_replica_memory_stays_bounded(result):
    before, peak = result["replica_rss_mb_before"], result["mixed"]["replica_rss_mb"]["peak"]
    assert before is not None and peak < before + 1024, (before, peak)
