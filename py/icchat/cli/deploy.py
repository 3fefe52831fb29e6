"""`icchat deploy DIR --canister ID [--network local|ic|URL] [--identity PEM] [--prefix /model/]`:
sync a folder to an asset canister (only what changed, one atomic batch, resumable).

`icchat deploy --model BUNDLE --canister GPT2_ID` uploads a model bundle to a gpt2 canister: the
files browsers and the canister use (tokenizer, config, the int8 and fp32 ONNX decoders, the
`--onchain-dtype` weight file) under /model/, with a manifest listing exactly them, so the one
commit that completes the upload switches the canister's files and model together.

`icchat deploy --app [--network ic|URL] --identity PEM [--dry-run]` deploys the whole app (both
canisters, the model, the page) with the ids in canister_ids.json: icchat.stack.app, the deploy
`icchat up` runs on the local replica."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from icchat.errors import UserError

JOURNAL_DIR = Path(".state") / "deploy"


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("deploy", help="sync a folder to an asset canister (uploads only what changed)")
    parser.add_argument("folder", type=Path, nargs="?", help="the folder to deploy (not with --app)")
    parser.add_argument("--canister", help="the asset canister's id (not with --app)")
    parser.add_argument("--network", default="local",
                        help="local (the local replica on port 4943, root key fetched), ic (mainnet, built-in "
                             "root key), or a URL")
    parser.add_argument("--identity", type=Path, help="a dfx/icp PEM identity file (default: anonymous)")
    parser.add_argument("--prefix", default="/", help="key prefix to deploy under; only keys under it are managed")
    parser.add_argument("--journal", type=Path,
                        help=f"resume journal (default: {JOURNAL_DIR}/<canister><prefix>.jsonl)")
    parser.add_argument("--keep-missing", action="store_true", help="do not delete assets missing from the folder")
    parser.add_argument("--model", action="store_true",
                        help="DIR is a model bundle (icchat model export) for a gpt2 canister: upload its served "
                             "files under /model/")
    parser.add_argument("--onchain-dtype", choices=["q8", "f32"], default="q8",
                        help="with --model: the weight file the canister computes with (default q8)")
    parser.add_argument("--app", action="store_true",
                        help="deploy the whole app (gpt2 + frontend canisters, model, page) to --network; "
                             "canister ids from canister_ids.json")
    parser.add_argument("--app-model", default="gpt2", help="with --app: gpt2, tiny, small or a bundle directory")
    parser.add_argument("--canister-ids", type=Path, help="with --app: dfx's canister_ids.json (default: ./canister_ids.json)")
    parser.add_argument("--dry-run", action="store_true",
                        help="with --app: print every step, call and byte count; send nothing")
    from icchat.stack import inference_policy

    inference_policy.add_arguments(parser, what="with --app, the gpt2 canister's policy (at upgrade: kept when not given)")
    parser.set_defaults(func=run)


def run_app(args: argparse.Namespace) -> int:
    from icchat.deploy import DeployError, canister_ids
    from icchat.ic.agent import AgentError, CanisterReject, TransportError
    from icchat.stack.app import AppDeploy, AppOptions

    if args.folder is not None or args.canister is not None:
        raise UserError("--app deploys the whole app: it takes no DIR or --canister (ids come from canister_ids.json)")
    from icchat.stack import inference_policy

    options = AppOptions(network=args.network, identity=args.identity, model=args.app_model,
                         onchain_dtype=args.onchain_dtype, dry_run=args.dry_run,
                         policy=inference_policy.from_arguments(args),
                         canister_ids=args.canister_ids or canister_ids.CANISTER_IDS)
    try:
        AppDeploy(options).run()
    except TransportError as exc:
        raise UserError(str(exc)) from None
    except CanisterReject as exc:
        raise UserError(f"rejected: {exc.message}") from None
    except (DeployError, AgentError) as exc:
        raise UserError(str(exc)) from None
    return 0


def default_journal(canister: str, prefix: str) -> Path:
    tail = re.sub(r"[^A-Za-z0-9]+", "_", prefix).strip("_")
    return JOURNAL_DIR / f"{canister}{'-' + tail if tail else ''}.jsonl"


def run(args: argparse.Namespace) -> int:
    from icchat.deploy import DeployError, TerminalProgress, sync_folder
    from icchat.deploy.network import Network
    from icchat.ic.agent import AgentError, CanisterReject, TransportError
    from icchat.ic.identity import Identity, IdentityError, load_pem
    from icchat.ic.principal import Principal

    if args.app:
        return run_app(args)
    if args.folder is None or args.canister is None:
        raise UserError("icchat deploy needs DIR and --canister ID (or --app for the whole app)")
    try:
        canister = Principal.from_text(args.canister)
    except ValueError as exc:
        raise UserError(f"--canister: {exc}") from None
    if not args.folder.is_dir():
        raise UserError(f"{args.folder} is not a folder")
    try:
        identity = load_pem(args.identity) if args.identity else Identity()
    except IdentityError as exc:
        raise UserError(str(exc)) from None
    folder, prefix = args.folder, args.prefix
    if args.model:
        from icchat.build.site import MODEL_PREFIX, prepare_model_folder

        folder, prefix = JOURNAL_DIR.parent / "upload" / f"model-{canister}", MODEL_PREFIX
        prepare_model_folder(args.folder, args.onchain_dtype, folder)
    network = Network.parse(args.network)
    journal = args.journal or default_journal(str(canister), prefix)
    try:
        agent = network.agent(identity)
        report = sync_folder(agent, canister, folder, prefix=prefix, progress=TerminalProgress(sys.stderr),
                             journal=journal, delete_missing=not args.keep_missing)
    except TransportError as exc:
        hint = " (is the replica running? icchat replica start)" if args.network == "local" else ""
        raise UserError(f"{exc}{hint}") from None
    except CanisterReject as exc:
        raise UserError(f"canister {canister}: {exc.message}") from None
    except DeployError as exc:
        # A canister's own refusal (reject code 4 or 5) is usually about who is asking.
        refused = exc.reject is not None and exc.reject.code in (4, 5)
        who = " (as the anonymous identity: pass --identity PEM)" if identity.is_anonymous else f" (as {identity.principal})"
        raise UserError(f"{exc}{who if refused else ''}") from None
    except AgentError as exc:
        raise UserError(str(exc)) from None
    if not report.changed:
        print(f"{args.folder}: {report.files} files, already up to date on {canister}")
    else:
        resumed = f", {report.chunks_reused} chunks reused from an interrupted run" if report.chunks_reused else ""
        print(f"{args.folder}: {report.files} files; uploaded {report.files_uploaded} "
              f"({report.bytes_uploaded / 1e6:.1f} MB in {report.chunks_uploaded} chunks{resumed}), "
              f"deleted {report.files_deleted}; {report.operations} operations committed in batch "
              f"{report.batch_id} ({report.seconds:.1f} s)")
    return 0
