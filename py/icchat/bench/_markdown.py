"""The small Markdown pieces BENCHMARKS.md's sections share: numbers, spreads, tables and the line
naming the command, commit and machine behind a figure. Apart from _benchmarks_md so that a
benchmark's own section (model_sizes.markdown) can use them without importing the page that lists it.
"""

from __future__ import annotations

from typing import Any


def _num(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def _spread(s: dict[str, Any] | None, digits: int = 2) -> str:
    if not s:
        return "-"
    return f"{_num(s['median'], digits)} ({_num(s['min'], digits)}-{_num(s['max'], digits)})"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *["| " + " | ".join(r) + " |" for r in rows], ""]


def _environment(result: dict[str, Any]) -> str:
    env = result.get("environment", {})
    return (f"`{env.get('command', '?')}` at {env.get('date', '?')}, commit {env.get('commit') or '?'}, "
            f"{env.get('cpus', '?')} CPUs {env.get('machine', '')}, Python {env.get('python', '?')}")
