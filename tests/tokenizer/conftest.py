from __future__ import annotations

from pathlib import Path

import pytest

from icchat.bench._text_corpus import corpus
from icchat.chat.tokenizer import GPT2Tokenizer
from icchat.model.vocab import SOURCE_PACKAGE, ensure_tokenizer_dir

# GPT-2's pre-tokenizer pattern as tiktoken spells it for r50k_base/gpt2.
GPT2_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""


@pytest.fixture(scope="session")
def tokenizer_dir() -> Path:
    return ensure_tokenizer_dir()


@pytest.fixture(scope="session")
def tokenizer(tokenizer_dir: Path) -> GPT2Tokenizer:
    return GPT2Tokenizer.from_dir(tokenizer_dir)


@pytest.fixture(scope="session")
def reference():
    """tiktoken loaded from the same ranks (no network: the files come from node_modules)."""
    import tiktoken
    from tiktoken.load import data_gym_to_mergeable_bpe_ranks

    ranks = data_gym_to_mergeable_bpe_ranks(
        str(SOURCE_PACKAGE / "vocab.bpe"), str(SOURCE_PACKAGE / "encoder.json")
    )
    return tiktoken.Encoding(
        "gpt2", pat_str=GPT2_PATTERN, mergeable_ranks=ranks,
        special_tokens={"<|endoftext|>": 50256},
    )


@pytest.fixture(scope="session")
def texts() -> list[str]:
    return corpus()
