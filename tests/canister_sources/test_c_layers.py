"""The C canisters' layering (canister/), read from the sources as a graph of files.

For every .c file under canister/ (the probes apart: each is a small canister of its own), an edge
runs to the .c file that defines each function it names (a call, or a function pointer) that a
header it includes declares, directly or through another header. A header x.h belongs to the x.c
beside it; a header whose functions live elsewhere is listed in HEADER_FILES, and a seam (a header
each build links from one of several files, SEAMS) draws no edge at all. The rules:
- no cycle: two files that call each other are one unit cut in two, or a layer calling back up;
- layers run one way, as USES says: runtime <- assetstore <- gpt2 <- gpt2/browser (and the asset
  canister, canister/assets, on the asset store); runtime <- access (the inference policy) <- gpt2
  and llm;
- no function defined (not static) in two .c files that one module links (the modules and their
  sources are the builds' own, icchat.build).
A failure names the cycle, the edge or the duplicate, and the functions that make it.

The reading is plain on purpose: comments, literals and preprocessor lines dropped, brace blocks
skipped, each top-level statement taken for a declaration or a definition by a regex. Both sides
of an #ifdef are read, so the browser build's calls count as much as the canister's."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from unittest import mock

import pytest

from icchat.build import assets, engine, gpt2, llm

CANISTER = Path(__file__).resolve().parents[2] / "canister"
APART = ("probes",)  # each probe is its own canister, linked with the runtime alone

# What each part of canister/ may use, its own files included.
USES = {
    "runtime": {"runtime"},
    "assetstore": {"assetstore", "runtime"},
    "assets": {"assets", "assetstore", "runtime"},
    "access": {"access", "runtime"},
    "gpt2": {"gpt2", "access", "assetstore", "runtime"},
    "llm": {"llm", "access", "runtime"},
    "gpt2/browser": {"gpt2/browser", "gpt2", "runtime"},
}
# Headers whose functions are defined by other files than the .c beside them.
HEADER_FILES = {
    "runtime/ic0.h": (),  # the System API: imports the IC provides
}
# Seams: a header whose functions each build links from exactly one of several files (the IC's cost
# table or the browser's CPU decides how). A caller depends on the seam, not on whichever file
# implements it, so calls through a seam draw no edge; every implementation defines all of it.
SEAMS = {
    "gpt2/ops.h": ("gpt2/ops_canister.c", "gpt2/browser/ops_browser.c"),  # the forward pass's ops
}
# Edges known to break the rules, each to be removed (none today; test_known_exceptions_still_hold
# asks to drop an entry once its edge is gone).
KNOWN_EXCEPTIONS: set[tuple[str, str]] = set()
# Each module linked from canister/ sources: its build function and the module it calls compile_c in.
MODULES: dict[str, tuple[Callable[[], object], ModuleType]] = {
    "gpt2 canister": (gpt2.build_gpt2_wasm, gpt2),
    "asset canister": (assets.build_assets_wasm, assets),
    "llm canister": (llm.build_llm_wasm, llm),
    "browser engine": (engine.build_engine_wasm, engine),
    "sampler": (engine.build_sampler_wasm, engine),
}

INCLUDE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*"([^"]+)"', re.M)
NOISE = re.compile(r'/\*.*?\*/|//[^\n]*|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', re.S)
PREPROCESSOR = re.compile(r"^[ \t]*#(?:[^\n]*\\\n)*[^\n]*", re.M)
ATTRIBUTE = re.compile(r"__attribute__\s*\(\((?:[^()]|\([^()]*\))*\)\)")
SIGNATURE = re.compile(r"^(?P<head>[\w\s*]*?[\w*])\s*\b(?P<name>[A-Za-z_]\w*)\s*\((?:[^()]|\([^()]*\))*\)$", re.S)
NOT_NAMES = {"if", "for", "while", "switch", "return", "sizeof"}


class Source:
    """One C file as the rules see it: what it includes, declares, defines and names."""

    def __init__(self, path: Path) -> None:
        raw = path.read_text()
        self.includes = INCLUDE.findall(NOISE.sub(lambda m: m[0] if m[0][0] == '"' else " ", raw))
        text = ATTRIBUTE.sub(" ", PREPROCESSOR.sub("", NOISE.sub(" ", raw)))
        self.declared: set[str] = set()  # prototypes (a header's functions)
        self.defined: set[str] = set()  # function definitions, static ones excluded
        for statement, has_body in _top_level(text):
            match = SIGNATURE.match(statement.strip())
            if not match or "=" in statement or match["name"] in NOT_NAMES:
                continue
            words = set(match["head"].split())
            if "typedef" in words:
                continue
            if not has_body:
                self.declared.add(match["name"])
            elif "static" not in words:
                self.defined.add(match["name"])
        self.names = set(re.findall(r"\b[A-Za-z_]\w*\b", text))


def _top_level(text: str) -> Iterator[tuple[str, bool]]:
    """Each top-level statement, and whether a brace block follows it (a definition) or ';' ends it."""
    depth, start = 0, 0
    for i, c in enumerate(text):
        if c == "{":
            if not depth:
                yield text[start:i], True
            depth += 1
        elif c == "}":
            depth -= 1
            if not depth:
                start = i + 1
        elif c == ";" and not depth:
            yield text[start:i], False
            start = i + 1


def _name(path: Path) -> str:
    return path.relative_to(CANISTER).as_posix()


def _part(name: str) -> str:
    return name.rsplit("/", 1)[0]


class Graph:
    """The .c files under canister/ (probes apart) and the edges between them, with the names
    that make each edge."""

    def __init__(self) -> None:
        paths = [p for p in sorted(CANISTER.rglob("*.[ch]")) if _name(p).split("/")[0] not in APART]
        self.sources = {_name(p): Source(p) for p in paths}
        self.headers: dict[str, str] = {}  # include name -> file
        for name in self.sources:
            if name.endswith(".h"):
                base = name.rsplit("/", 1)[-1]
                assert base not in self.headers, f"two headers named {base}: {self.headers[base]}, {name}"
                self.headers[base] = name
        self.edges: dict[tuple[str, str], set[str]] = {}
        self.unowned: list[str] = []  # functions a header declares that none of its files defines
        for name in self.sources:
            if name.endswith(".c"):
                self._add_edges(name)

    def _resolve(self, including: str, written: str) -> str | None:
        relative = (CANISTER / including).parent / written
        if relative.is_file():
            return _name(relative.resolve())
        return self.headers.get(written)  # found through an include directory of the build

    def _closure(self, name: str) -> set[str]:
        """The files `name` includes, directly or through what it includes."""
        seen: set[str] = set()
        todo = [name]
        while todo:
            including = todo.pop()
            for written in self.sources[including].includes:
                found = self._resolve(including, written)
                if found and found not in seen:
                    seen.add(found)
                    todo.append(found)
        return seen

    def _add_edges(self, name: str) -> None:
        source = self.sources[name]
        for header in sorted(h for h in self._closure(name) if h.endswith(".h") and h not in SEAMS):
            owners = HEADER_FILES.get(header, (header[:-2] + ".c",))
            for function in sorted(self.sources[header].declared & source.names):
                definers = [o for o in owners if o in self.sources and function in self.sources[o].defined]
                if not definers:
                    self.unowned.append(f"{function} (declared in {header}, used by {name}): defined in none "
                                        f"of {list(owners)}; list its file in HEADER_FILES")
                for definer in definers:
                    if definer != name:
                        self.edges.setdefault((name, definer), set()).add(function)

    def describe(self, a: str, b: str) -> str:
        return f"{a} -> {b} ({', '.join(sorted(self.edges[a, b]))})"


@pytest.fixture(scope="module")
def graph() -> Graph:
    return Graph()


def _cycles(edges: set[tuple[str, str]]) -> list[list[str]]:
    """One cycle (its files in order, the first again at the end) per strongly connected group."""
    following: dict[str, list[str]] = {}
    for a, b in sorted(edges):
        following.setdefault(a, []).append(b)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in following.get(node, []):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(following):
        if node not in index:
            visit(node)
    return [_cycle_in(group, following) for group in groups]


def _cycle_in(group: list[str], following: dict[str, list[str]]) -> list[str]:
    """A shortest way from the group's first file back to it, staying in the group."""
    start, members = group[0], set(group)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        nxt_frontier = []
        for node in frontier:
            for nxt in following.get(node, []):
                if nxt == start:
                    return [*paths[node], start]
                if nxt in members and nxt not in paths:
                    paths[nxt] = [*paths[node], nxt]
                    nxt_frontier.append(nxt)
        frontier = nxt_frontier
    raise AssertionError(f"no cycle through {start} in {group}")


def test_no_cycle(graph: Graph) -> None:
    cycles = _cycles(set(graph.edges) - KNOWN_EXCEPTIONS)
    described = ["\n  ".join(graph.describe(a, b) for a, b in itertools.pairwise(cycle)) for cycle in cycles]
    assert not cycles, "C files that call each other in a cycle:\n  " + "\n\n  ".join(described)


def test_layers_run_one_way(graph: Graph) -> None:
    unplaced = sorted({_part(name) for name in graph.sources} - set(USES))
    assert not unplaced, f"canister/ folders USES gives no layer: {unplaced}"
    upward = [graph.describe(a, b) for a, b in sorted(graph.edges)
              if (a, b) not in KNOWN_EXCEPTIONS and _part(b) not in USES[_part(a)]]
    assert not upward, ("calls against the layers (runtime <- assetstore, access <- gpt2 <- gpt2/browser; "
                        "access <- llm):\n  "
                        + "\n  ".join(upward))


def test_known_exceptions_still_hold(graph: Graph) -> None:
    gone = sorted(KNOWN_EXCEPTIONS - set(graph.edges))
    assert not gone, f"no longer an edge, drop it from KNOWN_EXCEPTIONS: {gone}"


def test_every_header_function_is_defined_by_its_files(graph: Graph) -> None:
    assert not graph.unowned, "\n".join(graph.unowned)
    stale = [f"{header}: {owner}" for header, owners in sorted(HEADER_FILES.items()) for owner in owners
             if owner not in graph.sources or not graph.sources[header].declared & graph.sources[owner].defined]
    assert not stale, f"HEADER_FILES lists files that define nothing their header declares: {stale}"


def test_every_seam_is_implemented_whole(graph: Graph) -> None:
    """Each implementation of a seam defines every function the seam declares (else one build
    would fail to link, or link a caller to nothing)."""
    missing = [f"{implementation}: {sorted(graph.sources[seam].declared - graph.sources[implementation].defined)}"
               for seam, implementations in sorted(SEAMS.items()) for implementation in implementations
               if graph.sources[seam].declared - graph.sources[implementation].defined]
    assert not missing, f"seam functions an implementation does not define: {missing}"


def test_the_reading_sees_the_sources(graph: Graph) -> None:
    """Guards the regexes: known edges and definitions are found (an empty graph passes nothing)."""
    assert graph.edges[("gpt2/bundle.c", "gpt2/served_model.c")] >= {"load_model", "forget_model"}
    assert "cd_read_arg" in graph.edges[("assetstore/api.c", "runtime/candid_reader.c")]
    assert "cd_reply" in graph.edges[("gpt2/main.c", "runtime/candid_writer.c")]
    assert {"rt_trap", "memcpy"} <= graph.sources["runtime/rt.c"].defined
    assert "set_error" not in graph.sources["runtime/candid_reader.c"].defined  # a static function is its file's own


def _linked_sources(build: Callable[[], object], module: ModuleType) -> list[Path]:
    """The C files `build` passes to compile_c, recorded instead of compiled."""
    sources: list[Path] = []

    def record(files: list[Path], out: Path, **_: object) -> Path:
        sources.extend(Path(f).resolve() for f in files)
        return Path(out)

    with mock.patch.object(module, "compile_c", record):
        build()
    return sources


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_function_defined_twice_in_one_module(graph: Graph, module: str) -> None:
    linked = [_name(p) for p in _linked_sources(*MODULES[module]) if p.is_relative_to(CANISTER)]
    assert linked, f"the {module}'s build names no canister/ source"
    files_of: dict[str, list[str]] = {}
    for name in linked:
        source = graph.sources.get(name) or Source(CANISTER / name)
        for function in source.defined:
            files_of.setdefault(function, []).append(name)
    twice = {f: files for f, files in sorted(files_of.items()) if len(files) > 1}
    assert not twice, f"functions the {module} links from two files: {twice}"
