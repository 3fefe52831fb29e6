"""`icchat build`: every generated artifact under build/ (the steps: icchat.build.pipeline)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    sub.add_parser("build", help="build every generated artifact into build/").set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from icchat.build.pipeline import build_all

    build_all()
    return 0
