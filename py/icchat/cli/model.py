"""`icchat model export|verify|train`: GPT-2 model bundles."""

from __future__ import annotations

import argparse
from pathlib import Path

from icchat.chat.template import KNOWN_FORMATS
from icchat.model.source import PRESETS


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("model", help="export and verify GPT-2 model bundles")
    model_sub = parser.add_subparsers(dest="model_command", metavar="ACTION", required=True)

    export = model_sub.add_parser(
        "export", help="write a bundle: safetensors, tokenizer, ONNX variants, canister weights",
        description="Export a GPT-2-family bundle. Offline, use --config (random weights, fixed "
                    "seed, the shape and tokenizer of a real checkpoint) or --from-pretrained with "
                    "a local Hugging Face directory.")
    export.add_argument("--out", type=Path, required=True, help="bundle directory to create")
    what = export.add_mutually_exclusive_group(required=True)
    what.add_argument("--from-pretrained", metavar="NAME_OR_PATH",
                      help="Hugging Face GPT-2-family checkpoint: a local directory, or a hub id "
                           "(online), e.g. gpt2, distilgpt2, microsoft/DialoGPT-small")
    what.add_argument("--config", choices=list(PRESETS),
                      help="GPT-2 architecture with random weights: tiny (tests), small (= gpt2, "
                           "124M), or the stand-in of gpt2-medium, distilgpt2, dialogpt-small, gpt2-alpaca")
    export.add_argument("--seed", type=int, default=0, help="seed for --config (default 0)")
    export.add_argument("--n-ctx", type=int, default=None, metavar="N",
                        help="a shorter context than the model's n_positions")
    export.add_argument("--chat-format", choices=list(KNOWN_FORMATS), default=None,
                        help="a known chat format instead of the model's own (default: its "
                             "tokenizer_config.json chat_template, else by its name)")
    export.add_argument("--variants", default="f32,f32-optimized,q8,q4",
                        help="ONNX variants, comma-separated (default: all)")
    export.add_argument("--force", action="store_true", help="replace an existing bundle")
    export.set_defaults(func=run_export)

    train = model_sub.add_parser(
        "train", help="train a small GPT-2 on a chat corpus (CPU) and export it as a bundle",
        description="Train GPT-2 (its tokenizer and 50,257-token vocabulary) on chitchat-dataset "
                    "chats in the page's chat template, write its float16 checkpoint and provenance, "
                    "and export the bundle from it. Interrupted runs resume from OUT.train/.")
    train.add_argument("--preset", choices=["demo"], required=True, help="what to train")
    train.add_argument("--out", type=Path, default=None,
                       help="bundle directory (default: build/models/demo-train, what `icchat up --model "
                            "demo-train` serves)")
    train.add_argument("--checkpoint", type=Path, default=None, metavar="DIR",
                       help="directory for the float16 checkpoint and its provenance.json (default: "
                            "OUT.train; models/demo is the committed one that `icchat up` serves)")
    train.add_argument("--minutes", type=float, default=None,
                       help="training time budget (default: the preset's)")
    train.add_argument("--steps", type=int, default=None, help="a fixed number of steps instead")
    train.add_argument("--seed", type=int, default=None, help="seed (default: the preset's)")
    train.add_argument("--threads", type=int, default=None,
                       help="CPU threads (default: the preset's 2; a run is reproducible for a seed and thread count)")
    train.add_argument("--force", action="store_true", help="replace an existing bundle")
    train.set_defaults(func=run_train)

    verify = model_sub.add_parser("verify", help="check every file against manifest.json")
    verify.add_argument("bundle", type=Path)
    verify.set_defaults(func=run_verify)


def run_export(args: argparse.Namespace) -> int:
    from icchat.model.export import export_bundle

    print(f"exporting to {args.out}")
    out = export_bundle(args.out, config=args.config, seed=args.seed,
                        pretrained=args.from_pretrained, force=args.force, n_ctx=args.n_ctx,
                        chat=args.chat_format,
                        variants=[v.strip() for v in args.variants.split(",") if v.strip()])
    print(f"done: {out}")
    return 0


def run_verify(args: argparse.Namespace) -> int:
    from icchat.model.manifest import verify_bundle

    manifest = verify_bundle(args.bundle)
    print(f"{args.bundle}: {len(manifest['files'])} files verified")
    return 0


def run_train(args: argparse.Namespace) -> int:
    import dataclasses
    import shlex
    import sys

    from icchat.model.train import PRESETS, train_bundle
    from icchat.stack.models import MODELS

    config = PRESETS[args.preset]
    changes = {k: v for k, v in (("minutes", args.minutes), ("steps", args.steps), ("seed", args.seed),
                                 ("threads", args.threads)) if v is not None}
    config = dataclasses.replace(config, **changes)
    out = args.out or MODELS / f"{args.preset}-train"
    result = train_bundle(out, config, checkpoint=args.checkpoint, force=args.force,
                          command=shlex.join(["icchat", *sys.argv[1:]]))
    print(f"done: {result.out} ({result.steps} steps, {result.tokens:,} tokens, "
          f"validation perplexity {result.val_perplexity:.1f}); checkpoint in {result.checkpoint}")
    return 0
