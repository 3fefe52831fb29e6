"""`icchat model export`: build a complete GPT-2 bundle in a temporary directory next to the
output, then rename it into place, so a failure never leaves half a bundle or harms a good one.

Bundle layout (as transformers.js expects, so peers load the same files):
    config.json, generation_config.json, model.safetensors      Hugging Face GPT2LMHeadModel
    vocab.json, merges.txt, tokenizer*.json, special_tokens_map.json  the checkpoint's tokenizer
    onnx/decoder_model_merged{,_optimized,_quantized,_q4}.onnx   one decoder, KV cache in/out
    canister/gpt2-f32.bin, canister/gpt2-q8.bin                  the gpt2 canister's weights
    manifest.json              sizes, hashes, roles, chat format, added tokens, provenance
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

from icchat.chat.tokenizer import GPT2_EOS_ID
from icchat.errors import UserError
from icchat.model import canister_weights, chat_format, onnx_variants, source
from icchat.model.manifest import MANIFEST, file_entry, write_manifest
from icchat.model.vocab import write_tokenizer_files

CANISTER_DIR = "canister"
CANISTER_FILES = {"f32": "gpt2-f32.bin", "q8": "gpt2-q8.bin"}
ONNX_VARIANTS = tuple(onnx_variants.VARIANT_FILES)
TOOLS = ("torch", "transformers", "optimum-onnx", "onnx", "onnxruntime", "icchat")


def export_bundle(out: Path, *, config: str | None = None, seed: int = 0,
                  pretrained: str | None = None, variants: Iterable[str] = ONNX_VARIANTS,
                  force: bool = False, log: Callable[[str], None] = print,
                  timings: dict[str, float] | None = None,
                  provenance: dict[str, Any] | None = None, n_ctx: int | None = None,
                  chat: str | None = None) -> Path:
    """Export a bundle to `out`; `timings`, if given, receives seconds per step; `provenance`
    adds to (or overrides) the manifest's provenance, e.g. how a trained model was trained.
    `n_ctx`: a context shorter than the model's n_positions; `chat`: a known chat format
    (plain, dialogpt, alpaca) instead of the model's own (icchat.model.chat_format)."""
    if (config is None) == (pretrained is None):
        raise UserError("give exactly one of --config or --from-pretrained")
    variants = list(variants)
    unknown = set(variants) - set(ONNX_VARIANTS)
    if unknown or "f32" not in variants:
        raise UserError(f"variants must include f32 and be among {', '.join(ONNX_VARIANTS)}")
    out = Path(out).expanduser().resolve()
    if out.exists() and not force:
        raise UserError(f"{out} already exists; pass --force to replace it")
    out.parent.mkdir(parents=True, exist_ok=True)

    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        _build(work, config=config, seed=seed, pretrained=pretrained, variants=variants, log=log,
               timings={} if timings is None else timings, extra_provenance=provenance or {},
               n_ctx=n_ctx, chat=chat)
        _make_readable(work)  # mkdtemp and safetensors make private files; bundles are served
        _replace(work, out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return out



def cached_seeded_bundle(out: Path, config: str = "tiny", seed: int = 0) -> Path:
    """A seeded bundle at `out`, exported once and reused while it still verifies (a bundle
    changed or half-removed by anything, or exported before manifests had `chat`, is exported
    again)."""
    from icchat.model.manifest import verify_bundle

    try:
        if "chat" in verify_bundle(out):
            return out
    except UserError:
        pass
    return export_bundle(out, config=config, seed=seed, force=True, log=lambda _: None)

def _build(work: Path, *, config: str | None, seed: int, pretrained: str | None,
           variants: list[str], log: Callable[[str], None], timings: dict[str, float],
           extra_provenance: dict[str, Any], n_ctx: int | None, chat: str | None) -> None:
    files: list[dict[str, Any]] = []

    def step(title: str, action: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        result = action()
        timings[title] = time.perf_counter() - start
        log(f"  {title:<34} {timings[title]:6.1f} s")
        return result

    if pretrained is not None:
        origin = step(f"load {pretrained}", lambda: source.pretrained(pretrained))
        provenance: dict[str, Any] = {"source": "pretrained", "pretrained": pretrained}
    else:
        if config not in source.PRESETS:
            raise UserError(f"unknown config {config!r}; choose one of: {', '.join(source.PRESETS)}")
        origin = step(f"build {config} (seed {seed})", lambda: source.seeded(config, seed))
        provenance = {"source": "config", "config": config, "seed": seed,
                      "init": "transformers GPT2LMHeadModel initialisation, torch.manual_seed(seed)"}
    provenance.update(name=origin.name, license=origin.license, origin=origin.origin)
    model = origin.model if n_ctx is None else source.shorten_context(origin.model, n_ctx)
    if n_ctx is not None:
        provenance["n_ctx"] = n_ctx
    dims = source.Dimensions.of(model.config)
    tokens = {"eos_token_id": _token_id(model.config.eos_token_id),
              "bos_token_id": _token_id(model.config.bos_token_id)}

    step("save safetensors", lambda: model.save_pretrained(work, safe_serialization=True))
    files.append(file_entry(work, "config.json", "config"))
    if (work / "generation_config.json").exists():
        files.append(file_entry(work, "generation_config.json", "config"))
    files.append(file_entry(work, "model.safetensors", "weights", dtype="float32"))

    written = step("tokenizer files", lambda: write_tokenizer_files(work, origin.tokenizer, dims.n_ctx))
    files += [file_entry(work, p.name, "tokenizer") for p in written]
    chat_record = step("chat format", lambda: chat_format.choose(
        _hf_tokenizer(work), origin.name, tokens["eos_token_id"], chat))
    log(f"  chat format: {chat_record['format']} (from the {chat_record['source'].replace('_', ' ')})")
    added = json.loads((work / "tokenizer.json").read_text())["added_tokens"]
    tokenizer = {"added_tokens": [{k: t[k] for k in ("id", "content", "special")} for t in added]}

    onnx_dir = work / onnx_variants.ONNX_DIR
    onnx_dir.mkdir()
    paths = {v: onnx_dir / f for v, f in onnx_variants.VARIANT_FILES.items()}
    step("onnx export (f32, KV cache)", lambda: onnx_variants.export_decoder(work, paths["f32"]))
    needs_optimized = any(v != "f32" for v in variants)
    if needs_optimized:
        step("onnx optimize", lambda: onnx_variants.optimize(paths["f32"], paths["f32-optimized"], dims))
    if {"q8", "q4"} & set(variants):
        prepared = onnx_dir / "prepared.tmp.onnx"
        step("untie lm_head, Gemm -> MatMul",
             lambda: onnx_variants.prepare_for_quantization(paths["f32-optimized"], prepared))
        if "q8" in variants:
            step("quantize q8 (ONNX dynamic int8)", lambda: onnx_variants.quantize_int8(prepared, paths["q8"]))
        if "q4" in variants:
            step("quantize 4-bit MatMulNBits", lambda: onnx_variants.quantize_q4(prepared, paths["q4"]))
        prepared.unlink()
    if needs_optimized and "f32-optimized" not in variants:
        paths["f32-optimized"].unlink()
    for variant in variants:
        files.append(file_entry(work, f"{onnx_variants.ONNX_DIR}/{paths[variant].name}",
                                "onnx-decoder", variant=variant, dtype=onnx_variants.VARIANT_DTYPES[variant]))

    state = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    (work / CANISTER_DIR).mkdir()
    for dtype, name in CANISTER_FILES.items():
        step(f"canister weights {dtype}", lambda d=dtype, n=name: canister_weights.write_weights(
            work / CANISTER_DIR / n, state, dims, d, tokens["eos_token_id"]))
        files.append(file_entry(work, f"{CANISTER_DIR}/{name}", "canister-weights", variant=dtype,
                                format=f"icchat-gpt2-weights-v{canister_weights.VERSION}"))

    provenance.update(extra_provenance)
    provenance["created"] = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    provenance["tools"] = {t: _version(t) for t in TOOLS}
    parameters = sum(p.numel() for p in model.parameters())
    write_manifest(work, files, dims, parameters, provenance,
                   model_extra=tokens, chat=chat_record, tokenizer=tokenizer)
    log(f"  wrote {MANIFEST}: {len(files)} files, {parameters / 1e6:.1f}M parameters")


def _token_id(value: int | list[int] | None) -> int:
    """A config's eos/bos id (a list: its first; none: GPT-2's <|endoftext|>)."""
    if isinstance(value, list):
        value = value[0] if value else None
    return GPT2_EOS_ID if value is None else int(value)


def _hf_tokenizer(directory: Path) -> Any:
    from transformers import GPT2TokenizerFast

    return GPT2TokenizerFast.from_pretrained(directory)


def _make_readable(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _replace(new: Path, out: Path) -> None:
    """Move the finished bundle into place; an existing one is kept until the swap is done."""
    if not out.exists():
        os.replace(new, out)
        return
    old = out.with_name(f".{out.name}.old-{os.getpid()}")
    os.replace(out, old)
    os.replace(new, out)
    shutil.rmtree(old, ignore_errors=True)
