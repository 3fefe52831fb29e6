"""The ONNX decoder and its variants, made with the field's tools.

- `export_decoder`: optimum-onnx's `text-generation-with-past` export, one graph for the prompt
  (past length 0) and for single-token steps, with the KV cache as inputs/outputs.
- `optimize`: onnxruntime's transformers optimizer for GPT-2 (SkipLayerNormalization, FastGelu).
- `quantize_int8`: dynamic int8 (weights int8 per output column, activations quantized per run).
- `quantize_q4`: 4-bit MatMulNBits, block 32, symmetric.

Quantizers only touch MatMul (and Gather) with a constant weight, so `prepare_for_quantization`
first gives the LM head its own weight (the export reads the tied embedding through a
Transpose) and rewrites Gemm as MatMul + Add.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

from icchat.model.source import Dimensions

ONNX_DIR = "onnx"
# The manifest's variant -> its file. The file names are transformers.js's (suffix '' = f32,
# '_quantized' = q8, '_q4' = q4), so peers load the same files.
VARIANT_FILES = {
    "f32": "decoder_model_merged.onnx",
    "f32-optimized": "decoder_model_merged_optimized.onnx",
    "q8": "decoder_model_merged_quantized.onnx",
    "q4": "decoder_model_merged_q4.onnx",
}
# The data type of each variant's weights, as the manifest's `dtype` records it (ONNX's names).
VARIANT_DTYPES = {"f32": "float32", "f32-optimized": "float32", "q8": "int8", "q4": "int4"}
Q4_BLOCK_SIZE = 32


def export_decoder(hf_dir: Path, out_file: Path) -> None:
    from optimum.exporters.onnx import main_export

    with quiet(), tempfile.TemporaryDirectory(dir=out_file.parent) as tmp:
        # Our tests compare the graph with PyTorch; optimum's own validation would double the time.
        main_export(str(hf_dir), tmp, task="text-generation-with-past", do_validation=False)
        shutil.move(str(Path(tmp) / "model.onnx"), out_file)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence the tracer warnings and library chatter of an export; errors still raise."""
    loggers = [logging.getLogger(n) for n in ("optimum", "transformers", "torch.onnx", "root")]
    levels = [lg.level for lg in loggers]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        try:
            yield
        finally:
            for lg, level in zip(loggers, levels, strict=True):
                lg.setLevel(level)


def optimize(in_file: Path, out_file: Path, dims: Dimensions) -> None:
    from onnxruntime.transformers.optimizer import optimize_model

    model = optimize_model(str(in_file), model_type="gpt2", num_heads=dims.n_head,
                           hidden_size=dims.n_embd, opt_level=0)
    model.save_model_to_file(str(out_file))


def prepare_for_quantization(in_file: Path, out_file: Path) -> None:
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(in_file))
    graph = model.graph
    initializers = {i.name: i for i in graph.initializer}
    consumers = lambda name: [n for n in graph.node if name in n.input]  # noqa: E731

    for node in list(graph.node):
        source = node.input[0] if node.op_type == "Transpose" and node.input else None
        if source in initializers:
            # Constant transpose of a weight (the tied LM head): store the transposed weight.
            weight = numpy_helper.to_array(initializers[source])
            perm = next((list(a.ints) for a in node.attribute if a.name == "perm"), None)
            name = f"{source}.transposed"
            graph.initializer.append(
                numpy_helper.from_array(np.ascontiguousarray(weight.transpose(perm)), name))
            for consumer in consumers(node.output[0]):
                consumer.input[:] = [name if x == node.output[0] else x for x in consumer.input]
            graph.node.remove(node)

    for node in list(graph.node):
        if node.op_type != "Gemm":
            continue
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if attrs.get("alpha", 1.0) != 1.0 or attrs.get("beta", 1.0) != 1.0 or attrs.get("transA", 0):
            continue
        a, b = node.input[0], node.input[1]
        if attrs.get("transB", 0):
            weight = numpy_helper.to_array(initializers[b])
            b = f"{b}.t"
            graph.initializer.append(numpy_helper.from_array(np.ascontiguousarray(weight.T), b))
        index = list(graph.node).index(node)
        matmul_out = f"{node.output[0]}.matmul"
        new_nodes = [helper.make_node("MatMul", [a, b], [matmul_out], name=f"{node.name}.MatMul")]
        if len(node.input) > 2:
            new_nodes.append(helper.make_node("Add", [matmul_out, node.input[2]], list(node.output),
                                              name=f"{node.name}.Add"))
        else:
            new_nodes[0].output[:] = list(node.output)
        graph.node.remove(node)
        for offset, new in enumerate(new_nodes):
            graph.node.insert(index + offset, new)
    onnx.save(model, str(out_file))


def quantize_int8(in_file: Path, out_file: Path) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with quiet():
        quantize_dynamic(str(in_file), str(out_file), weight_type=QuantType.QInt8,
                         # the fused graph has contrib ops whose output types ORT can't infer
                         extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})


def quantize_q4(in_file: Path, out_file: Path) -> None:
    import onnx
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    quantizer = MatMulNBitsQuantizer(onnx.load(str(in_file)), block_size=Q4_BLOCK_SIZE,
                                     is_symmetric=True, accuracy_level=4)
    quantizer.process()
    quantizer.model.save_model_to_file(str(out_file))
