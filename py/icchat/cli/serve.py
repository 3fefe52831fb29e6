"""`icchat serve MODEL`: a model bundle behind an OpenAI-compatible HTTP API (icchat.serve)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from icchat.errors import UserError
from icchat.model.manifest import PRECISIONS

DEFAULT_PORT = 8000


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("serve", help="an OpenAI-compatible API (/v1/chat/completions) over a model bundle")
    parser.add_argument("model", metavar="MODEL",
                        help="a bundle directory, or a model as `icchat up --model` takes it (gpt2, demo, "
                             "demo-train, tiny, small, a Hugging Face GPT-2 checkpoint); clients ask for "
                             "it by this name (a directory: by its last part)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    parser.add_argument("--precision", choices=PRECISIONS,
                        help="the ONNX decoder the answers are computed with (default q8, or f32 for a bundle "
                             "without q8)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from icchat.serve.model import ServedModel
    from icchat.serve.server import ApiServer
    from icchat.stack.models import choose_model

    choice = choose_model(args.model)
    given = Path(args.model).expanduser()
    model_id = given.resolve().name if given.is_dir() else args.model
    model = ServedModel(choice.path, model_id, args.precision, threads=min(4, os.cpu_count() or 1))
    try:
        server = ApiServer((args.host, args.port), model)
    except OSError as exc:
        raise UserError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    print(f"icchat serve: {choice.label} ({choice.path}, {model.precision}, native onnxruntime) as "
          f"`{model_id}` at {server.base_url}; one reply at a time, others wait; Ctrl-C stops", flush=True)
    with server:
        server.serve_forever()
    return 0
