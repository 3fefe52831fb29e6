"""The Python share of an on-device token: icchat.chat's runtime + DeviceBackend over
web/ort-engine.mjs in Pyodide under Node (onnxruntime-web WASM, the page's stack) against the
same loop driven from JS.

Per generated token (medians; a reply's first and last tokens left out): wall ms as the caller
sees it; ms inside the engine's forward (awaited from Python); ms of Python outside it (the
engine's next() incl. web/sampler.mjs, `sample_ms`) and of the runtime (decoding, stop
strings); the JS-driven loop's ms for the same greedy decode, and the sampler's own ms on real
logits called from JS. Python share = (python + runtime) / (python + runtime + run).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
from pathlib import Path
from typing import Any

import icchat
from icchat.build.engine import build_sampler_wasm
from icchat.errors import UserError
from icchat.model.manifest import read_manifest
from icchat.paths import REPO

DRIVER = Path(__file__).with_name("chat_device.mjs")
SETTINGS = [
    {"name": "greedy", "temperature": 0.0, "top_k": 0, "top_p": 1.0},
    {"name": "top_k 40, top_p 0.95", "temperature": 0.8, "top_k": 40, "top_p": 0.95},
    {"name": "whole vocabulary (top_k 0)", "temperature": 1.0, "top_k": 0, "top_p": 1.0},
    {"name": "top_k 0, top_p 0.9", "temperature": 1.0, "top_k": 0, "top_p": 0.9},
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bundle", type=Path, default=REPO / "build/models/small-s0",
                        help="a model bundle (default: the 124M-shape build/models/small-s0)")
    parser.add_argument("--variant", default="q8", help="the ONNX decoder's variant (q8, f32, ...)")
    parser.add_argument("--tokens", type=int, default=48, help="tokens per reply")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)


def run(args: argparse.Namespace) -> dict[str, Any]:
    if not (args.bundle / "manifest.json").is_file():
        raise UserError(f"{args.bundle} is not a model bundle: run `icchat model export --config "
                        f"small --seed 0 --out {args.bundle}` first")
    read_manifest(args.bundle)  # refuses, in one line, a bundle of another format version
    spec = {"variant": args.variant, "tokens": args.tokens, "repeats": args.repeats,
            "threads": args.threads, "settings": SETTINGS, "sampler": str(build_sampler_wasm())}
    proc = subprocess.run(["node", str(DRIVER), str(Path(icchat.__file__).parent), str(args.bundle),
                           json.dumps(spec)], capture_output=True, text=True, cwd=REPO)
    if proc.returncode != 0:
        raise UserError(f"the Pyodide benchmark failed: {proc.stderr.strip()[-500:]}")
    raw = json.loads(proc.stdout)
    js_ms = [ms for r in raw["runs"] if r["driver"] == "js" for ms in r["token_ms"]]
    rows = []
    for s in SETTINGS:
        runs = [r for r in raw["runs"] if r["driver"] == "python" and r["settings"] == s["name"]]
        steps = [t for r in runs for t in r["per_token"]]  # first and last token left out
        median = {k: statistics.median(t[k] for t in steps)
                  for k in ("wall_ms", "python_ms", "run_ms", "runtime_ms", "sample_ms")}
        python = median["python_ms"] + median["runtime_ms"]
        rows.append({"settings": s["name"], "tokens": len(steps),
                     **{f"{k}_median": v for k, v in median.items()},
                     "python_share": python / (python + median["run_ms"]),
                     "python_share_without_sampling": (python - median["sample_ms"])
                     / (python + median["run_ms"])})
    return {"bundle": str(args.bundle), "variant": args.variant, "threads": args.threads,
            "prompt_tokens": raw["prompt_tokens"], "js_loop_ms_median": statistics.median(js_ms),
            "js_sampler_ms_median": {k: statistics.median(v) for k, v in raw["sampler_ms"].items()},
            "python": rows}
