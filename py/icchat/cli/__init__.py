"""The `icchat` command: one subcommand module per area, each exposing `register(subparsers)`.

Subcommand modules import their heavy dependencies lazily, so `icchat --help` stays instant and
a missing optional dependency only affects the command that needs it.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from icchat.errors import UserError

# Modules under icchat.cli; each defines register(subparsers) and sets `func` on its parsers.
SUBCOMMAND_MODULES = ("up", "down", "status", "onchain", "build", "deploy", "model", "replica", "bench", "serve")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="icchat", description="Private GPT-2 chat on the Internet Computer.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(f"icchat.cli.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"icchat: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("icchat: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
