"""Bundle layout, manifest, determinism, --from-pretrained, bad input, atomicity."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from icchat.errors import UserError
from icchat.model import export, source
from icchat.model.manifest import read_manifest, sha256_file, verify_bundle


def run_cli(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "icchat", "model", *argv],
                          capture_output=True, text=True, timeout=600)


def test_manifest_lists_every_file_with_hash_role_and_dims(tiny_bundle):
    manifest = verify_bundle(tiny_bundle)
    listed = {f["path"] for f in manifest["files"]}
    on_disk = {str(p.relative_to(tiny_bundle)) for p in tiny_bundle.rglob("*")
               if p.is_file() and p.name != "manifest.json"}
    assert listed == on_disk
    roles = {(f["role"], f.get("variant")) for f in manifest["files"]}
    for expected in [("onnx-decoder", "f32"), ("onnx-decoder", "q8"), ("onnx-decoder", "q4"),
                     ("canister-weights", "f32"), ("canister-weights", "q8"),
                     ("weights", None), ("tokenizer", None)]:
        assert expected in roles
    assert manifest["model"]["n_layer"] == 2 and manifest["model"]["vocab_size"] == 50257
    assert manifest["provenance"]["source"] == "config"
    assert manifest["provenance"]["seed"] == 0
    assert manifest["provenance"]["tools"]["onnxruntime"]


def test_verify_detects_tampering(tmp_path, tiny_bundle):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(tiny_bundle, copy)
    with (copy / "canister" / "gpt2-q8.bin").open("r+b") as f:
        f.seek(4096)
        f.write(b"\x7f")
    proc = run_cli("verify", str(copy))
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f"icchat: error: {copy / 'canister' / 'gpt2-q8.bin'} does not match its SHA-256 in the manifest"]


def test_same_seed_same_weights():
    a, b = source.random_model("tiny", 7), source.random_model("tiny", 7)
    c = source.random_model("tiny", 8)
    wa, wb, wc = (m.transformer.h[0].attn.c_attn.weight for m in (a, b, c))
    assert (wa == wb).all() and not (wa == wc).all()


def test_from_pretrained_local_directory_round_trips(tmp_path, tiny_bundle):
    out = tmp_path / "again"
    proc = run_cli("export", "--from-pretrained", str(tiny_bundle), "--out", str(out),
                   "--variants", "f32")
    assert proc.returncode == 0, proc.stderr
    manifest = read_manifest(out)
    assert manifest["provenance"] == {**manifest["provenance"], "source": "pretrained",
                                      "pretrained": str(tiny_bundle)}
    for name in ("model.safetensors", "canister/gpt2-f32.bin", "canister/gpt2-q8.bin"):
        assert sha256_file(out / name) == sha256_file(tiny_bundle / name)


@pytest.mark.parametrize("args, message", [
    (["--from-pretrained", "no-such-org/no-such-gpt2"], "could not load 'no-such-org/no-such-gpt2'"),
    (["--from-pretrained", "./missing-dir"], "no such model directory"),
    (["--config", "tiny", "--variants", "f32,f64"], "variants must include f32"),
])
def test_bad_input_is_one_clear_line(tmp_path, args, message):
    proc = run_cli("export", *args, "--out", str(tmp_path / "out"))
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("icchat: error:") and message in lines[0]
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir()] == []  # no partial bundle left behind


def test_non_gpt2_config_is_refused(tmp_path):
    model_dir = tmp_path / "bert"
    model_dir.mkdir()
    (model_dir / "config.json").write_text(json.dumps({"model_type": "bert", "hidden_size": 8}))
    proc = run_cli("export", "--from-pretrained", str(model_dir), "--out", str(tmp_path / "out"))
    assert proc.returncode == 1
    assert "is a bert model, not GPT-2" in proc.stderr
    assert proc.stderr.count("\n") == 1


def test_existing_bundle_needs_force(tiny_bundle):
    proc = run_cli("export", "--config", "tiny", "--out", str(tiny_bundle))
    assert proc.returncode == 1 and "--force" in proc.stderr


def test_failed_export_leaves_nothing_and_keeps_the_old_bundle(tmp_path, monkeypatch):
    out = tmp_path / "bundle"
    out.mkdir()
    (out / "manifest.json").write_text("{}")

    def fail(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(export.canister_weights, "write_weights", fail)
    with pytest.raises(RuntimeError, match="disk full"):
        export.export_bundle(out, config="tiny", seed=0, force=True, variants=["f32"],
                             log=lambda _: None)
    assert [p.name for p in tmp_path.iterdir()] == ["bundle"]
    assert (out / "manifest.json").read_text() == "{}"
    with pytest.raises(UserError, match="exactly one"):
        export.export_bundle(tmp_path / "x", log=lambda _: None)


def _with_format_version(tmp_path, tiny_bundle, version: int):
    import shutil

    copy = tmp_path / "tiny-s0"
    shutil.copytree(tiny_bundle, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    (copy / "manifest.json").write_text(json.dumps({**manifest, "format_version": version}))
    return copy


def test_another_format_version_is_refused_with_the_command_that_rebuilds_it(tmp_path, tiny_bundle):
    old = _with_format_version(tmp_path, tiny_bundle, 1)
    proc = run_cli("verify", str(old))
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f"icchat: error: {old / 'manifest.json'} is format version 1, this icchat reads 2: rebuild it with "
        f"`icchat model export --config tiny --seed 0 --out {old} --force`"]


def test_the_local_stacks_model_cache_rebuilds_an_older_bundle(tmp_path, tiny_bundle, monkeypatch):
    from icchat.stack import models

    old = _with_format_version(tmp_path, tiny_bundle, 1)
    monkeypatch.setattr(models, "MODELS", tmp_path)
    logged: list[str] = []
    assert models.choose_model("tiny", logged.append).path == old
    assert verify_bundle(old)["format_version"] == 2
    assert logged[0] == f"exporting the seeded tiny model to {old} (once)"
    variants = {(f["role"], f.get("variant")) for f in read_manifest(old)["files"] if f.get("variant")}
    assert variants == {("onnx-decoder", "f32"), ("onnx-decoder", "q8"),  # what the stack serves
                        ("canister-weights", "f32"), ("canister-weights", "q8")}
