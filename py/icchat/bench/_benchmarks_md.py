"""BENCHMARKS.md, generated from bench/results/*.json (and their PNGs): the machine, the command
that produced each figure, `icchat bench page`'s tables (median, min-max, ratios vs
transformers.js and native, the brief's targets next to the measured figures), then every other
benchmark's figures as a section. `icchat bench NAME` regenerates it after writing its result;
`python -m icchat.bench._benchmarks_md` does it alone.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from icchat.bench._markdown import _environment, _num, _spread, _table
from icchat.paths import BENCH_RESULTS, REPO

OUT = REPO / "BENCHMARKS.md"
ORDER = ["page", "gpt2", "model_sizes", "assets", "replica_http", "replica", "runtime", "chat_device", "demo_model", "export", "tokenizer"]


def _png(name: str, results: Path, out: Path) -> list[str]:
    png = results / f"{name}.png"
    if not png.is_file():
        return []
    try:
        link = png.relative_to(out.parent)
    except ValueError:
        link = png
    return [f"![{name}]({link.as_posix()})", ""]


def page_section(r: dict[str, Any]) -> list[str]:
    lines = ["## `icchat bench page`: our page vs transformers.js vs onnxruntime-web vs native", "",
             f"Produced by {_environment(r)}; bundle `{r.get('bundle')}` "
             f"({r['model'].get('n_layer')} layers, {r['model'].get('n_embd')} wide, {r['model'].get('source')}); "
             f"{r['settings']['repeats']} interleaved repeats; whole run {r.get('wall_s')} s.", ""]
    contenders = r.get("contenders") or r.get("engines", {})  # "engines" in results written before issue 26
    lines += ["Contenders: " + "; ".join(f"**{k}** = {v}" for k, v in contenders.items()) + ".", ""]
    if r.get("targets"):
        lines += ["### Targets", ""]
        lines += _table(["target", "measured", "met"],
                        [[t["target"], _num(t["measured"], 3), "yes" if t["met"] else "**no**"] for t in r["targets"]])
    decode = r.get("decode", {}).get("summary", {})
    if decode.get("table"):
        lines += [f"### Decode: prompt 16 + {r['settings']['new_tokens']} new tokens, greedy", "",
                  "ms per generated token and prompt pass (ms), median (min-max) over repeats; speed vs X = X's ms "
                  "per token / this contender's (> 1 is faster).", ""]
        rows = []
        for key, cell in decode["table"].items():
            for contender, e in cell.items():
                rows.append([key, contender, _spread(e["step_ms"]), _num(e["tokens_per_s"], 1), _spread(e["prefill_ms"], 0),
                             _num(e.get("speed_vs_tjs"), 2), _num(e.get("speed_vs_native"), 2),
                             _num(e["same_tokens_as_native"]) if e["same_tokens_as_native"]
                             else f"first {e.get('tokens_matching_native')}"])
        lines += _table(["precision / threads", "contender", "ms per token", "tokens/s", "prompt ms", "speed vs tjs",
                         "speed vs native", "greedy tokens = native's"], rows)
    if decode.get("context_growth"):
        lines += ["### Step time by context length", "",
                  f"Median step after the first {r['settings']['warmup_steps']} (ORT's warm-up), at the largest thread count.", ""]
        rows = []
        for key, cell in decode["context_growth"].items():
            for contender, e in cell.items():
                at = [v for k, v in e.items() if k.startswith("step_ms_at_")]
                rows.append([key, contender, *(_num(v, 2) for v in at), _num(e["growth"], 2)])
        contexts = r["settings"]["contexts"]
        lines += _table(["precision / threads", "contender", f"ms at {contexts[0]}", f"ms at {contexts[-1]}", "growth"], rows)
    first = r.get("first_token", {})
    if first:
        lines += [f"### Time to first token ({first.get('precision')}, {first.get('threads')} threads)", "",
                  "Cold = an empty browser profile; warm = a profile whose caches a load before filled. Seconds since "
                  "navigation; the page's phases are seconds since its worker started and overlap (Python boots while "
                  "the weights load).", ""]
        rows = []
        for contender, kinds in first.items():
            if not isinstance(kinds, dict) or contender in ("precision", "threads"):
                continue
            for kind, e in kinds.items():
                phases = ", ".join(f"{p} {_num(v['median'], 2)}" for p, v in e["phases_s"].items() if v)
                rows.append([contender, kind, _spread(e["time_to_first_token_s"]), phases])
        lines += _table(["contender", "cache", "time to first token (s)", "phases (median s)"], rows)
        for contender, label in (("page", "onnxruntime-web"), ("icchat-engine", "icchat engine")):
            ratios = [f"{k.removeprefix(f'{contender}_vs_tjs_')} {_num(v, 2)}x" for k, v in first.items()
                      if k.startswith(f"{contender}_vs_tjs_")]
            if ratios:
                lines += [f"Ours ({label}) / transformers.js: {', '.join(ratios)}.", ""]
    if r.get("streaming"):
        lines += ["### Weight streaming: gpt2 canister through the local gateway vs a static server", ""]
        rows = [[p, e["file"], _num(e["bytes"] / 1e6, 1), _spread(e["gateway_certified_mb_per_s"], 1),
                 _spread(e["gateway_raw_mb_per_s"], 1), _spread(e["static_server_mb_per_s"], 1),
                 _num(e["certified_vs_static"], 2), _num(e["raw_vs_static"], 2)] for p, e in r["streaming"].items()]
        lines += _table(["precision", "file", "MB", "certified MB/s", "raw MB/s", "static MB/s", "certified / static",
                         "raw / static"], rows)
    onchain = r.get("onchain", {})
    if onchain and "skipped" not in onchain:
        lines += ["### Onchain (gpt2 canister, IC cost model in the local replica)", ""]
        rows = []
        for dtype in ("f32", "q8"):
            for context, e in onchain.get(dtype, {}).get("contexts", {}).items():
                rows.append([dtype, context, _num(e["instructions_per_token"]), _num(e["tokens_per_update_message_by_limit"]),
                             _num(e["mainnet_cycles_per_1000_tokens"]), _num(e["usd_per_1000_tokens"], 4)])
        lines += _table(["weights", "context", "instructions per token", "tokens per 40B update", "mainnet cycles per 1,000 tokens",
                         "USD per 1,000 tokens"], rows)
        turns = [(d, onchain[d]["chat_turn"]) for d in ("f32", "q8") if "chat_turn" in onchain.get(d, {})]
        if turns:
            rows = [[d, mode, json.dumps(t[mode]["calls"]), _num(t[mode]["instructions"]), _num(t[mode]["mainnet_cycles_per_1000_tokens"]),
                     _num(t["verified_tokens_per_generate_update"], 1) if mode == "verified" else "-"]
                    for d, t in turns for mode in ("verified", "fast")]
            lines += [f"A chat turn: {turns[0][1]['message_tokens']} new tokens on {turns[0][1]['history_tokens']} cached, "
                      f"{turns[0][1]['answer_tokens']}-token answer.", ""]
            lines += _table(["weights", "mode", "calls", "instructions", "mainnet cycles per 1,000 tokens", "tokens per update"], rows)
    if r.get("memory"):
        lines += ["### Peak browser memory of the page while it generates", ""]
        rows = [[p, _num(e.get("chromium_rss_ready_mib", {}).get("total"), 0),
                 _num(e.get("chromium_rss_peak_generating_mib", {}).get("total"), 0),
                 _num(e.get("chromium_rss_peak_generating_mib", {}).get("renderers"), 0),
                 _spread(e.get("decode_runs_peak_chromium_rss_mib"), 0), _num(e.get("ua_specific_memory_mib"), 0),
                 _num(e.get("cdp_js_heap_used_mib"), 1)] for p, e in r["memory"].items()]
        lines += _table(["precision", "Chromium RSS ready (MiB)", "peak RSS generating (MiB)", "of it renderers (MiB)",
                         "peak RSS in the decode runs (MiB)", "measureUserAgentSpecificMemory (MiB)",
                         "CDP main-thread JS heap (MiB)"], rows)
    if r.get("notes"):
        lines += [f"Notes: {r['notes']}", ""]
    return lines


def _flatten(value: Any, prefix: str = "", depth: int = 0) -> list[tuple[str, Any]]:
    if isinstance(value, dict) and depth < 2:
        out = []
        for k, v in value.items():
            out += _flatten(v, f"{prefix}.{k}" if prefix else str(k), depth + 1)
        return out
    if isinstance(value, (int, float, bool, str)) or value is None:
        return [(prefix, value)]
    return []


def generic_section(name: str, r: dict[str, Any]) -> list[str]:
    lines = [f"## `icchat bench {name}`", "", f"Produced by {_environment(r)}.", ""]
    rows = [[f"`{k}`", _num(v, 3).replace("|", "/")[:160]] for k, v in _flatten({k: v for k, v in r.items()
                                                                                if k not in ("benchmark", "environment", "notes")})]
    if rows:
        lines += _table(["figure", "value"], rows[:60])
    if r.get("notes"):
        lines += [f"Notes: {str(r['notes'])[:1500]}", ""]
    return lines


def _levels_table(title: str, part: dict[str, Any]) -> list[str]:
    rows = [[str(level["clients"]), _num(level["requests_per_s"], 1), _num(level["p50_ms"], 1), _num(level["p99_ms"], 1),
             str(level["errors"]), str(level["wrong_answers"])] for level in part.get("levels", [])]
    return [f"{title}:", "", *_table(["clients", "requests/s", "p50 ms", "p99 ms", "errors", "wrong answers"], rows)]


def reliability_section(r: dict[str, Any]) -> list[str]:
    """Load held, durable replies' cost, what an attacker can spend (bench/results/reliability.json)."""
    from icchat.bench import _reliability_abuse, _reliability_durable

    lines = ["## `icchat bench reliability`: load, durable replies, onchain abuse", "", f"Produced by {_environment(r)}.", "",
             "Faults and hostile input are tests (tests/faults, tests/hostile, e2e/test_page_recovers.py, "
             "e2e/test_hostile_page.py), run by `./dev test`; this section has the figures.", ""]
    if durable := r.get("durable_replies"):
        lines += _reliability_durable.markdown(durable)
    if load := r.get("load"):
        lines += ["### Load", "", f"Wrong answers at any load: {load.get('wrong_answers')}. {load.get('machine_note', '')}.", ""]
        lines += [f"- {part}: {text}" for part, text in load.get("statement", {}).items()] + [""]
        for part, title in (("pages", "Page files through the gateway"), ("verified", "Verified chats (update calls)"),
                            ("fast", "Fast chats (queries)")):
            if part in load:
                lines += _levels_table(title, load[part])
    if abuse := r.get("onchain_abuse"):
        lines += _reliability_abuse.markdown(abuse)
    return lines


def model_sizes_section(r: dict[str, Any]) -> list[str]:
    from icchat.bench import model_sizes

    return model_sizes.markdown(r)


def render(results: Path = BENCH_RESULTS, out: Path = OUT) -> str:
    found = {p.stem: json.loads(p.read_text()) for p in sorted(results.glob("*.json"))}
    names = [n for n in ORDER if n in found] + sorted(n for n in found if n not in ORDER)
    lines = ["# Benchmarks", "",
             "Generated from `bench/results/*.json` by `python -m icchat.bench._benchmarks_md` (every `icchat bench NAME` "
             "regenerates it); do not edit by hand. Each section names the command, date, commit and machine that "
             "produced it. Figures from a 2-core machine shared with other work are noisy: compare ratios from one "
             "interleaved run rather than absolute times across runs.", "",
             "The side-by-side figures: `icchat bench page` (GPT-2 124M shape `small` bundle by default; "
             "`--repeats N --tokens N --threads 1,2 --precisions f32,q8 --contenders ... --quick`; "
             "the contenders and how to add one are described at the top of `py/icchat/bench/page.py`).", ""]
    for name in names:
        special = {"page": page_section, "reliability": reliability_section, "model_sizes": model_sizes_section}
        body = special[name](found[name]) if name in special else generic_section(name, found[name])
        lines += body + _png(name, results, out)
    return "\n".join(lines).rstrip() + "\n"


def write_benchmarks_md(results: Path = BENCH_RESULTS, out: Path = OUT) -> Path:
    out.write_text(render(results, out))
    return out


if __name__ == "__main__":
    print(f"wrote {write_benchmarks_md(*(Path(a) for a in sys.argv[1:3]))}")
