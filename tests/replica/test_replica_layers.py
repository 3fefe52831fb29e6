"""py/icchat/replica's imports run one way: no cycle, and no module imports a layer above its own.

Every import counts, wherever it is written (module level, inside a function, under
TYPE_CHECKING): a lazy import is still a dependency. The layers, lowest first, are the split
docs/replica.md describes (the IC's names beside ours).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "py"
PACKAGE = "icchat.replica"

# Lowest first. A module may import its own layer or a lower one; `wasm` and `http` name packages.
LAYERS: list[tuple[str, set[str]]] = [
    ("foundation", {"errors", "limits", "api_table", "fast_global", "dirty_pages", "wasm"}),
    ("memories and metering", {"meter", "heap", "stable_memory"}),
    ("module", {"module"}),
    ("replicated state", {"state", "canisters", "call_context", "queues"}),
    ("cycles accounting", {"cycles"}),
    ("one execution's context", {"execution"}),
    ("system api", {"system_api"}),
    ("sandbox", {"instance"}),
    ("execution environment", {"execution_environment"}),
    ("management, persistence, keys", {"management", "persistence", "keys", "certification", "outcalls"}),
    ("scheduler", {"scheduler"}),
    ("replica", {"replica"}),
    ("http endpoints", {"http"}),
    ("package facade", {"__init__"}),
]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in (ROOT / "icchat" / "replica").rglob("*.py")}


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The replica module `name` stands for (the longest known prefix), or None if outside."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def _imports(module: str, path: Path, modules: dict[str, Path]) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            # `from package import submodule` depends on the submodule.
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        else:
            continue
        for target in targets:
            resolved = _resolve(target, modules)
            if resolved is not None and resolved != module:
                found.add(resolved)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {module: _imports(module, path, modules) for module, path in modules.items()}


def _layer(module: str) -> int:
    relative = module.removeprefix(PACKAGE).lstrip(".") or "__init__"
    head = relative.split(".")[0]
    for index, (_, names) in enumerate(LAYERS):
        if head in names:
            return index
    raise AssertionError(f"{module} belongs to no layer: add it to LAYERS in {Path(__file__).name}")


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as the list of modules along it, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return [*path[path.index(target):], target]
            if target not in state and (found := visit(target)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_every_module_has_a_layer():
    for module in _modules():
        _layer(module)


def test_the_replica_has_no_import_cycle():
    cycle = _cycle(_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_no_module_imports_a_layer_above_its_own():
    upward = [
        f"{module} ({LAYERS[_layer(module)][0]}) imports {target} ({LAYERS[_layer(target)][0]})"
        for module, targets in sorted(_graph().items())
        for target in sorted(targets)
        if _layer(target) > _layer(module)
    ]
    assert not upward, "imports that run up the layers:\n" + "\n".join(upward)


def test_the_checks_see_cycles_and_lazy_imports():
    """The parser counts an import inside a function, and the cycle finder names a cycle."""
    modules = _modules()
    replica = ROOT / "icchat" / "replica" / "replica.py"
    assert "icchat.replica.persistence" in _imports("icchat.replica.replica", replica, modules)
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
