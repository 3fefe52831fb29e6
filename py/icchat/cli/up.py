"""`icchat up`: build what exists, then (as the replica and canisters land) start the local
replica, deploy the canisters and print the page URL."""

from __future__ import annotations

import argparse

from icchat.cli.build import build_all


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("up", help="build, start the local replica, deploy, print the URL")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    print("icchat up: building")
    build_all()
    return 0
