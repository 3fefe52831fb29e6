"""The "load" section of bench/results/reliability.json: many clients at once against `icchat up`'s
stack on loopback, every answer checked.

Scenarios, each run at rising concurrency for a bounded time (every loop stops by itself):
- pages: GETs through the gateway of the page's HTML, scripts and runtime files (keep-alive,
  one connection per client), each body byte-identical to the deployed file;
- big: whole downloads of a large model file (100 MB in the full run), SHA-256 checked;
- verified / fast: onchain chat turns from one Ed25519 identity per client (`generate` updates,
  certificates verified by the Python agent; `prefill` + `generate_query`), greedy, each answer
  token for token the reference answer computed before the load; a client keeps one
  conversation at a time (`forget_conversations` before a new one and when it leaves);
- mixed: all of them at once.
Per level: requests/s, p50/p99 latency, errors (transport, 5xx), wrong answers; the replica's RSS
is sampled all along. `held` is the highest level with no error and no wrong answer, and where
throughput stops growing is stated. The client runs on the same 2 cores as the replica, so the
figures are noisy and a lower bound of what the stack holds.

    run_section(args)   # args.load: the full run (<= 5 min); otherwise a short smoke run
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import itertools
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from icchat.bench._host import LocalStack, tiny_bundle

PROMPTS = [[464, 3290, 318, 257], [40, 1101, 257, 1310, 13], [15496, 11, 703, 389, 345, 30], [1212, 318, 257, 1332]]
NEW_TOKENS = 8
BIG_BYTES = 100 * 1024 * 1024
# A visit: every module of the page itself, then the interpreter and runtime files it starts with.
PAGE_FILES = ("index.html", "*.js", "*.mjs", "style.css", "config.json", "pyodide/*/pyodide.mjs",
              "py/*/pyodide-lock.json", "ort/*/ort.wasm.min.mjs", "pyodide/*/python_stdlib.zip")


class WrongAnswer(Exception):
    """An answer that arrived but is not the right one: counted per load level (the figure that
    must stay 0; tests/hostile/test_load_smoke.py asserts it does)."""


# --- the stack ---------------------------------------------------------------------------------

@dataclass
class Stack:
    port: int
    frontend: str
    gpt2: str
    state_dir: Path
    replica_pid: int | None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def host(self, canister: str) -> str:
        return f"{canister}.localhost:{self.port}"


@contextmanager
def running_stack(log: Callable[[str], None] = lambda _: None) -> Iterator[Stack]:
    """`icchat up` with the tiny bundle in a state directory and port of its own, taken down afterwards."""
    with LocalStack(tiny_bundle(), onchain_dtype="q8", log=log) as local:
        info = local.info
        yield Stack(info.port, str(info.frontend), str(info.gpt2), local.state_dir, local.replica_pid)


def rss_mb(pid: int | None) -> float | None:
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


class RssSampler:
    """The replica's resident memory every 0.25 s while a scenario runs."""

    def __init__(self, pid: int | None) -> None:
        self.pid, self.samples = pid, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            value = rss_mb(self.pid)
            if value is not None:
                self.samples.append(value)
            self._stop.wait(0.25)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


# --- what each client does -----------------------------------------------------------------------

class PageClient:
    """One browser-like client: a keep-alive connection, fetching the page's files in turn."""

    def __init__(self, stack: Stack, files: dict[str, bytes], offset: int) -> None:
        self.stack, self.files = stack, list(files.items())
        self.at = offset
        self.conn: http.client.HTTPConnection | None = None

    def once(self) -> int:
        path, expected = self.files[self.at % len(self.files)]
        self.at += 1
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.stack.port, timeout=60)
        try:
            self.conn.request("GET", "/" + path, headers={"Host": self.stack.host(self.stack.frontend)})
            response = self.conn.getresponse()
            body = response.read()
        except Exception:
            self.conn.close()
            self.conn = None
            raise
        if response.status >= 500 or response.status in (400, 404):
            raise RuntimeError(f"{path}: {response.status} {body[:120]!r}")
        if response.status != 200 or body != expected:
            raise WrongAnswer(f"{path}: {response.status}, {len(body)} bytes, not the deployed {len(expected)}")
        return len(body)

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


def download(stack: Stack, canister: str, path: str, sha256: str, size: int) -> int:
    """One whole download, hashed as it streams."""
    conn = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=120)
    try:
        conn.request("GET", path, headers={"Host": stack.host(canister)})
        response = conn.getresponse()
        if response.status != 200:
            raise RuntimeError(f"{path}: {response.status} {response.read(200)!r}")
        digest, got = hashlib.sha256(), 0
        while chunk := response.read(1 << 20):
            digest.update(chunk)
            got += len(chunk)
        if got != size or digest.hexdigest() != sha256:
            raise WrongAnswer(f"{path}: {got} bytes with SHA-256 {digest.hexdigest()[:16]}…, not the file")
        return got
    finally:
        conn.close()


class ChatClient:
    """One user with an identity of their own, chatting onchain in `mode` (verified or fast)."""

    def __init__(self, stack: Stack, mode: str, references: dict[int, list[int]], offset: int) -> None:
        from icchat.ic.agent import Agent
        from icchat.ic.identity import Ed25519Identity
        from icchat.ic.principal import Principal

        self.mode, self.references, self.at = mode, references, offset
        self.agent = Agent(stack.url, Ed25519Identity.generate())
        self.agent.fetch_root_key()
        self.canister = Principal.from_text(stack.gpt2)
        self.holding = False  # the canister keeps a conversation of this client's

    def once(self) -> int:
        index = self.at % len(PROMPTS)
        self.at += 1
        if self.holding:  # one conversation at a time (see forget_conversations)
            forget_conversations(self.agent, self.canister)
            self.holding = False
        tokens = chat_turn(self.agent, self.canister, self.mode, PROMPTS[index])
        self.holding = True
        if tokens != self.references[index]:
            raise WrongAnswer(f"{self.mode} answer {tokens} is not the reference {self.references[index]}")
        return len(tokens)

    def close(self) -> None:
        if self.holding:
            forget_conversations(self.agent, self.canister)
        self.agent.close()


def forget_conversations(agent: Any, canister: Any) -> None:
    """Give the caller's cached conversations back. The canister keeps a conversation used in the
    last 10 minutes from other principals (and a principal may hold 4), so clients that each
    cycle through unrelated prompts and then leave would fill the cache for the next levels,
    whose new principals would be told "busy"."""
    from icchat.ic import candid

    agent.update(canister, "forget_conversations", candid.encode([], []))


def chat_turn(agent: Any, canister: Any, mode: str, prompt: list[int]) -> list[int]:
    from icchat.gpt2_canister import _types
    from icchat.ic import candid

    request = {"prompt": prompt, "max_new_tokens": NEW_TOKENS, "temperature": None, "top_k": None, "top_p": None,
               "seed": None, "stop": []}
    arg = candid.encode(_types("(GenerateRequest)"), [request])
    if mode == "verified":
        reply = agent.update(canister, "generate", arg)
    else:
        agent.update(canister, "prefill", candid.encode(_types("(PrefillRequest)"), [{"prompt": prompt}]))
        reply = agent.query(canister, "generate_query", arg)
    answer = candid.decode(reply, _types("(GenerateReply)"))[0]
    return list(answer["tokens"])


# --- running a level -------------------------------------------------------------------------------

@dataclass
class Level:
    clients: int
    seconds: float = 0.0
    requests: int = 0
    errors: int = 0
    wrong: int = 0
    bytes: int = 0
    latencies: list[float] = field(default_factory=list)
    first_problem: str | None = None

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.latencies)

        def pct(p: float) -> float | None:
            return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000, 1) if ordered else None

        return {"clients": self.clients, "seconds": round(self.seconds, 2), "requests": self.requests,
                "requests_per_s": round(self.requests / self.seconds, 1) if self.seconds else None,
                "p50_ms": pct(0.50), "p99_ms": pct(0.99), "errors": self.errors, "wrong_answers": self.wrong,
                "mb_per_s": round(self.bytes / self.seconds / 1e6, 1) if self.seconds else None,
                **({"first_problem": self.first_problem} if self.first_problem else {})}


def run_level(make_client: Callable[[int], Any], clients: int, *, seconds: float | None = None,
              rounds: int | None = None) -> Level:
    """`clients` threads, each repeating its client's `once()` until `seconds` pass (or `rounds`
    times each), counting latencies, errors and wrong answers."""
    level, lock = Level(clients), threading.Lock()
    made = [make_client(i) for i in range(clients)]
    start = time.monotonic()
    deadline = start + seconds if seconds is not None else None

    def work(client: Any) -> None:
        done = 0
        while (deadline is None or time.monotonic() < deadline) and (rounds is None or done < rounds):
            began = time.monotonic()
            try:
                size = client.once()
                problem = None
            except WrongAnswer as exc:
                size, problem = 0, ("wrong", str(exc))
            except Exception as exc:  # transport errors, 5xx, rejects: counted, never hidden
                size, problem = 0, ("error", f"{type(exc).__name__}: {exc}")
            took = time.monotonic() - began
            done += 1
            with lock:
                level.requests += 1
                level.latencies.append(took)
                level.bytes += size
                if problem:
                    level.wrong += problem[0] == "wrong"
                    level.errors += problem[0] == "error"
                    level.first_problem = level.first_problem or problem[1][:300]

    threads = [threading.Thread(target=work, args=(c,), daemon=True) for c in made]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    level.seconds = time.monotonic() - start
    for c in made:
        getattr(c, "close", lambda: None)()
    return level


def ramp(name: str, make_client: Callable[[int], Any], levels: list[int], seconds: float,
         stack: Stack, log: Callable[[str], None]) -> dict[str, Any]:
    results = []
    with RssSampler(stack.replica_pid) as rss:
        for clients in levels:
            level = run_level(make_client, clients, seconds=seconds)
            results.append(level.summary())
            log(f"  {name} x {clients}: {results[-1]['requests_per_s']} req/s, p50 {results[-1]['p50_ms']} ms, "
                f"p99 {results[-1]['p99_ms']} ms, errors {level.errors}, wrong {level.wrong}")
    return {"levels": results, **verdict(results), **rss_summary(rss.samples)}


def verdict(levels: list[dict[str, Any]]) -> dict[str, Any]:
    """Held: the highest level with no error and no wrong answer. Saturation: the first level
    whose throughput grew less than 10 % over the level before."""
    clean = [lv["clients"] for lv in levels if lv["errors"] == 0 and lv["wrong_answers"] == 0]
    saturated = None
    for before, after in itertools.pairwise(levels):
        if (after["requests_per_s"] or 0) < 1.1 * (before["requests_per_s"] or 0):
            saturated = after["clients"]
            break
    best = max(levels, key=lambda lv: lv["requests_per_s"] or 0)
    return {"held_clients": max(clean) if clean else 0, "saturates_at_clients": saturated,
            "peak_requests_per_s": best["requests_per_s"], "peak_at_clients": best["clients"],
            "wrong_answers": sum(lv["wrong_answers"] for lv in levels)}


def rss_summary(samples: list[float]) -> dict[str, Any]:
    if not samples:
        return {"replica_rss_mb": None}
    return {"replica_rss_mb": {"first": round(samples[0], 1), "peak": round(max(samples), 1), "last": round(samples[-1], 1)}}


# --- the scenarios -----------------------------------------------------------------------------------

def page_files(stack: Stack) -> dict[str, bytes]:
    site = stack.state_dir / "app" / "local" / "site"  # what `icchat up` uploaded (icchat.stack.app.work_dir)
    files = {}
    for pattern in PAGE_FILES:
        for path in sorted(site.glob(pattern)):
            files[str(path.relative_to(site))] = path.read_bytes()
    return files


def model_file(stack: Stack, largest: bool) -> tuple[str, str, int]:
    manifest = json.loads((stack.state_dir / "app" / "local" / "model" / "manifest.json").read_text())
    entries = sorted(manifest["files"], key=lambda f: f["size"])
    entry = entries[-1] if largest else next(f for f in entries if f["path"].endswith("_quantized.onnx"))
    return "/model/" + entry["path"], entry["sha256"], entry["size"]


def upload_big_file(stack: Stack, size: int) -> tuple[str, str, int]:
    """A `size`-byte file put on the page's asset canister with the deploy tool (the same path as
    a model file: chunked batch, certified, streamed by the gateway)."""
    from icchat.deploy import sync_folder
    from icchat.stack.up import _agent

    folder = stack.state_dir / "load-big"
    folder.mkdir(exist_ok=True)
    digest = hashlib.sha256()
    with open(folder / "big.bin", "wb") as out:
        block = hashlib.sha256(b"icchat load").digest() * 32768  # 1 MiB, not compressible to nothing
        for i in range(size // len(block)):
            piece = bytes([i & 255]) + block[1:]
            out.write(piece)
            digest.update(piece)
    agent = _agent(f"http://localhost:{stack.port}", stack.state_dir)
    from icchat.ic.principal import Principal

    sync_folder(agent, Principal.from_text(stack.frontend), folder, prefix="/load/", delete_missing=False)
    return "/load/big.bin", digest.hexdigest(), size // len(block) * len(block)


def references(stack: Stack) -> dict[int, list[int]]:
    """Each prompt's greedy answer, before any load; fast must equal verified."""
    from icchat.ic.agent import Agent
    from icchat.ic.identity import Ed25519Identity
    from icchat.ic.principal import Principal

    agent = Agent(stack.url, Ed25519Identity.generate())
    agent.fetch_root_key()
    canister = Principal.from_text(stack.gpt2)
    out = {}
    for i, prompt in enumerate(PROMPTS):
        verified = chat_turn(agent, canister, "verified", prompt)
        fast = chat_turn(agent, canister, "fast", prompt)
        if verified != fast or len(verified) != NEW_TOKENS:
            raise WrongAnswer(f"before any load, fast {fast} and verified {verified} differ")
        out[i] = verified
    forget_conversations(agent, canister)
    agent.close()
    return out


@dataclass(frozen=True)
class Plan:
    pages: list[int]
    chats: list[int]
    big_clients: list[int]
    seconds: float
    big_bytes: int | None  # None: the bundle's int8 decoder instead of an uploaded file
    mixed_seconds: float


FULL = Plan(pages=[1, 8, 32, 96], chats=[1, 2, 4, 8], big_clients=[1, 4], seconds=10.0, big_bytes=BIG_BYTES, mixed_seconds=15.0)
SMOKE = Plan(pages=[4], chats=[2], big_clients=[1], seconds=2.0, big_bytes=None, mixed_seconds=3.0)


def measure(stack: Stack, plan: Plan, log: Callable[[str], None] = print) -> dict[str, Any]:
    files = page_files(stack)
    refs = references(stack)
    started = time.monotonic()
    out: dict[str, Any] = {"plan": {"page_clients": plan.pages, "chat_clients": plan.chats, "big_clients": plan.big_clients,
                                    "seconds_per_level": plan.seconds, "page_files": sorted(files),
                                    "prompts": len(PROMPTS), "new_tokens": NEW_TOKENS},
                           "replica_rss_mb_before": rss_mb(stack.replica_pid)}
    out["pages"] = ramp("pages", lambda i: PageClient(stack, files, i), plan.pages, plan.seconds, stack, log)
    if plan.big_bytes:
        big = upload_big_file(stack, plan.big_bytes)
        canister = stack.frontend
    else:
        big, canister = model_file(stack, largest=False), stack.gpt2
    path, sha, size = big
    big_levels = []
    with RssSampler(stack.replica_pid) as rss:
        for clients in plan.big_clients:
            level = run_level(lambda _i: _Download(stack, canister, path, sha, size), clients, rounds=1)
            big_levels.append(level.summary())
            log(f"  big x {clients}: {big_levels[-1]['mb_per_s']} MB/s, errors {level.errors}, wrong {level.wrong}")
    out["big"] = {"path": path, "bytes": size, "levels": big_levels, "wrong_answers": sum(lv["wrong_answers"] for lv in big_levels),
                  "held_clients": max([lv["clients"] for lv in big_levels if not lv["errors"] and not lv["wrong_answers"]], default=0),
                  **rss_summary(rss.samples)}
    for mode in ("verified", "fast"):
        out[mode] = ramp(f"chat {mode}", lambda i, m=mode: ChatClient(stack, m, refs, i), plan.chats, plan.seconds, stack, log)
    out["mixed"] = mixed(stack, plan, files, refs, (canister, path, sha, size), log)
    out["wrong_answers"] = sum(out[k]["wrong_answers"] for k in ("pages", "big", "verified", "fast", "mixed"))
    out["replica_rss_mb_after"] = rss_mb(stack.replica_pid)
    out["seconds"] = round(time.monotonic() - started, 1)
    return out


class _Download:
    def __init__(self, stack: Stack, canister: str, path: str, sha: str, size: int) -> None:
        self.args = (stack, canister, path, sha, size)

    def once(self) -> int:
        return download(*self.args)


def mixed(stack: Stack, plan: Plan, files: dict[str, bytes], refs: dict[int, list[int]], big: tuple, log) -> dict[str, Any]:
    """Everything at once: the largest page level, two users per chat mode, one big download."""
    results: dict[str, Level] = {}
    jobs = {"pages": (lambda i: PageClient(stack, files, i), max(plan.pages)),
            "verified": (lambda i: ChatClient(stack, "verified", refs, i), 2),
            "fast": (lambda i: ChatClient(stack, "fast", refs, i), 2)}
    with RssSampler(stack.replica_pid) as rss:
        threads = [threading.Thread(target=lambda n=n, f=f, c=c: results.__setitem__(n, run_level(f, c, seconds=plan.mixed_seconds)))
                   for n, (f, c) in jobs.items()]
        threads.append(threading.Thread(target=lambda: results.__setitem__("big", run_level(lambda _i: _Download(stack, *big), 1, rounds=1))))
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    summary = {name: level.summary() for name, level in results.items()}
    log("  mixed: " + ", ".join(f"{n} {s['requests_per_s']} req/s (errors {s['errors']}, wrong {s['wrong_answers']})" for n, s in summary.items()))
    return {"parts": summary, "wrong_answers": sum(s["wrong_answers"] for s in summary.values()),
            "errors": sum(s["errors"] for s in summary.values()), **rss_summary(rss.samples)}


def statement(result: dict[str, Any]) -> dict[str, str]:
    """What the figures say, in words (derived from the measured levels only)."""
    pages, big, mixed_parts = result["pages"], result["big"], result["mixed"]["parts"]
    out = {
        "pages": (f"{pages['held_clients']} concurrent page clients served with no error and no wrong byte; throughput "
                  f"peaks at {pages['peak_requests_per_s']} requests/s ({pages['peak_at_clients']} clients) and stops growing "
                  f"from {pages['saturates_at_clients']} clients on: beyond that, latency grows with the queue "
                  f"(p99 {pages['levels'][-1]['p99_ms']} ms at {pages['levels'][-1]['clients']})"),
        "big": (f"{big['held_clients']} simultaneous downloads of {big['bytes'] / 2**20:.0f} MiB, SHA-256 checked; "
                f"{max(lv['mb_per_s'] or 0 for lv in big['levels'])} MB/s in all"),
    }
    for mode in ("verified", "fast"):
        r = result[mode]
        growth = (f"stops growing from {r['saturates_at_clients']} clients on" if r["saturates_at_clients"] else
                  f"still growing at {r['levels'][-1]['clients']}, the largest level tried")
        out[mode] = (f"{r['held_clients']} identities chatting at once with every answer the reference tokens; "
                     f"peak {r['peak_requests_per_s']} chat turns/s at {r['peak_at_clients']} clients ({growth}; "
                     f"p99 {r['levels'][-1]['p99_ms']} ms there)")
    if "pages" in mixed_parts and "verified" in mixed_parts:
        alone = result["verified"]["levels"][0]["p50_ms"]
        out["mixed"] = (f"all at once ({mixed_parts['pages']['clients']} page clients, 2+2 chatting identities, one big "
                        f"download): no error, no wrong answer, but chats slow down (verified p50 {alone} ms alone, "
                        f"{mixed_parts['verified']['p50_ms']} ms under page load): the replica serves pages and "
                        "runs canisters in one process, so page load takes CPU from chats")
    rss = result["mixed"].get("replica_rss_mb") or {}
    out["memory"] = (f"replica RSS {result['replica_rss_mb_before']:.0f} MB before, peak {rss.get('peak')} MB under "
                     f"the mixed load, {result['replica_rss_mb_after']:.0f} MB after") if rss else "RSS not sampled"
    return out


def run_section(args: argparse.Namespace | None = None) -> dict[str, Any]:
    full = bool(getattr(args, "load", False))
    log = print
    log(f"load ({'full' if full else 'smoke'} run) against icchat up's stack on loopback")
    with running_stack() as stack:
        result = measure(stack, FULL if full else SMOKE, log)
    result["run"] = "full" if full else "smoke"
    result["statement"] = statement(result)
    result["machine_note"] = (f"clients and replica share this machine's {os.cpu_count()} cores (and other work): "
                              "figures are noisy lower bounds")
    return result
