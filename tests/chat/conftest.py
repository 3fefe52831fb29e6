from __future__ import annotations

from pathlib import Path

import pytest

from icchat.chat import GPT2Tokenizer
from icchat.model.export import export_bundle
from icchat.model.vocab import ensure_tokenizer_dir


@pytest.fixture(scope="session")
def tokenizer() -> GPT2Tokenizer:
    return GPT2Tokenizer.from_dir(ensure_tokenizer_dir())


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bundles") / "tiny-s0"
    return export_bundle(out, config="tiny", seed=0, log=lambda _: None)
