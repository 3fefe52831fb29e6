"""`icchat bench NAME [...]`: run a benchmark, write bench/results/NAME.json (+ NAME.png)."""

from __future__ import annotations

import argparse
import importlib
import pkgutil

import icchat.bench
from icchat.errors import UserError


def available() -> list[str]:
    # Modules starting with an underscore are helpers shared by benchmarks, not benchmarks.
    return sorted(m.name for m in pkgutil.iter_modules(icchat.bench.__path__) if not m.name.startswith("_"))


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("bench", help="run a benchmark and write bench/results/NAME.json")
    parser.add_argument("name", help=f"one of: {', '.join(available()) or '(none yet)'}")
    parser.add_argument("rest", nargs=argparse.REMAINDER, help="options of that benchmark")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.name not in available():
        raise UserError(f"unknown benchmark {args.name!r}; available: {', '.join(available())}")
    module = importlib.import_module(f"icchat.bench.{args.name}")
    bench_parser = argparse.ArgumentParser(prog=f"icchat bench {args.name}")
    if hasattr(module, "add_arguments"):
        module.add_arguments(bench_parser)
    bench_args = bench_parser.parse_args(args.rest)
    result = module.run(bench_args)
    path = icchat.bench.write_result(args.name, result)
    print(f"wrote {path}")
    if hasattr(module, "plot"):
        png = path.with_suffix(".png")
        module.plot(result, png)
        print(f"wrote {png}")
    from icchat.bench._benchmarks_md import write_benchmarks_md

    print(f"wrote {write_benchmarks_md()}")
    return 0
