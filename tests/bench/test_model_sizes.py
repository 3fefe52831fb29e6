"""`icchat bench model_sizes`' shapes: the parameter counts Hugging Face states for each model."""

from __future__ import annotations

from icchat.bench.model_sizes import SIZES, parameters


def test_each_shape_has_its_models_parameter_count():
    assert parameters(SIZES["gpt2"]) == 124_439_808
    assert parameters(SIZES["gpt2-medium"]) == 354_823_168
    assert parameters(SIZES["distilgpt2"]) == 81_912_576
