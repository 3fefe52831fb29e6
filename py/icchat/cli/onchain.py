"""`icchat onchain usage|policy|allow|disallow`: read and set what the gpt2 canister lets onchain
inference cost its owner (canister/gpt2.did: usage, set_inference_policy, allow_inference).

    icchat onchain usage                                   # the local stack's gpt2 canister
    icchat onchain usage --network ic                      # the id in canister_ids.json, anonymously
    icchat onchain policy --access allow-list --budget 500B --network ic --identity id.pem
    icchat onchain allow 2vxsx-fae… --network ic --identity id.pem
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from icchat.errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    from icchat.stack import inference_policy

    parser = sub.add_parser("onchain", help="the gpt2 canister's inference policy: who may call, what it may cost")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    usage = actions.add_parser("usage", help="the policy, the budget window and what is spent (a public query)")
    policy = actions.add_parser("policy", help="change the policy (controllers): only the options given change")
    inference_policy.add_arguments(policy, what="new value")
    allow = actions.add_parser("allow", help="add principals to the allow-list (controllers)")
    disallow = actions.add_parser("disallow", help="remove principals from the allow-list (controllers)")
    for p in (allow, disallow):
        p.add_argument("principals", nargs="+", metavar="PRINCIPAL")
    for p in (usage, policy, allow, disallow):
        p.add_argument("--network", default="local", help="local (the `icchat up` stack), ic, or a replica URL")
        p.add_argument("--canister", help="the gpt2 canister (default: the local stack's, or canister_ids.json's on ic)")
        p.add_argument("--identity", type=Path,
                       help="a PEM identity (default: the local stack's controller key; anonymous on other networks)")
        p.set_defaults(func=run)


def _connect(args: argparse.Namespace) -> tuple[Any, Any]:
    from icchat.deploy import canister_ids
    from icchat.deploy.network import Network
    from icchat.ic.identity import Identity, IdentityError, load_or_create, load_pem
    from icchat.ic.principal import Principal
    from icchat.stack import replica_process
    from icchat.stack.up import STATE_DIR, local_canister

    network = Network.parse(args.network)
    local = replica_process.running(STATE_DIR)  # `icchat up`'s replica, on whatever port it runs
    if local is not None and (network.key == "local" or network.url == local.url):
        network = Network.local(local.port)
    canister = args.canister
    if canister is None and network.key == "local":
        canister = local_canister(STATE_DIR, "gpt2")
    if canister is None:
        canister = canister_ids.lookup(canister_ids.CANISTER_IDS, "gpt2", network.key)
    if canister is None:
        raise UserError("no gpt2 canister known for this network: pass --canister ID")
    try:
        if args.identity:
            identity = load_pem(args.identity)
        elif network.key == "local":
            identity = load_or_create(STATE_DIR / "identity.pem")
        else:
            identity = Identity()
    except (IdentityError, OSError) as exc:
        raise UserError(f"--identity: {exc}") from None
    return network.agent(identity), Principal.from_text(str(canister))


def run(args: argparse.Namespace) -> int:
    from icchat.ic.agent import AgentError, CanisterReject, TransportError
    from icchat.ic.principal import Principal
    from icchat.stack import inference_policy

    try:
        agent, canister = _connect(args)
        if args.action == "policy":
            change = inference_policy.from_arguments(args)
            if change.empty:
                raise UserError("name what to change: --access, --budget, --caller-budget or --window")
            inference_policy.set_policy(agent, canister, change)
        elif args.action in ("allow", "disallow"):
            try:
                principals = [Principal.from_text(p) for p in args.principals]
            except ValueError as exc:
                raise UserError(str(exc)) from None
            inference_policy.change_allow_list(agent, canister, principals, allow=args.action == "allow")
        print(f"gpt2 canister {canister}")
        for line in inference_policy.describe_usage(inference_policy.read_usage(agent, canister)):
            print(f"  {line}")
    except CanisterReject as exc:
        raise UserError(f"gpt2 canister refused: {exc.reason}") from None
    except (TransportError, AgentError) as exc:
        raise UserError(str(exc)) from None
    return 0
