from __future__ import annotations

from pathlib import Path

import pytest

from icchat.chat.tokenizer import GPT2Tokenizer
from icchat.model.export import export_bundle

PROMPT_TEXT = (
    "The Internet Computer runs canisters: WebAssembly modules with their own memory. "
    "A chat page served from one can run GPT-2 in the browser, or ask another canister "
    "to compute the answer onchain, token by token, within the instruction limits."
)


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bundles") / "tiny-s0"
    return export_bundle(out, config="tiny", seed=0, log=lambda _: None)


@pytest.fixture(scope="session")
def torch_model(tiny_bundle):
    from transformers import GPT2LMHeadModel

    return GPT2LMHeadModel.from_pretrained(tiny_bundle).eval()


@pytest.fixture(scope="session")
def prompt(tiny_bundle) -> list[int]:
    ids = GPT2Tokenizer.from_dir(tiny_bundle).encode(PROMPT_TEXT)
    assert len(ids) >= 40
    return ids


STEPS = [464, 3303, 318, 257, 1332, 286, 262, 1080]  # 8 fixed next tokens (teacher forcing)
