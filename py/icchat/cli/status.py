"""`icchat status`: what the local stack runs (replica, canisters, model, page URL)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("status", help="say what runs: the local replica, canisters, model, page URL")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from icchat.stack.up import status

    status()
    return 0
