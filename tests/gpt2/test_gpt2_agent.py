"""The gpt2 canister through the IC HTTP interface with the official JS agent: the C Candid
runtime and @icp-sdk/core's Candid agree, and rejects reach the caller with their reason."""

from __future__ import annotations

import json
import subprocess

from icchat.paths import REPO
from icchat.replica.http import HttpServer


def test_the_js_agent_generates_and_reads_logits(served):
    canister = served["q8"]
    prompt = [464, 3290, 318, 257]
    with HttpServer(canister.replica, port=0) as server:
        result = subprocess.run(
            ["node", str(REPO / "tests" / "js" / "gpt2_agent.mjs"), server.url, canister.id.to_text(), ",".join(map(str, prompt))],
            capture_output=True, text=True, timeout=120, cwd=REPO,
        )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    info = canister.model_info()
    assert (out["dtype"], out["n_layer"], out["bytes"]) == (info["dtype"], info["n_layer"], info["bytes"])
    assert out["tokens"] == canister.generate(prompt, max_new_tokens=6, stop=[])["tokens"]
    assert len(out["token_instructions"]) == 5 and min(out["token_instructions"]) > 0
    assert "the prompt is empty: give at least one token" in out["rejected"]
    # generate_query as a query through the HTTP interface: the update's tokens for the same request
    sampled = canister.generate(prompt, max_new_tokens=6, temperature=0.9, top_k=400, top_p=0.95, seed=42, stop=[])
    assert out["fast_tokens"] == sampled["tokens"] and out["fast_stop_reason"] == "length"
    logits = canister.logits(prompt)
    assert out["logits_length"] == len(logits) == 50257
    assert out["logits_head"] == [float(x) for x in logits[:4]]
