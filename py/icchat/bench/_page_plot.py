"""The PNG of `icchat bench page`: decode ms per token per contender (median, min-max bars), step
time at 16 vs 512 tokens of context, time to first token cold/warm, weight streaming MB/s."""

from __future__ import annotations

from pathlib import Path
from typing import Any

COLORS = {"page": "#ef5675", "tjs": "#7a5195", "ortweb": "#ffa600", "native": "#888888"}


def _bars(ax: Any, groups: list[str], series: dict[str, list[Any]], ylabel: str, title: str) -> None:
    """Grouped bars; each value is a spread dict {median, min, max} or None."""
    width = 0.8 / max(1, len(series))
    for i, (name, values) in enumerate(series.items()):
        xs = [g + (i - (len(series) - 1) / 2) * width for g in range(len(groups))]
        med = [v["median"] if v else 0 for v in values]
        err = [[(v["median"] - v["min"]) if v else 0 for v in values], [(v["max"] - v["median"]) if v else 0 for v in values]]
        later = "@" in name and i % 2 == 1  # the longer context of a contender's pair: hatched
        ax.bar(xs, med, width=width, yerr=err, capsize=2, label=name, color=COLORS.get(name.split()[0]),
               hatch="//" if later else None, edgecolor="white" if later else None)
    ax.set_xticks(range(len(groups)), groups, fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7)


def plot_page(result: dict[str, Any], png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(12, 8))
    contenders = list(result.get("contenders") or result.get("engines", {}))  # "engines": before issue 26
    table = result.get("decode", {}).get("summary", {}).get("table", {})
    if table:
        groups = list(table)
        _bars(axes[0][0], groups, {e: [table[g].get(e, {}).get("step_ms") for g in groups] for e in contenders},
              "ms per generated token", f"decode, prompt 16 + {result['settings']['new_tokens']} tokens (lower is better)")
    growth = result.get("decode", {}).get("summary", {}).get("context_growth", {})
    if growth:
        groups, contexts = list(growth), result["settings"]["contexts"]
        series = {}
        for e in contenders:
            for c in (contexts[0], contexts[-1]):
                v = [growth[g].get(e, {}).get(f"step_ms_at_{c}") for g in groups]
                series[f"{e} @{c}"] = [{"median": x, "min": x, "max": x} if x else None for x in v]
        _bars(axes[0][1], groups, series, "ms per step", "step time by context length")
    first = result.get("first_token", {})
    kinds = [(e, k) for e in contenders for k in ("cold", "warm") if isinstance(first.get(e), dict) and k in first[e]]
    if kinds:
        _bars(axes[1][0], [f"{e} {k}" for e, k in kinds], {"time to first token": [first[e][k]["time_to_first_token_s"] for e, k in kinds]},
              "seconds", f"time to first token ({first.get('precision')}, {first.get('threads')} threads)")
    streaming = result.get("streaming", {})
    if streaming:
        groups = list(streaming)
        _bars(axes[1][1], groups, {k: [streaming[g][f"{k}_mb_per_s"] for g in groups]
                                   for k in ("gateway_certified", "gateway_raw", "static_server")},
              "MB/s", "ONNX weights: gpt2 canister via the gateway vs a static server")
    for ax in (a for row in axes for a in row):
        if not ax.has_data():
            ax.set_axis_off()
    fig.suptitle(f"icchat bench page — {result.get('bundle')}", fontsize=11)
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)
