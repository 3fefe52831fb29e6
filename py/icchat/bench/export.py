"""Export of the 124M-shape model (`small`, seed 0) and what its ONNX variants cost to run.

Records the time of every export stage, file sizes, native onnxruntime and onnxruntime-web
(Node, WASM) decode milliseconds per token at 1 and 2 threads, and top-1 agreement / cosine
of each variant against f32. The bundle is kept in build/models/small-s0 and reused while its
manifest verifies (pass --fresh to export again).
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path
from typing import Any

from icchat.paths import BUILD

PROMPT_TOKENS = 64
DECODE_STEPS = 16


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=BUILD / "models" / "small-s0")
    parser.add_argument("--fresh", action="store_true", help="export again even if it verifies")
    parser.add_argument("--no-web", action="store_true", help="skip onnxruntime-web runs")


def run(args: argparse.Namespace) -> dict[str, Any]:
    from icchat.errors import UserError
    from icchat.model import parity
    from icchat.model.export import export_bundle
    from icchat.model.manifest import verify_bundle
    from icchat.model.onnx_variants import ONNX_DIR, VARIANT_FILES

    timings: dict[str, float] = {}
    try:
        if args.fresh:
            raise UserError("fresh export requested")
        manifest = verify_bundle(args.out)
        print(f"reusing {args.out} (manifest verifies)")
    except UserError:
        export_bundle(args.out, config="small", seed=0, force=True, timings=timings)
        manifest = verify_bundle(args.out)

    prompt = [(i * 7919) % 50000 for i in range(PROMPT_TOKENS)]
    steps = [(i * 104729) % 50000 for i in range(DECODE_STEPS)]
    runs: dict[str, Any] = {}
    baseline = None
    for variant, name in VARIANT_FILES.items():
        path = args.out / ONNX_DIR / name
        if not path.exists():
            continue
        entry: dict[str, Any] = {"file_mb": round(path.stat().st_size / 1e6, 1)}
        for threads in (1, 2):
            logits, ms = parity.onnx_logits(path, prompt, steps, threads=threads)
            entry[f"native_prompt{PROMPT_TOKENS}_ms_t{threads}"] = round(ms[0], 1)
            entry[f"native_decode_ms_per_token_t{threads}"] = round(statistics.median(ms[2:]), 2)
            if not args.no_web:
                _, web_ms = parity.onnx_web_logits(path, prompt, steps, threads=threads)
                entry[f"web_node_decode_ms_per_token_t{threads}"] = round(statistics.median(web_ms[2:]), 2)
        if baseline is None:
            baseline = logits
        entry["top1_vs_f32"] = round(parity.top1_agreement(logits, baseline), 4)
        entry["cosine_vs_f32"] = round(parity.mean_cosine(logits, baseline), 5)
        runs[variant] = entry
        print(f"  {variant:<15} {entry}")

    return {
        "model": manifest["model"],
        "bundle": str(args.out),
        "export_seconds": {k: round(v, 2) for k, v in timings.items()} or "reused",
        "files_mb": {f["path"]: round(f["size"] / 1e6, 1) for f in manifest["files"]},
        "onnx": runs,
        "method": f"teacher-forced: {PROMPT_TOKENS}-token prompt, then {DECODE_STEPS} single-token "
                  "steps with the KV cache; decode = median of steps 2.., one process per runtime; "
                  "web = onnxruntime-web 1.30 WASM under Node 20 (threads>1 needs workers in Node)",
    }


def plot(result: dict[str, Any], png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    variants = list(result["onnx"])
    keys = [k for k in next(iter(result["onnx"].values())) if "decode_ms_per_token" in k]
    fig, ax = plt.subplots(figsize=(8, 4))
    width = 0.8 / max(len(keys), 1)
    for i, key in enumerate(keys):
        ax.bar([x + i * width for x in range(len(variants))],
               [result["onnx"][v].get(key, 0) for v in variants], width, label=key)
    ax.set_xticks([x + width * (len(keys) - 1) / 2 for x in range(len(variants))], variants)
    ax.set_ylabel("ms per generated token")
    ax.set_title("GPT-2 124M shape: decode cost per ONNX variant")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)
