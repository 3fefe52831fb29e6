"""`icchat down`: stop the local replica started by `icchat up` (its state is kept)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("down", help="stop the local replica (state is kept for the next `icchat up`)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from icchat.stack.up import down

    down()
    return 0
