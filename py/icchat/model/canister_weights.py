"""The gpt2 canister's weight file (format in docs/canister-weights.md).

One little-endian file: a 256-byte header, a table of 64-byte tensor entries, then the tensors,
each starting on a 64-byte boundary so the C forward pass can use aligned SIMD loads. Tensors
follow llm.c's parameter order, with every matmul weight laid out [out][in] so a dot-product
kernel streams rows. In the q8 file the five matmul weights (wte doubles as the LM head) are
int8 with one f32 scale per output row, stored in a companion tensor named `<name>.scale`.
The header also names the model's end-of-text token (eos_token_id), which ends a reply.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from icchat.chat.tokenizer import GPT2_EOS_ID  # what a header without eos_token_id (0) means
from icchat.model.source import Dimensions

MAGIC = b"ICGPT2W\0"
VERSION = 1
HEADER_SIZE = 256
ENTRY_SIZE = 64
ALIGN = 64
VOCAB_PAD = 128  # padded vocabulary rows (zeros), as llm.c: whole SIMD blocks in the LM head
DTYPES = {"f32": 0, "q8": 1}
TENSOR_DTYPES = {0: np.dtype("<f4"), 1: np.dtype("i1")}
# header: magic, version, file dtype, n_layer, n_head, n_embd, n_ctx, vocab, padded vocab,
# n_tensors, alignment, table offset, data offset, file size, eos token id (in what was padding:
# files written before it read 0, meaning GPT2_EOS_ID)
HEADER = struct.Struct("<8s10I3QI")
# entry: name, dtype, ndim, shape[4], offset
ENTRY = struct.Struct("<32s2I4IQ")
MATMUL_WEIGHTS = ("wte", "qkvw", "attprojw", "fcw", "fcprojw")


def padded_vocab(vocab_size: int) -> int:
    return -(-vocab_size // VOCAB_PAD) * VOCAB_PAD


def llmc_tensors(state: dict[str, np.ndarray], dims: Dimensions) -> dict[str, np.ndarray]:
    """HF GPT2LMHeadModel weights -> llm.c's named, stacked tensors ([out][in] matmuls)."""
    L, Vp = dims.n_layer, padded_vocab(dims.vocab_size)

    def layers(suffix: str, transpose: bool = False) -> np.ndarray:
        rows = [state[f"transformer.h.{i}.{suffix}"] for i in range(L)]
        return np.stack([r.T if transpose else r for r in rows])

    wte = np.zeros((Vp, dims.n_embd), np.float32)
    wte[: dims.vocab_size] = state["transformer.wte.weight"]
    # HF's Conv1D stores [in][out]; transpose to [out][in].
    return {
        "wte": wte,
        "wpe": state["transformer.wpe.weight"],
        "ln1w": layers("ln_1.weight"), "ln1b": layers("ln_1.bias"),
        "qkvw": layers("attn.c_attn.weight", True), "qkvb": layers("attn.c_attn.bias"),
        "attprojw": layers("attn.c_proj.weight", True), "attprojb": layers("attn.c_proj.bias"),
        "ln2w": layers("ln_2.weight"), "ln2b": layers("ln_2.bias"),
        "fcw": layers("mlp.c_fc.weight", True), "fcb": layers("mlp.c_fc.bias"),
        "fcprojw": layers("mlp.c_proj.weight", True), "fcprojb": layers("mlp.c_proj.bias"),
        "lnfw": state["transformer.ln_f.weight"], "lnfb": state["transformer.ln_f.bias"],
    }


def quantize_rows(weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 per output row (last axis is the input): w ≈ q * scale[..., None]."""
    absmax = np.abs(weight).max(axis=-1)
    scale = (absmax / 127.0).astype(np.float32)
    safe = np.where(scale == 0, 1.0, scale)
    q = np.clip(np.rint(weight / safe[..., None]), -127, 127).astype(np.int8)
    return q, scale


def write_weights(path: Path, state: dict[str, np.ndarray], dims: Dimensions, dtype: str,
                  eos_token_id: int | None = GPT2_EOS_ID) -> None:
    """eos_token_id: the HF config's, the token that ends a reply (None, as a config without one
    says: GPT-2's). A token of the vocabulary but 0 (a header's 0 means GPT-2's), or GPT-2's own
    (allowed past a test model's small vocabulary: it never comes up there)."""
    if eos_token_id is None:
        eos_token_id = GPT2_EOS_ID
    if eos_token_id != GPT2_EOS_ID and not 0 < eos_token_id < dims.vocab_size:
        raise ValueError(f"eos_token_id {eos_token_id} is not a token of the {dims.vocab_size}-token "
                         f"vocabulary, or 0 (which a header cannot record: 0 means {GPT2_EOS_ID})")
    tensors = llmc_tensors({k: np.asarray(v, np.float32) for k, v in state.items()}, dims)
    if dtype == "q8":
        quantized: dict[str, np.ndarray] = {}
        for name, tensor in tensors.items():
            if name in MATMUL_WEIGHTS:
                quantized[name], quantized[f"{name}.scale"] = quantize_rows(tensor)
            else:
                quantized[name] = tensor
        tensors = quantized
    elif dtype != "f32":
        raise ValueError(f"unknown canister weight dtype {dtype!r}")

    table_end = HEADER_SIZE + ENTRY_SIZE * len(tensors)
    offset = data_offset = _align(table_end)
    entries = []
    for name, tensor in tensors.items():
        code = 1 if tensor.dtype == np.int8 else 0
        shape = list(tensor.shape) + [1] * (4 - tensor.ndim)
        entries.append(ENTRY.pack(name.encode(), code, tensor.ndim, *shape, offset))
        offset = _align(offset + tensor.nbytes)
    header = HEADER.pack(MAGIC, VERSION, DTYPES[dtype], dims.n_layer, dims.n_head, dims.n_embd,
                         dims.n_ctx, dims.vocab_size, padded_vocab(dims.vocab_size),
                         len(tensors), ALIGN, HEADER_SIZE, data_offset, offset, eos_token_id)
    with path.open("wb") as f:
        f.write(header.ljust(HEADER_SIZE, b"\0"))
        f.write(b"".join(entries))
        for tensor in tensors.values():
            _pad_to(f, _align(f.tell()))
            f.write(np.ascontiguousarray(tensor).astype(tensor.dtype.newbyteorder("<")).tobytes())
        _pad_to(f, offset)


@dataclass
class CanisterWeights:
    dtype: str
    dims: Dimensions
    padded_vocab: int
    tensors: dict[str, np.ndarray] = field(repr=False)
    eos_token_id: int = GPT2_EOS_ID

    def weight(self, name: str) -> np.ndarray:
        """A tensor as float32 (int8 weights multiplied back by their row scales)."""
        tensor = self.tensors[name]
        if tensor.dtype == np.int8:
            return tensor.astype(np.float32) * self.tensors[f"{name}.scale"][..., None]
        return tensor


class WeightFileError(ValueError):
    pass


def read_weights(path: Path) -> CanisterWeights:
    """Parse and check a weight file (memory-mapped; nothing is copied until used)."""
    data = np.memmap(path, dtype=np.uint8, mode="r")
    if len(data) < HEADER_SIZE:
        raise WeightFileError(f"{path}: too short for a weight file header")
    (magic, version, dtype_code, n_layer, n_head, n_embd, n_ctx, vocab, vocab_padded, n_tensors,
     align, table_offset, _data_offset, file_size, eos) = HEADER.unpack_from(data, 0)
    if magic != MAGIC:
        raise WeightFileError(f"{path}: not a gpt2 canister weight file (magic {magic!r})")
    if version != VERSION:
        raise WeightFileError(f"{path}: format version {version}, this reader knows {VERSION}")
    if file_size != len(data):
        raise WeightFileError(f"{path}: header says {file_size} bytes, file has {len(data)}")
    dtype = {v: k for k, v in DTYPES.items()}.get(dtype_code)
    if dtype is None:
        raise WeightFileError(f"{path}: unknown dtype code {dtype_code}")
    tensors: dict[str, np.ndarray] = {}
    for i in range(n_tensors):
        raw_name, code, ndim, *rest = ENTRY.unpack_from(data, table_offset + i * ENTRY_SIZE)
        shape, offset = tuple(rest[:ndim]), rest[4]
        np_dtype = TENSOR_DTYPES.get(code)
        count = int(np.prod(shape))
        if np_dtype is None or offset % align or offset + count * np_dtype.itemsize > file_size:
            raise WeightFileError(f"{path}: bad table entry {i}")
        name = raw_name.rstrip(b"\0").decode()
        tensors[name] = np.frombuffer(data, np_dtype, count, offset).reshape(shape)
    return CanisterWeights(dtype, Dimensions(n_layer, n_head, n_embd, n_ctx, vocab),
                           vocab_padded, tensors, eos or GPT2_EOS_ID)


def describe(weights: CanisterWeights) -> dict[str, Any]:
    return {name: {"dtype": str(t.dtype), "shape": list(t.shape)} for name, t in weights.tensors.items()}


def _align(n: int) -> int:
    return -(-n // ALIGN) * ALIGN


def _pad_to(f: BinaryIO, position: int) -> None:
    f.write(b"\0" * (position - f.tell()))
