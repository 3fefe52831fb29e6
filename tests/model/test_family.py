"""The GPT-2 family offline: each preset's stand-in (seeded weights, the real checkpoint's shape
per layer, tokenizer, special tokens and chat template) saved as a Hugging Face directory, then
exported with `--from-pretrained DIR` and a shorter context: the f32 ONNX decoder and the f32
canister file reproduce transformers, and the manifest records the model's chat format, added
tokens, eos, name and license.

CI time: the stand-ins have 2 layers instead of 6, 12 or 24 (every layer has the real shape, and
the embeddings are the real vocabulary's): this module takes about 2.5 minutes on 2 cores. At
full depth gpt2-medium alone takes a minute and 8 GB to export (docs/model-bundle.md has the
figures): a benchmark, `--config NAME`, not a test.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import PROMPT_TEXT, STEPS

from icchat.chat.conversation import Conversation, Message
from icchat.chat.template import KNOWN_FORMATS, ChatTemplate
from icchat.chat.tokenizer import AddedToken, GPT2Tokenizer
from icchat.model import parity
from icchat.model.canister_weights import read_weights
from icchat.model.chat_format import CHECKS
from icchat.model.export import export_bundle
from icchat.model.manifest import rebuild_command, verify_bundle
from icchat.model.onnx_variants import ONNX_DIR, VARIANT_FILES
from icchat.model.reference import reference_logits
from icchat.model.source import CHECKPOINTS, PRESETS, save_seeded_checkpoint

FAMILY = ["gpt2", "gpt2-medium", "distilgpt2", "dialogpt-small", "gpt2-alpaca"]
N_CTX = 128
# What each export must record: (chat format, source of it, license from the model card)
EXPECTED = {
    "gpt2": ("plain", "table", "mit"),
    "gpt2-medium": ("plain", "table", "mit"),
    "distilgpt2": ("plain", "table", "apache-2.0"),
    "dialogpt-small": ("template", "tokenizer_config", "mit"),
    "gpt2-alpaca": ("alpaca", "table", "unknown"),
}


@pytest.fixture(scope="module", params=FAMILY)
def exported(request, tmp_path_factory) -> tuple[str, Path, Path]:
    """(preset, its seeded checkpoint directory, the bundle exported from it)."""
    preset = request.param
    root = tmp_path_factory.mktemp(preset)
    checkpoint = save_seeded_checkpoint(preset, 0, root / preset, n_layer=2)
    bundle = export_bundle(root / "bundle", pretrained=str(checkpoint), variants=["f32"],
                           n_ctx=N_CTX, log=lambda _: None)
    return preset, checkpoint, bundle


@pytest.fixture(scope="module")
def reference(exported):
    from transformers import GPT2LMHeadModel

    _, checkpoint, bundle = exported
    prompt = GPT2Tokenizer.from_dir(bundle).encode(PROMPT_TEXT)
    model = GPT2LMHeadModel.from_pretrained(checkpoint).eval()  # the full context: n_positions
    return prompt, parity.torch_logits(model, prompt, STEPS)


def test_onnx_f32_matches_transformers(exported, reference):
    preset, _, bundle = exported
    prompt, expected = reference
    logits, _ = parity.onnx_logits(bundle / ONNX_DIR / VARIANT_FILES["f32"], prompt, STEPS)
    assert logits.shape == expected.shape == (len(prompt) + len(STEPS), PRESETS[preset]["vocab_size"])
    assert parity.max_abs_diff(logits, expected) <= 1e-4


def test_canister_f32_matches_transformers(exported, reference):
    _, _, bundle = exported
    prompt, expected = reference
    weights = read_weights(bundle / "canister" / "gpt2-f32.bin")
    assert weights.dims.n_ctx == N_CTX
    assert parity.max_abs_diff(reference_logits(weights, prompt, STEPS), expected) <= 1e-4


def test_manifest_records_the_model(exported):
    preset, checkpoint, bundle = exported
    manifest = verify_bundle(bundle)
    model, shape = manifest["model"], PRESETS[preset]
    assert (model["n_head"], model["n_embd"], model["vocab_size"]) == \
        (shape["n_head"], shape["n_embd"], shape["vocab_size"])
    assert (model["n_ctx"], model["eos_token_id"], model["bos_token_id"]) == (N_CTX, 50256, 50256)
    chat_format, source, license = EXPECTED[preset]
    assert (manifest["chat"]["format"], manifest["chat"]["source"]) == (chat_format, source)
    provenance = manifest["provenance"]
    assert (provenance["name"], provenance["license"], provenance["origin"]) == \
        (preset, license, str(checkpoint.resolve()))
    added = CHECKPOINTS[preset].tokenizer.added
    assert manifest["tokenizer"]["added_tokens"] == [
        {"id": 50256, "content": "<|endoftext|>", "special": True},
        *({"id": t.id, "content": t.content, "special": t.special} for t in added)]
    assert json.loads((bundle / "tokenizer_config.json").read_text())["model_max_length"] == N_CTX
    assert f"--n-ctx {N_CTX}" in rebuild_command(bundle, manifest)


def test_the_bundles_tokenizer_splits_added_tokens_like_transformers(exported):
    from transformers import AutoTokenizer

    preset, checkpoint, bundle = exported
    theirs = AutoTokenizer.from_pretrained(checkpoint)
    manifest = json.loads((bundle / "manifest.json").read_text())
    ours = GPT2Tokenizer.from_strings((bundle / "vocab.json").read_text(), (bundle / "merges.txt").read_text(),
                                      AddedToken.parse(manifest["tokenizer"]["added_tokens"]))
    assert ours.vocab_size == len(theirs) == PRESETS[preset]["vocab_size"]
    for text in ["Hi<|endoftext|>there", "<|pad|><|pad|> x<|sep|>y <|startoftext|>", "a <|endoftext|>"]:
        assert ours.encode(text, specials=True) == theirs.encode(text)
        assert ours.decode(ours.encode(text, specials=True)) == text


def test_the_recorded_format_renders_as_the_models_template(exported):
    """The page's ChatTemplate, read from the manifest, gives the prompt transformers gives."""
    from transformers import AutoTokenizer

    preset, checkpoint, bundle = exported
    manifest = json.loads((bundle / "manifest.json").read_text())
    template = ChatTemplate.from_record(manifest["chat"])
    hf = AutoTokenizer.from_pretrained(checkpoint)
    if hf.chat_template is None:
        assert template == KNOWN_FORMATS[EXPECTED[preset][0]]
        return
    for texts in [*CHECKS, ("How are you?", "Fine, and you?", "Good.")]:
        messages = [{"role": "user" if i % 2 == 0 else "assistant", "content": t} for i, t in enumerate(texts)]
        conversation = Conversation([Message(m["role"], m["content"]) for m in messages])
        jinja = hf.apply_chat_template(messages, tokenize=False, add_generation_prompt=len(texts) % 2 == 1)
        ours = template.begin + (template.render(conversation) if len(texts) % 2 else "".join(template.turns(conversation)))
        assert ours == jinja


def test_icchat_up_runs_a_checkpoint_directory_or_hub_id(tmp_path, monkeypatch):
    """`icchat up --model DIR|ID`: a checkpoint is exported once under build/models/hf/, then
    reused; a hub id offline fails in one line."""
    from icchat.errors import UserError
    from icchat.stack import models

    monkeypatch.setattr(models, "MODELS", tmp_path / "models")
    checkpoint = save_seeded_checkpoint("distilgpt2", 0, tmp_path / "distilgpt2", n_layer=1)
    logged: list[str] = []
    choice = models.choose_model(str(checkpoint), logged.append)
    assert choice.path.parent == tmp_path / "models" / "hf" and choice.label == "distilgpt2"
    assert verify_bundle(choice.path)["provenance"]["origin"] == str(checkpoint.resolve())
    assert logged[0] == f"exporting {checkpoint} to {choice.path} (once)"
    assert models.choose_model(str(checkpoint), logged.append).path == choice.path
    assert sum(line.startswith("exporting") for line in logged) == 1
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(UserError, match="is unreachable"):
        models.choose_model("someone/not-cached-gpt2", logged.append)


def test_a_checkpoint_without_tokenizer_files_gets_gpt2s(tmp_path):
    """As `icchat model train` saves its model: GPT-2's tokenizer, the plain format."""
    from icchat.model.source import random_model

    random_model("tiny", 0).save_pretrained(tmp_path / "hf")
    bundle = export_bundle(tmp_path / "bundle", pretrained=str(tmp_path / "hf"), variants=["f32"],
                           log=lambda _: None)
    manifest = verify_bundle(bundle)
    assert ChatTemplate.from_record(manifest["chat"]) == ChatTemplate()
    assert manifest["tokenizer"]["added_tokens"] == [{"id": 50256, "content": "<|endoftext|>", "special": True}]
    assert (manifest["provenance"]["name"], manifest["provenance"]["license"]) == ("hf", "unknown")


@pytest.mark.parametrize("n_ctx", [0, 1025])
def test_a_context_beyond_n_positions_is_refused_in_one_line(tmp_path, n_ctx):
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "icchat", "model", "export", "--config", "tiny",
                           "--n-ctx", str(n_ctx), "--out", str(tmp_path / "b")],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1 and not (tmp_path / "b").exists()
    assert proc.stderr.strip().splitlines()[-1] == \
        f"icchat: error: --n-ctx must be between 1 and the model's n_positions (1024), not {n_ctx}"
