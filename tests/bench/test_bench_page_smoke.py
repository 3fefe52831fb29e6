"""`icchat bench page` on the tiny bundle, minimal repetitions: it completes, every contender and
figure produces positive numbers, the JSON has the expected keys, and BENCHMARKS.md renders from
it. Not a timing test: no figure is compared with a target here."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from support.browser import require_chromium

from icchat.bench import page, write_result
from icchat.bench._benchmarks_md import render

pytestmark = pytest.mark.timeout(600)
TOKENS = 8
# the contenders of issue 14 (the peers); the others in the registry have smoke tests of their own
CONTENDERS = ["page", "tjs", "ortweb", "native"]


@pytest.fixture(scope="module")
def result(tmp_path_factory) -> dict:
    require_chromium()
    parser = argparse.ArgumentParser()
    page.add_arguments(parser)
    args = parser.parse_args(["--bundle", "tiny", "--quick", "--repeats", "1", "--tokens", str(TOKENS),
                              "--threads", "1", "--precisions", "q8", "--contenders", ",".join(CONTENDERS)])
    out = tmp_path_factory.mktemp("results")
    path = write_result("page", page.run(args), out_dir=out)
    return json.loads(path.read_text()) | {"_dir": str(out)}


def test_decode_runs_every_contender_with_the_same_greedy_tokens(result):
    runs = result["decode"]["runs"]
    assert {r["contender"] for r in runs} == set(CONTENDERS)
    assert {r["context"] for r in runs} == {16, 128}
    for run in runs:
        assert run["prefill_ms"] > 0 and run["step_ms_median"] > 0, run
        assert run["new_tokens"] == TOKENS and run["same_tokens_as_native"], run
    cell = result["decode"]["summary"]["table"]["q8 t1"]
    assert cell["page"]["speed_vs_tjs"] > 0 and cell["page"]["speed_vs_native"] > 0
    assert result["decode"]["summary"]["context_growth"]["q8 t1"]["page"]["growth"] > 0


def test_first_token_cold_and_warm_with_phases(result):
    first = result["first_token"]
    for contender in ("page", "tjs", "ortweb"):
        for kind in ("cold", "warm"):
            assert first[contender][kind]["time_to_first_token_s"]["median"] > 0
    phases = first["page"]["cold"]["phases_s"]
    for phase in ("pyodide_boot", "runtime_install", "weight_fetch_and_hash", "session_creation", "first_token"):
        assert phases[phase]["median"] > 0, phase
    assert first["page"]["cold"]["runs"][0]["network_bytes"] > 0  # cold: the weights came over the network
    assert first["page"]["warm"]["runs"][0]["network_bytes"] == 0  # warm: from Cache Storage


def test_streaming_onchain_memory_and_targets(result):
    streaming = result["streaming"]["q8"]
    for kind in ("gateway_certified", "gateway_raw", "static_server"):
        assert streaming[f"{kind}_mb_per_s"]["median"] > 0
    for dtype in ("f32", "q8"):
        for context in ("16", "128"):
            entry = result["onchain"][dtype]["contexts"][context]
            assert entry["instructions_per_token"] > 0 and entry["mainnet_cycles_per_1000_tokens"] > 0
    assert result["memory"]["q8"]["decode_runs_peak_chromium_rss_mib"]["max"] > 100
    assert result["targets"] and all(t["measured"] > 0 for t in result["targets"])
    assert result["environment"]["command"].startswith("icchat")


def test_plot_and_benchmarks_md_render(result, tmp_path):
    out = Path(result["_dir"])
    page.plot(result, out / "page.png")
    assert (out / "page.png").stat().st_size > 10_000
    text = render(out, tmp_path / "BENCHMARKS.md")
    assert "icchat bench page" in text and "| q8 t1 | page |" in text and "page.png" in text
