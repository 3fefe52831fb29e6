"""`icchat bench page`: our page against the established ways to run GPT-2 on a device, and the
onchain figures, in one run, interleaved (A B C A B C: machine drift hits all alike).

Contenders — the registry `CONTENDERS` below maps a name to a `Contender`:
    page     our page: `icchat up`'s stack (page from the asset canister, weights from the gpt2
             canister through the HTTP gateway), Python in Pyodide driving onnxruntime-web,
             timed by the page's own worker messages (_page_app.py)
    tjs      transformers.js 4.3.1 (npm), loading the same bundle from a static origin with its
             own bundled ORT build (1.31-dev, asyncify) (_page_decode.mjs tjsDecode)
    ortweb   bare onnxruntime-web 1.30 (ort.wasm.min.mjs) driven from JS, KV cache fed back
             each step (_page_decode.mjs ortDecode)
    native   native onnxruntime 1.32 in this CPython (icchat.model.native_backend)
    icchat-engine  our page as `page`, its on-device engine setting on the icchat engine
             (web/engine.mjs over the stack's q8 canister weight file)
A contender is `Contender(label, decode, first_token=None)`: `decode(bench, job) -> run` with
`job` a DecodeJob (precision "q8" | "f32", threads, prompt token ids and the same prompt as
chat text, new_tokens) and `run` a dict with at least `prefill_ms` (the prompt pass + first
token), `step_ms` (one per further generated token) and `tokens` (the greedy ids);
`first_token(bench, precision, threads, warm) -> dict` with `time_to_first_token_s` and its
phases. Adding a contender = one function + one line in CONTENDERS; `--contenders` picks them.
(Two of them are our page on its two on-device engines: `page` on onnxruntime-web and
`icchat-engine` on the icchat engine.)

Figures (each repeated --repeats times; median with min-max of the runs' medians):
1. decode: prompt 16 + --tokens new tokens, greedy, per precision x threads x contender; ms per
   generated token and the prompt pass; also prompt 512 + CONTEXT_STEPS tokens: step time at
   512 vs at 16 (medians of the steps after the first WARMUP, which are ORT's warm-up).
2. time to first token, cold (empty profile) and warm (the profile the decode runs filled).
3. weight streaming MB/s: the q8/f32 ONNX files from the gpt2 canister through the local
   gateway (certified and raw) vs `python -m http.server` (its own process) serving the same
   file (bench/assets.py's SHA-256-checked download).
4. onchain (icchat.bench.gpt2's machinery): instructions per token at contexts, tokens per
   update, a chat turn per mode, mainnet cycles per 1,000 tokens.
5. peak Chromium memory while the page generates.
The greedy tokens of every run are compared with native's (`same_tokens_as_native`).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from icchat.errors import UserError
from icchat.model.manifest import PRECISIONS
from icchat.paths import REPO

CONTEXTS = (16, 512)
CONTEXT_STEPS = 24  # steps measured at each context (after WARMUP)
WARMUP = 8
WORDS = ["the", "sea", "was", "calm", "and", "the", "old", "boat", "moved", "slowly", "over", "the", "water", "while", "we", "talked"]
TARGETS = {
    "page_vs_tjs_speed": 1.5,        # ours >= 1.5x transformers.js (tokens/s)
    "page_step_growth_512": 1.3,     # step at 512 <= 1.3x step at 16
    "page_warm_ttft_vs_tjs": 1.2,    # warm first token <= 1.2x transformers.js
    "streaming_vs_static": 0.8,      # weight streaming >= 0.8x static server
    "onchain_q8_instructions": 70_000_000,
}


@dataclass(frozen=True)
class DecodeJob:
    precision: str
    threads: int
    prompt: list[int]  # token ids (what the page's template makes of `text`)
    text: str          # the same prompt as the user message the page is sent
    new_tokens: int


@dataclass(frozen=True)
class Contender:
    label: str
    decode: Callable[[Bench, DecodeJob], dict[str, Any]]
    first_token: Callable[[Bench, str, int, bool], dict[str, Any]] | None = None
    precisions: tuple[str, ...] = PRECISIONS  # what it can run on the bench's stack


class Bench:
    """What the contenders share: the bundle, one browser, the static server, the local stack —
    each started on first use and stopped at the end."""

    def __init__(self, bundle: Path, log: Callable[[str], None] = print) -> None:
        from icchat.model.manifest import read_manifest

        self.bundle, self.log = bundle, log
        self.manifest = read_manifest(bundle)
        self.model = self.manifest["model"]
        self.exit = contextlib.ExitStack()
        self.native_sessions: dict[tuple[str, int], Any] = {}

    def file(self, precision: str) -> str:
        from icchat.model.manifest import find_file

        return find_file(self.manifest, "onnx-decoder", precision)

    @functools.cached_property
    def browser(self) -> Any:
        from icchat.bench._page_browser import Browser

        return self.exit.enter_context(Browser())

    @functools.cached_property
    def static(self) -> Any:
        from icchat.bench._page_server import StaticServer

        return self.exit.enter_context(StaticServer(self.bundle))

    @functools.cached_property
    def stack(self) -> Any:
        from icchat.bench._page_app import PageStack

        self.log("  starting the local stack (icchat up in a temporary state directory)")
        return self.exit.enter_context(PageStack(self.bundle, self.log))

    @functools.cached_property
    def tokenizer_runtime(self) -> Any:
        from icchat.chat import ChatRuntime, GPT2Tokenizer

        return ChatRuntime(GPT2Tokenizer.from_strings((self.bundle / "vocab.json").read_text(),
                                                      (self.bundle / "merges.txt").read_text()))

    def prompt(self, length: int, max_new_tokens: int) -> tuple[list[int], str]:
        """A user message whose chat prompt (the page's template) is `length` tokens (or just over)."""
        from icchat.chat import Conversation

        words: list[str] = []
        while True:
            words.append(WORDS[len(words) % len(WORDS)])
            text = " ".join(words)
            conversation = Conversation.from_dict({"messages": [{"role": "user", "text": text}]})
            ids = self.tokenizer_runtime.build_prompt(conversation, int(self.model["n_ctx"]), max_new_tokens).tokens
            if len(ids) >= length:
                return list(ids), text

    def __enter__(self) -> Bench:
        return self

    def __exit__(self, *exc: object) -> None:
        self.exit.close()


# --- contenders ------------------------------------------------------------------------------------

def native_decode(bench: Bench, job: DecodeJob) -> dict[str, Any]:
    import numpy as np

    from icchat.model.native_backend import NativeOnnxEngine

    key = (job.precision, job.threads)
    if key not in bench.native_sessions:
        start = time.perf_counter()
        bench.native_sessions[key] = NativeOnnxEngine(bench.bundle / bench.file(job.precision), job.threads)
        bench.native_sessions[f"{key} session_ms"] = (time.perf_counter() - start) * 1000
    backend = bench.native_sessions[key]
    shape = backend.past_inputs[0].shape
    past = {i.name: np.zeros((1, shape[1], 0, shape[3]), np.float32) for i in backend.past_inputs}
    ids, position, times, tokens = job.prompt, 0, [], []
    for _ in range(job.new_tokens):
        start = time.perf_counter()
        row, past = backend.run(ids, position, past)
        token = int(np.argmax(row))
        times.append((time.perf_counter() - start) * 1000)
        position += len(ids)
        tokens.append(token)
        ids = [token]
    return {"prefill_ms": times[0], "step_ms": times[1:], "tokens": tokens,
            "session_ms": bench.native_sessions[f"{key} session_ms"]}


def _static_run(bench: Bench, function: str, spec: dict[str, Any], profile: Path | None) -> dict[str, Any]:
    """One call of a _page_decode.mjs driver, in a Web Worker of a page in a new browser (ORT
    fixes its threads per page; our page runs its model in a worker too)."""
    from icchat.bench._page_browser import console_to, wait_until

    context = bench.browser.persistent(profile) if profile else bench.browser.fresh()
    console: list[str] = []
    try:
        page = context.new_page()
        console_to(page, console)
        page.goto(bench.static.url)
        wait_until(page, "window.benchReady === true", 60, "the bench page")
        return page.evaluate("([name, spec]) => window.bench.inWorker(name, spec)", [function, spec])
    except Exception as error:
        raise RuntimeError(f"{function}: {error}; console: {console[-5:]}") from None
    finally:
        context.close()


def ortweb_decode(bench: Bench, job: DecodeJob) -> dict[str, Any]:
    n_head = int(bench.model["n_head"])
    spec = {"file": bench.file(job.precision), "threads": job.threads, "prompt": job.prompt,
            "newTokens": job.new_tokens, "nHead": n_head, "headDim": int(bench.model["n_embd"]) // n_head}
    return _static_run(bench, "ortDecode", spec, bench.browser.profile("ortweb"))


def tjs_decode(bench: Bench, job: DecodeJob) -> dict[str, Any]:
    spec = {"precision": job.precision, "threads": job.threads, "prompt": job.prompt, "newTokens": job.new_tokens}
    return _static_run(bench, "tjsDecode", spec, bench.browser.profile("tjs"))


def _peer_first_token(name: str, function: str) -> Callable[[Bench, str, int, bool], dict[str, Any]]:
    def first_token(bench: Bench, precision: str, threads: int, warm: bool) -> dict[str, Any]:
        prompt, _ = bench.prompt(CONTEXTS[0], 1)
        spec = {"precision": precision, "file": bench.file(precision), "threads": threads, "prompt": prompt,
                "newTokens": 1, "nHead": int(bench.model["n_head"]),
                "headDim": int(bench.model["n_embd"]) // int(bench.model["n_head"])}
        profile = bench.browser.profile(name) if warm else None
        if warm and not profile.exists():
            _static_run(bench, function, spec, profile)  # fill its caches once
        run = _static_run(bench, function, spec, profile)
        load = run.get("load_ms") or (run["fetch_ms"] + run["session_ms"])
        return {"time_to_first_token_s": round(run["first_token_at_ms"] / 1000, 3),
                "phases_s": {"weight_fetch_and_session": round(load / 1000, 3),
                             **({"weight_fetch": round(run["fetch_ms"] / 1000, 3),
                                 "session_creation": round(run["session_ms"] / 1000, 3)} if run.get("fetch_ms") else {}),
                             "first_token": round(run["prefill_ms"] / 1000, 3)}}
    return first_token


def page_decode(bench: Bench, job: DecodeJob) -> dict[str, Any]:
    from icchat.bench._page_app import decode

    return decode(bench.browser, bench.stack, bench.browser.profile("page"), job.precision, job.threads,
                  job.text, job.new_tokens)


def icchat_engine_decode(bench: Bench, job: DecodeJob) -> dict[str, Any]:
    """Our page with its engine setting on "icchat": the gpt2 canister's C model in the browser
    (web/engine.mjs) on the bundle's canister weight file."""
    from icchat.bench._page_app import decode

    return decode(bench.browser, bench.stack, bench.browser.profile("icchat-engine"), job.precision, job.threads,
                  job.text, job.new_tokens, engine="icchat")


def icchat_engine_first_token(bench: Bench, precision: str, threads: int, warm: bool) -> dict[str, Any]:
    from icchat.bench._page_app import first_token

    _, text = bench.prompt(CONTEXTS[0], 4)
    profile = bench.browser.profile("icchat-engine") if warm else None
    if warm:  # a returning user: caches filled, the interpreter snapshot made (a no-op once there)
        first_token(bench.browser, bench.stack, profile, precision, threads, text, engine="icchat", stay_for_snapshot=True)
    return first_token(bench.browser, bench.stack, profile, precision, threads, text, engine="icchat")


def page_first_token(bench: Bench, precision: str, threads: int, warm: bool) -> dict[str, Any]:
    from icchat.bench._page_app import first_token

    _, text = bench.prompt(CONTEXTS[0], 4)
    profile = bench.browser.profile("page") if warm else None
    if warm:  # a returning user: caches filled, the interpreter snapshot made (a no-op once there)
        first_token(bench.browser, bench.stack, profile, precision, threads, text, stay_for_snapshot=True)
    return first_token(bench.browser, bench.stack, profile, precision, threads, text)


CONTENDERS: dict[str, Contender] = {
    "page": Contender("our page (Pyodide + onnxruntime-web 1.30, via the gateway)", page_decode, page_first_token),
    "tjs": Contender("transformers.js 4.3.1", tjs_decode, _peer_first_token("tjs", "tjsDecode")),
    "ortweb": Contender("onnxruntime-web 1.30 from JS", ortweb_decode, _peer_first_token("ortweb", "ortDecode")),
    "native": Contender("native onnxruntime 1.32 (CPython)", native_decode),
    # The stack's gpt2 canister holds one canister weight file (q8, as onchain), so the page has no
    # f32 file for the engine here; `icchat bench engine` measures its f32 on its own page.
    "icchat-engine": Contender("our page on the icchat engine (the gpt2 canister's C model, wasm)", icchat_engine_decode,
                            icchat_engine_first_token, precisions=("q8",)),
}


# --- figures ------------------------------------------------------------------------------------

def spread(values: list[float], digits: int = 2) -> dict[str, float] | None:
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"median": round(statistics.median(values), digits), "min": round(min(values), digits),
            "max": round(max(values), digits), "n": len(values)}


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def decode_figures(bench: Bench, args: argparse.Namespace) -> dict[str, Any]:
    runs: list[dict[str, Any]] = []
    jobs = []
    for context in args.contexts:
        steps = args.tokens if context == args.contexts[0] else min(args.tokens, args.context_steps + WARMUP)
        prompt, text = bench.prompt(context, steps)
        thread_list = args.threads if context == args.contexts[0] else [max(args.threads)]
        jobs += [(context, DecodeJob(p, t, prompt, text, steps)) for p in args.precisions for t in thread_list]
    for repeat in range(args.repeats):
        for context, job in jobs:
            for name in args.contenders:  # interleaved: A B C A B C
                if job.precision not in CONTENDERS[name].precisions:
                    continue
                start = time.perf_counter()
                run = CONTENDERS[name].decode(bench, job)
                steps = run["step_ms"]
                measured = steps[WARMUP:] if len(steps) > WARMUP else steps
                row = {"contender": name, "precision": job.precision, "threads": job.threads, "context": context,
                       "repeat": repeat, "prompt_tokens": run.get("prompt_tokens") or len(job.prompt),
                       "new_tokens": len(run["tokens"]), "prefill_ms": round(run["prefill_ms"], 2),
                       "step_ms_median": round(statistics.median(steps), 3) if steps else None,
                       "step_ms_after_warmup_median": round(statistics.median(measured), 3) if measured else None,
                       "tokens": run["tokens"], "wall_s": round(time.perf_counter() - start, 1),
                       **{k: run[k] for k in ("peak_chromium_rss_mib", "stop_reason", "ort_versions") if k in run}}
                runs.append(row)
                bench.log(f"  decode {name:7} {job.precision} t{job.threads} ctx {context:4} #{repeat}: "
                          f"{row['step_ms_median']} ms/token, prompt {row['prefill_ms']:.0f} ms, "
                          f"{row['new_tokens']} tokens ({row['wall_s']} s)")
    for row in runs:  # greedy ids against native's (same files, same prompt)
        native = next((r for r in runs if r["contender"] == "native" and r["precision"] == row["precision"]
                       and r["context"] == row["context"]), None)
        if native is not None:
            n = min(len(native["tokens"]), len(row["tokens"]))
            row["same_tokens_as_native"] = n > 0 and native["tokens"][:n] == row["tokens"][:n]
            row["tokens_matching_native"] = next((i for i in range(n) if native["tokens"][i] != row["tokens"][i]), n)
    return {"runs": runs, "summary": summarize(runs, args)}


def summarize(runs: list[dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    """Per contender x precision x threads: ms/token and prompt ms (median, min-max over repeats),
    tokens/s, speed ratios vs transformers.js and native; step growth from context 16 to 512."""
    first = args.contexts[0]

    def pick(contender: str, precision: str, threads: int, context: int) -> list[dict[str, Any]]:
        return [r for r in runs if (r["contender"], r["precision"], r["threads"], r["context"]) == (contender, precision, threads, context)]

    table: dict[str, Any] = {}
    for precision in args.precisions:
        for threads in args.threads:
            key = f"{precision} t{threads}"
            cell = {}
            for contender in args.contenders:
                rows = pick(contender, precision, threads, first)
                if not rows:
                    continue  # not run at this precision (Contender.precisions)
                step = spread([r["step_ms_median"] for r in rows], 3)
                cell[contender] = {"step_ms": step, "prefill_ms": spread([r["prefill_ms"] for r in rows]),
                                "tokens_per_s": round(1000 / step["median"], 2) if step else None,
                                "same_tokens_as_native": all(r.get("same_tokens_as_native", True) for r in rows),
                                "tokens_matching_native": min((r.get("tokens_matching_native", r["new_tokens"]) for r in rows),
                                                              default=None)}
            for entry in cell.values():
                for peer in ("tjs", "native"):
                    if entry["step_ms"] and cell.get(peer, {}).get("step_ms"):
                        entry[f"speed_vs_{peer}"] = round(cell[peer]["step_ms"]["median"] / entry["step_ms"]["median"], 3)
            table[key] = cell
    growth: dict[str, Any] = {}
    if len(args.contexts) > 1:
        threads, last = max(args.threads), args.contexts[-1]
        for precision in args.precisions:
            for contender in args.contenders:
                at_first = _median([r["step_ms_after_warmup_median"] for r in pick(contender, precision, threads, first)])
                at_last = _median([r["step_ms_after_warmup_median"] for r in pick(contender, precision, threads, last)])
                if at_first and at_last:
                    growth.setdefault(f"{precision} t{threads}", {})[contender] = {
                        f"step_ms_at_{first}": round(at_first, 3), f"step_ms_at_{last}": round(at_last, 3),
                        "growth": round(at_last / at_first, 3)}
    return {"table": table, "context_growth": growth}


def first_token_figures(bench: Bench, args: argparse.Namespace) -> dict[str, Any]:
    # the page's default precision (q8) when it is measured
    precision, threads = "q8" if "q8" in args.precisions else args.precisions[0], max(args.threads)
    raw: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for repeat in range(args.repeats):
        for warm in (False, True):
            for name in args.contenders:
                contender = CONTENDERS[name]
                if contender.first_token is None:
                    continue
                result = contender.first_token(bench, precision, threads, warm)
                raw.setdefault(name, {}).setdefault("warm" if warm else "cold", []).append(result)
                bench.log(f"  first token {name:7} {'warm' if warm else 'cold'} #{repeat}: "
                          f"{result['time_to_first_token_s']:.2f} s")
    summary: dict[str, Any] = {"precision": precision, "threads": threads}
    for name, kinds in raw.items():
        summary[name] = {}
        for kind, results in kinds.items():
            phases = {p for r in results for p in r["phases_s"]}
            summary[name][kind] = {"time_to_first_token_s": spread([r["time_to_first_token_s"] for r in results], 3),
                                   "phases_s": {p: spread([r["phases_s"].get(p) for r in results], 3) for p in sorted(phases)},
                                   "runs": results}
    add_first_token_ratios(summary)
    return summary


# "ours" is the page on either on-device engine: onnxruntime-web, or the icchat engine (what the
# page's "auto" runs when the bundle has canister weights)
OURS = {"page": "ours (page, onnxruntime-web)", "icchat-engine": "ours (page, icchat engine)"}


def add_first_token_ratios(summary: dict[str, Any]) -> None:
    """<contender>_vs_tjs_<cold|warm>: our page's time to first token over transformers.js's, on
    each of its engines ("page" keeps its old key, page_vs_tjs_*)."""
    for contender in OURS:
        if contender in summary and "tjs" in summary:
            for kind in ("cold", "warm"):
                ours, theirs = summary[contender][kind]["time_to_first_token_s"], summary["tjs"][kind]["time_to_first_token_s"]
                summary[f"{contender}_vs_tjs_{kind}"] = round(ours["median"] / theirs["median"], 3)


@contextlib.contextmanager
def _static_process(folder: Path) -> Any:
    """`python -m http.server` serving `folder` in its own process (in this one, the server and
    the downloading client would share one interpreter lock; the gateway has its own process)."""
    import socket
    import subprocess
    import sys

    from icchat.bench._host import free_port

    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                                "--directory", str(folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("python -m http.server did not start") from None
                time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


def streaming_figures(bench: Bench, args: argparse.Namespace) -> dict[str, Any]:
    """The ONNX files as the browser gets them (gpt2 canister, gateway) vs a static server,
    downloads interleaved and SHA-256-checked (bench/assets.py's client)."""
    from icchat.bench.assets import _download_mb_per_s

    stack = bench.stack.info
    out: dict[str, Any] = {}
    with _static_process(bench.bundle) as static_port:
        for precision in args.precisions:
            path = bench.file(precision)
            entry = next(f for f in bench.manifest["files"] if f["path"] == path)
            sources = {"gateway_certified": (stack.port, f"{stack.gpt2}.localhost", f"/model/{path}"),
                       "gateway_raw": (stack.port, f"{stack.gpt2}.raw.localhost", f"/model/{path}"),
                       "static_server": (static_port, "127.0.0.1", f"/{path}")}
            speeds: dict[str, list[float]] = {kind: [] for kind in sources}
            for _ in range(args.stream_repeats):
                for kind, (port, host, url) in sources.items():  # interleaved
                    speeds[kind].append(_download_mb_per_s(port, host, url, entry["size"], entry["sha256"], 1))
            row = {"file": path, "bytes": entry["size"], **{f"{k}_mb_per_s": spread(v, 1) for k, v in speeds.items()}}
            static = row["static_server_mb_per_s"]["median"]
            row["certified_vs_static"] = round(row["gateway_certified_mb_per_s"]["median"] / static, 3)
            row["raw_vs_static"] = round(row["gateway_raw_mb_per_s"]["median"] / static, 3)
            out[precision] = row
            bench.log(f"  streaming {path}: certified {row['gateway_certified_mb_per_s']['median']} MB/s, raw "
                      f"{row['gateway_raw_mb_per_s']['median']}, static {static} ({row['certified_vs_static']}x)")
    return out


def memory_figures(bench: Bench, args: argparse.Namespace, decode: dict[str, Any] | None) -> dict[str, Any]:
    from icchat.bench._page_app import memory

    out: dict[str, Any] = {}
    threads = max(args.threads)
    for precision in args.precisions:
        _, text = bench.prompt(CONTEXTS[0], args.tokens)
        # --quick: only the peaks sampled during the decode runs, no page load of its own
        entry = {} if args.quick and decode else memory(bench.browser, bench.stack, precision, threads, text, args.tokens)
        if decode:
            peaks = [r["peak_chromium_rss_mib"]["total"] for r in decode["runs"]
                     if r["contender"] == "page" and r["precision"] == precision and "peak_chromium_rss_mib" in r]
            entry["decode_runs_peak_chromium_rss_mib"] = spread(peaks, 1)
        out[precision] = entry
        peak = entry.get("chromium_rss_peak_generating_mib", {}).get("total") or (entry["decode_runs_peak_chromium_rss_mib"] or {}).get("max")
        bench.log(f"  memory page {precision}: peak Chromium RSS {peak} MiB")
    return out


def onchain_figures(bench: Bench, args: argparse.Namespace) -> dict[str, Any]:
    from icchat.bench._page_onchain import measure

    preset = bench.manifest.get("provenance", {}).get("config")
    if preset not in ("tiny", "small"):
        return {"skipped": f"the onchain figures need a seeded bundle (tiny or small), not {bench.bundle}"}
    return measure(preset, ["f32", "q8"], args.onchain_contexts, args.onchain_tokens,
                   None if args.quick else 100, 4 if args.quick else 40, bench.log)


def targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The brief's targets next to the measured figures."""
    rows: list[dict[str, Any]] = []
    table = result.get("decode", {}).get("summary", {}).get("table", {})
    for key, cell in table.items():
        for contender, label in OURS.items():
            if contender in cell and "speed_vs_tjs" in cell[contender]:
                rows.append({"target": f"decode {key}: {label} >= 1.5x transformers.js (tokens/s)",
                             "measured": cell[contender]["speed_vs_tjs"],
                             "met": cell[contender]["speed_vs_tjs"] >= TARGETS["page_vs_tjs_speed"]})
    for key, cell in result.get("decode", {}).get("summary", {}).get("context_growth", {}).items():
        for contender, label in OURS.items():
            if contender in cell:
                first_ctx, last_ctx = (k.removeprefix("step_ms_at_") for k in cell[contender] if k.startswith("step_ms_at_"))
                rows.append({"target": f"decode {key}: {label} step at {last_ctx} <= 1.3x step at {first_ctx} (brief: 512 vs 16)",
                             "measured": cell[contender]["growth"],
                             "met": cell[contender]["growth"] <= TARGETS["page_step_growth_512"]})
    first = result.get("first_token", {})
    for contender, label in OURS.items():
        if f"{contender}_vs_tjs_warm" in first:
            measured = first[f"{contender}_vs_tjs_warm"]
            rows.append({"target": f"warm first token: {label} <= 1.2x transformers.js", "measured": measured,
                         "met": measured <= TARGETS["page_warm_ttft_vs_tjs"]})
    for precision, row in result.get("streaming", {}).items():
        rows.append({"target": f"weight streaming {precision}: certified gateway >= 0.8x static server",
                     "measured": row["certified_vs_static"], "met": row["certified_vs_static"] >= TARGETS["streaming_vs_static"]})
    for context, row in result.get("onchain", {}).get("q8", {}).get("contexts", {}).items():
        rows.append({"target": f"onchain q8 at context {context}: <= 70M instructions per token",
                     "measured": row["instructions_per_token"], "met": row["instructions_per_token"] <= TARGETS["onchain_q8_instructions"]})
    return rows


# --- command ------------------------------------------------------------------------------------

def _list(kind: Callable[[str], Any]) -> Callable[[str], list[Any]]:
    return lambda text: [kind(part) for part in text.split(",") if part]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bundle", default="small", help="small | tiny | a bundle directory (default small: GPT-2 124M shape)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=128, help="new tokens per decode run (prompt 16)")
    parser.add_argument("--threads", type=_list(int), default=[1, 2], help="comma list, e.g. 1,2")
    parser.add_argument("--precisions", type=_list(str), default=["f32", "q8"], help="comma list of f32,q8")
    parser.add_argument("--contenders", type=_list(str), default=list(CONTENDERS), help=f"comma list of {','.join(CONTENDERS)}")
    parser.add_argument("--figures", type=_list(str), default=["decode", "first_token", "streaming", "onchain", "memory"],
                        help="comma list of decode,first_token,streaming,onchain,memory")
    parser.add_argument("--quick", action="store_true", help="a short run: fewer tokens, contexts and repeats")


def _resolve(args: argparse.Namespace) -> Path:
    from icchat.stack.models import SEEDED, choose_model

    if args.bundle in SEEDED:
        return choose_model(args.bundle, print).path
    path = Path(args.bundle).expanduser()
    if not (path / "manifest.json").is_file():
        raise UserError(f"--bundle {args.bundle}: not tiny, small or a bundle directory with a manifest.json")
    return path.resolve()


def run(args: argparse.Namespace) -> dict[str, Any]:
    unknown = [e for e in args.contenders if e not in CONTENDERS] + [p for p in args.precisions if p not in PRECISIONS]
    if unknown:
        raise UserError(f"unknown contender or precision {', '.join(unknown)}: contenders {', '.join(CONTENDERS)}; precisions {', '.join(PRECISIONS)}")
    if args.repeats < 1 or args.tokens < 2 or not args.threads or min(args.threads) < 1:
        raise UserError("--repeats must be >= 1, --tokens >= 2 and --threads positive")
    bundle = _resolve(args)
    args.contexts = list(CONTEXTS)
    args.context_steps = CONTEXT_STEPS
    args.onchain_contexts, args.onchain_tokens, args.stream_repeats = [16, 128, 512], 8, args.repeats
    if args.quick:
        args.context_steps, args.onchain_contexts, args.onchain_tokens = 4, [16, 128], 3
        args.contexts = [16, 128]
    started = time.perf_counter()
    result: dict[str, Any] = {
        "bundle": str(bundle.relative_to(REPO) if bundle.is_relative_to(REPO) else bundle),
        "model": _model(bundle),
        "settings": {"repeats": args.repeats, "new_tokens": args.tokens, "threads": args.threads,
                     "precisions": args.precisions, "contexts": args.contexts, "context_steps": args.context_steps,
                     "warmup_steps": WARMUP, "quick": args.quick, "figures": args.figures},
        "contenders": {name: CONTENDERS[name].label for name in args.contenders},
    }
    with Bench(bundle) as bench:
        print(f"icchat bench page: {bundle} ({', '.join(args.contenders)}; {args.repeats} repeats)")
        sections = {"decode": lambda: decode_figures(bench, args),
                    "first_token": lambda: first_token_figures(bench, args),
                    "streaming": lambda: streaming_figures(bench, args),
                    "memory": lambda: memory_figures(bench, args, result.get("decode")),
                    "onchain": lambda: onchain_figures(bench, args)}
        result["section_wall_s"] = {}
        for name, measure in sections.items():
            if name not in args.figures or (name == "memory" and "page" not in args.contenders):
                continue
            start = time.perf_counter()
            result[name] = measure()
            result["section_wall_s"][name] = round(time.perf_counter() - start, 1)
            print(f"  {name} done in {result['section_wall_s'][name]} s")
        if "page" in args.contenders and "stack" in bench.__dict__:
            result["stack_up_s"] = round(bench.stack.up_seconds, 1)
    result["targets"] = targets(result)
    result["wall_s"] = round(time.perf_counter() - started, 1)
    result["notes"] = ("ms per generated token: median over a run's steps, then median (min-max) over repeats; "
                       "prefill = the prompt pass + the first token; our page's timings are the page's own worker "
                       "messages (delta gaps); speed_vs_X = X's ms per token / this contender's (> 1: faster); "
                       f"context growth: medians of the steps after the first {WARMUP}; transformers.js runs the ORT "
                       "build it ships (1.31-dev, ort-wasm-simd-threaded.asyncify.wasm, WebGPU-capable) from our own copy "
                       "(node_modules/@huggingface/transformers/node_modules/onnxruntime-web/dist), the others the plain "
                       "ort-wasm-simd-threaded.wasm of onnxruntime-web 1.30; the peers run in a module Web Worker as our "
                       "page does; 2-core machine")
    return result


def _model(bundle: Path) -> dict[str, Any]:
    from icchat.model.manifest import read_manifest

    manifest = read_manifest(bundle)
    return {**manifest["model"], "source": manifest.get("provenance", {}).get("config")
            or manifest.get("provenance", {}).get("source")}


def plot(result: dict[str, Any], png: Path) -> None:
    from icchat.bench._page_plot import plot_page

    plot_page(result, Path(png))
