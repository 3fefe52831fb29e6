"""The demo model's committed checkpoint (models/demo): it is the file its provenance describes,
its bundle is exported from it in seconds and verifies, and `icchat model train` still makes such a
checkpoint by the recorded recipe, the same bytes for the same seed. Training runs here are tiny
(1 layer x 64, a few hundred chats); the committed model's own run is not repeated."""

from __future__ import annotations

import dataclasses
import json
import math
import re

import pytest
from test_train import TINY

from icchat.digest import sha256_file
from icchat.errors import UserError
from icchat.model import corpus, demo_checkpoint, train
from icchat.model.manifest import read_manifest, verify_bundle

COMMITTED = demo_checkpoint.DEMO_DIR
TINY_RUN = dataclasses.replace(TINY, steps=12)


@pytest.fixture(scope="module")
def committed() -> dict:
    return json.loads((COMMITTED / demo_checkpoint.PROVENANCE).read_text())


def test_the_committed_checkpoint_is_the_file_its_provenance_describes(committed):
    weights = COMMITTED / demo_checkpoint.WEIGHTS
    assert sha256_file(weights) == committed["checkpoint"]["sha256"]
    assert weights.stat().st_size == committed["checkpoint"]["bytes"] <= 16 * 2**20
    assert demo_checkpoint.read_provenance(COMMITTED) == committed


def test_the_committed_recipe_is_the_preset_with_a_fixed_budget(committed):
    """`icchat model train --preset demo --steps N --threads T` runs exactly the recorded
    configuration, on the corpus the checkpoint was trained on."""
    training = committed["training"]
    config = training["config"]
    assert config["steps"] == training["steps"] > 0  # a fixed budget: the same on every machine's load
    assert config == dataclasses.asdict(dataclasses.replace(train.PRESETS["demo"], steps=config["steps"],
                                                            threads=config["threads"]))
    assert committed["command"].startswith(f"icchat model train --preset demo --steps {config['steps']} ")
    assert f" --threads {config['threads']}" in committed["command"]
    assert training["corpus"][0]["sha256"] == corpus.load_chats()[1]
    assert training["tokens"] == training["steps"] * config["batch"] * config["block"]
    assert re.fullmatch(r"[0-9a-f]{40}", committed["commit"])  # trained from committed code
    assert committed["cpu"]["model_name"] and committed["cpu"]["cores"]
    assert training["validation_perplexity"] < 58.4  # better than a first run's 8.5 minutes


def test_the_committed_checkpoint_holds_the_recipes_model(committed):
    """Its tensors are those of the preset's compact model: the kept rows and the rest row, float16."""
    import torch

    config = train.TrainConfig(**committed["training"]["config"])
    model, vocab, loaded = demo_checkpoint.load_checkpoint(COMMITTED / demo_checkpoint.WEIGHTS)
    assert loaded == config
    assert len(vocab.kept) == committed["training"]["vocab_rows_trained"] == config.keep_vocab
    assert model.transformer.wte.weight.shape == (config.keep_vocab + 1, config.n_embd)
    assert model.config.n_layer == config.n_layer and model.config.n_positions == config.block
    halves = model.transformer.wte.weight.to(torch.float16).to(torch.float32)
    assert torch.equal(halves, model.transformer.wte.weight)  # float16 values, widened


def test_the_bundle_is_exported_from_the_committed_checkpoint_and_verifies(committed, tmp_path):
    out = demo_checkpoint.bundle_from_checkpoint(COMMITTED, tmp_path / "demo", variants=("f32",),
                                                 log=lambda _: None)
    manifest = verify_bundle(out)
    provenance = manifest["provenance"]
    assert provenance["source"] == "trained"
    for key in ("checkpoint", "command", "commit", "cpu", "training", "label", "name", "license"):
        assert provenance[key] == committed[key], key
    assert provenance["origin"] == "icchat's models/demo"  # what the page says it came from, not a temporary directory
    hf = json.loads((out / "config.json").read_text())
    config = committed["training"]["config"]
    assert (hf["n_layer"], hf["n_head"], hf["n_embd"], hf["n_positions"], hf["vocab_size"]) == (
        config["n_layer"], config["n_head"], config["n_embd"], config["block"], train.N_VOCAB)


def test_a_changed_checkpoint_is_refused(tmp_path, committed):
    for name in (demo_checkpoint.WEIGHTS, demo_checkpoint.PROVENANCE):
        (tmp_path / name).write_bytes((COMMITTED / name).read_bytes())
    with open(tmp_path / demo_checkpoint.WEIGHTS, "r+b") as f:
        f.seek(-1, 2)
        last = f.read(1)
        f.seek(-1, 2)
        f.write(bytes([last[0] ^ 1]))
    with pytest.raises(UserError, match="does not match the SHA-256"):
        demo_checkpoint.bundle_from_checkpoint(tmp_path, tmp_path / "out", log=lambda _: None)
    with pytest.raises(UserError, match="no demo checkpoint"):
        demo_checkpoint.read_provenance(tmp_path / "nothing")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A tiny `train` run: its bundle, its checkpoint directory, and the checkpoint's bytes."""
    root = tmp_path_factory.mktemp("demo")
    result = train.train_bundle(root / "bundle", TINY_RUN, checkpoint=root / "checkpoint",
                                variants=("f32",), log=lambda _: None)
    return result, (root / "checkpoint" / demo_checkpoint.WEIGHTS).read_bytes()


def test_train_writes_the_checkpoint_its_provenance_and_the_bundle_from_it(tiny_run):
    result, weights = tiny_run
    provenance = json.loads((result.checkpoint / demo_checkpoint.PROVENANCE).read_text())
    assert provenance["checkpoint"]["sha256"] == sha256_file(result.checkpoint / demo_checkpoint.WEIGHTS)
    assert provenance["training"]["config"] == dataclasses.asdict(TINY_RUN)
    assert provenance["training"]["corpus"][0]["sha256"] == corpus.load_chats()[1]
    assert provenance["command"] == "icchat.model.train.train_bundle (its configuration: training.config)"
    assert read_manifest(result.out)["provenance"]["checkpoint"] == provenance["checkpoint"]
    # the trained rows only, in float16: far smaller than the bundle's 50,257-row float32 weights
    assert len(weights) * 4 < (result.out / "model.safetensors").stat().st_size


def test_the_recorded_perplexity_is_the_bundles_measured_on_the_float16_weights(tiny_run):
    """The provenance's validation loss is the bundle's own (its weights are the checkpoint's
    float16 values), measured, not carried over from the float32 weights before rounding."""
    import torch
    from transformers import GPT2LMHeadModel

    result, _ = tiny_run
    training = read_manifest(result.out)["provenance"]["training"]
    data = train.load_data(TINY_RUN)
    bundle = GPT2LMHeadModel.from_pretrained(result.out).eval()
    compact, vocab, _ = demo_checkpoint.load_checkpoint(result.checkpoint / demo_checkpoint.WEIGHTS)
    ids = data.validation[:TINY_RUN.block + 1]
    with torch.no_grad():
        logits = bundle(torch.from_numpy(ids[None, :-1])).logits[0]
        bundle_loss = float(torch.nn.functional.cross_entropy(logits, torch.from_numpy(ids[1:])))
    assert math.isclose(train.evaluate(compact, vocab, ids, TINY_RUN, train._rest_offset(vocab)), bundle_loss,
                        rel_tol=1e-4)
    whole = train.evaluate(compact, vocab, data.validation, TINY_RUN, train._rest_offset(vocab))
    assert training["validation_loss"] == round(whole, 4)
    # float16 rounding moves the perplexity a little, not much
    assert math.isclose(training["validation_perplexity"], training["validation_perplexity_before_float16"], rel_tol=0.01)


def test_the_same_seed_gives_the_same_checkpoint_bytes(tiny_run, tmp_path):
    _, weights = tiny_run
    again = train.train_bundle(tmp_path / "bundle", TINY_RUN, variants=("f32",), log=lambda _: None)
    assert (again.checkpoint / demo_checkpoint.WEIGHTS).read_bytes() == weights
    assert again.checkpoint == (tmp_path / "bundle.train").resolve()  # by default beside the bundle


def test_icchat_up_exports_the_demo_bundle_once_and_again_when_the_checkpoint_changes(tiny_run, tmp_path, monkeypatch):
    from icchat.stack import models

    result, _ = tiny_run
    monkeypatch.setattr(models, "MODELS", tmp_path / "models")
    monkeypatch.setattr(demo_checkpoint, "DEMO_DIR", result.checkpoint)
    said: list[str] = []
    choice = models.choose_model("demo", said.append)
    assert choice.path == tmp_path / "models" / "demo" and choice.meaningful and choice.notice == models.DEMO_NOTICE
    assert said[0].startswith("exporting the demo model from its committed checkpoint")
    assert not any("training" in line for line in said)
    verify_bundle(choice.path)
    said.clear()
    assert models.choose_model("demo", said.append).path == choice.path
    assert said == []  # the same checkpoint: the bundle is reused
    recorded = json.loads((result.checkpoint / demo_checkpoint.PROVENANCE).read_text())
    manifest = read_manifest(choice.path)
    assert manifest["provenance"]["checkpoint"]["sha256"] == recorded["checkpoint"]["sha256"]
    other = tmp_path / "other"
    other.mkdir()
    train.train_bundle(tmp_path / "other-bundle", dataclasses.replace(TINY_RUN, seed=1), checkpoint=other,
                       variants=("f32",), log=lambda _: None)
    monkeypatch.setattr(demo_checkpoint, "DEMO_DIR", other)
    models.choose_model("demo", said.append)
    assert said and said[0].startswith("exporting the demo model")  # a new checkpoint: exported again
    assert read_manifest(choice.path)["provenance"]["checkpoint"]["sha256"] != recorded["checkpoint"]["sha256"]


def test_demo_train_trains_the_preset_here(tmp_path, monkeypatch):
    from icchat.stack import models

    monkeypatch.setattr(models, "MODELS", tmp_path)
    monkeypatch.setitem(train.PRESETS, "demo", TINY_RUN)
    said: list[str] = []
    choice = models.choose_model("demo-train", said.append)
    assert choice.path == tmp_path / "demo-train" and choice.notice == models.DEMO_NOTICE
    assert said[0].startswith("training the demo model once")
    assert read_manifest(choice.path)["provenance"]["training"]["config"] == dataclasses.asdict(TINY_RUN)
    assert (tmp_path / "demo-train.train" / demo_checkpoint.WEIGHTS).is_file()
