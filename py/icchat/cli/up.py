"""`icchat up`: build, start the local replica, deploy the canisters, the model and the page,
print the URL. Idempotent: a second run reuses everything that is already in place."""

from __future__ import annotations

import argparse

from icchat.stack import inference_policy
from icchat.stack.up import DEFAULT_PORT


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("up", help="build, start the local replica, deploy, print the URL")
    parser.add_argument("--model", default=None,
                        help="gpt2 (the real GPT-2, exported once from the Hugging Face hub), demo (trained on "
                             "a chat corpus, its checkpoint in the repository: exported in seconds), demo-train "
                             "(the same recipe trained here once, ~10 min), tiny or small (seeded, random weights), "
                             "or PATH to an exported bundle; default: gpt2 when the hub is reachable, else demo")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"replica port (default {DEFAULT_PORT})")
    parser.add_argument("--onchain-dtype", choices=["q8", "f32"], default="q8",
                        help="weights the gpt2 canister computes with (default q8)")
    inference_policy.add_arguments(parser, what="the gpt2 canister's policy (kept as it is when not given)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from icchat.stack.up import UpOptions, up

    up(UpOptions(model=args.model, port=args.port, onchain_dtype=args.onchain_dtype,
                 policy=inference_policy.from_arguments(args)))
    return 0
