"""The canister weight files, read back by the numpy reference forward pass."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import STEPS

from icchat.model import parity
from icchat.model.canister_weights import (
    ALIGN,
    VOCAB_PAD,
    WeightFileError,
    quantize_rows,
    read_weights,
)
from icchat.model.reference import reference_logits


@pytest.fixture(scope="module")
def torch_reference(torch_model, prompt):
    return parity.torch_logits(torch_model, prompt, STEPS)


def test_f32_file_reproduces_pytorch(tiny_bundle, prompt, torch_reference):
    weights = read_weights(tiny_bundle / "canister" / "gpt2-f32.bin")
    logits = reference_logits(weights, prompt, STEPS)
    assert parity.max_abs_diff(logits, torch_reference) <= 1e-4


def test_q8_file_top1(tiny_bundle, prompt, torch_reference, record_property):
    weights = read_weights(tiny_bundle / "canister" / "gpt2-q8.bin")
    logits = reference_logits(weights, prompt, STEPS)
    top1 = parity.top1_agreement(logits, torch_reference)
    record_property("canister_q8_top1", top1)
    print(f"canister q8 (weights-only int8): top-1 {top1:.3f}, "
          f"cosine {parity.mean_cosine(logits, torch_reference):.5f}")
    assert top1 >= 0.95


def test_layout(tiny_bundle, torch_model):
    f32 = read_weights(tiny_bundle / "canister" / "gpt2-f32.bin")
    q8 = read_weights(tiny_bundle / "canister" / "gpt2-q8.bin")
    d = f32.dims
    assert (d.n_layer, d.n_head, d.n_embd, d.n_ctx, d.vocab_size) == (2, 4, 128, 1024, 50257)
    assert f32.padded_vocab == 50304 and f32.padded_vocab % VOCAB_PAD == 0
    assert list(f32.tensors)[:4] == ["wte", "wpe", "ln1w", "ln1b"]
    state = torch_model.state_dict()
    # matmul weights are [out][in]: HF Conv1D [in][out] transposed
    c_fc = state["transformer.h.1.mlp.c_fc.weight"].numpy()
    assert np.array_equal(f32.tensors["fcw"][1], c_fc.T)
    assert not f32.tensors["wte"][50257:].any()  # padding rows are zero
    for tensor in (*f32.tensors.values(), *q8.tensors.values()):
        assert tensor.ctypes.data % ALIGN == 0 or tensor.nbytes == 0
    assert q8.tensors["qkvw"].dtype == np.int8 and q8.tensors["qkvw.scale"].shape == (2, 384)
    assert q8.tensors["ln1w"].dtype == np.float32


def test_quantize_rows_is_symmetric_per_row():
    w = np.array([[0.5, -1.0, 0.25], [0.0, 0.0, 0.0], [3.0, 1.5, -3.0]], np.float32)
    q, scale = quantize_rows(w)
    assert q.tolist() == [[64, -127, 32], [0, 0, 0], [127, 64, -127]]
    np.testing.assert_allclose(q * scale[:, None], w, atol=scale.max() / 2)


def test_bad_files_are_refused(tmp_path, tiny_bundle):
    good = (tiny_bundle / "canister" / "gpt2-f32.bin").read_bytes()
    cases = {"short": good[:100], "magic": b"NOTGPT2\0" + good[8:], "truncated": good[:-64]}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(WeightFileError):
            read_weights(tmp_path / name)
