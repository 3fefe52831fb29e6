"""A GPT-2 of another vocabulary and context — 50,260 tokens (three added after GPT-2's 50,257, as
an Alpaca GPT-2 has) and 512 positions — and an end-of-text token other than 50256, on the icchat
engine (icchat-engine.wasm in wasmtime) and in the real gpt2 canister in the replica: the same
logits and greedy tokens, the weight file's eos ends a reply on both, and what does not fit 512
positions is refused (or trimmed by the chat) the way 1,024 is for GPT-2."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from engine_wasmtime import WasmtimeEngine
from test_engine_wasm import collect, run_async

from icchat.build.engine import build_engine_wasm, build_sampler_wasm
from icchat.build.gpt2 import build_gpt2_wasm
from icchat.chat import GPT2Tokenizer, SettingsError
from icchat.chat.backend import BackendError
from icchat.chat.device import DeviceBackend
from icchat.chat.settings import Settings
from icchat.chat.worker import ChatWorker
from icchat.gpt2_canister import Gpt2Canister
from icchat.model.canister_weights import padded_vocab, read_weights, write_weights
from icchat.model.export import export_bundle
from icchat.model.source import Dimensions, random_model
from icchat.model.vocab import ensure_tokenizer_dir
from icchat.replica import Reject, Replica

HERE = Path(__file__).parent

# A test-local shape (not a preset): tiny's widths, an Alpaca GPT-2's vocabulary, half GPT-2's context.
SHAPE = {"n_layer": 2, "n_head": 4, "n_embd": 128, "n_positions": 512, "vocab_size": 50260}
N_CTX, VOCAB = SHAPE["n_positions"], SHAPE["vocab_size"]
ADDED_EOS = 50259  # the last added token: what the plain files name as their eos
PROMPT = [15496, 11, 616, 50257, 1438, 318, 50258, 257, 1332, 286, 13]  # added tokens among GPT-2's


def f32_bits(values) -> bytes:
    return struct.pack(f"<{len(values)}f", *values)


@pytest.fixture(scope="module")
def model():
    return random_model("any-shape", 0, SHAPE)


@pytest.fixture(scope="module")
def state(model) -> dict:
    return {name: tensor.detach().numpy() for name, tensor in model.state_dict().items()}


def weight_file(directory: Path, state: dict, dtype: str, eos: int) -> Path:
    path = directory / f"any-shape-{dtype}-eos{eos}.bin"
    write_weights(path, state, Dimensions(2, 4, 128, N_CTX, VOCAB), dtype, eos)
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory, state) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("any-shape")
    return {dtype: weight_file(directory, state, dtype, ADDED_EOS) for dtype in ("f32", "q8")}


@pytest.fixture(scope="module")
def engine_wasm() -> Path:
    return build_engine_wasm(relaxed=False)


@pytest.fixture(scope="module")
def replica():
    with Replica() as running:
        yield running


@pytest.fixture(scope="module")
def gpt2_wasm() -> bytes:
    return build_gpt2_wasm().read_bytes()


def serve(replica, gpt2_wasm: bytes, path: Path) -> Gpt2Canister:
    canister = Gpt2Canister.install(replica, gpt2_wasm)
    canister.upload(path)
    return canister


@pytest.fixture(scope="module")
def canisters(replica, gpt2_wasm, files) -> dict[str, Gpt2Canister]:
    return {dtype: serve(replica, gpt2_wasm, path) for dtype, path in files.items()}


def test_the_header_records_the_shape_and_the_eos(files):
    weights = read_weights(files["q8"])
    assert (weights.dims.n_ctx, weights.dims.vocab_size, weights.padded_vocab) == (512, 50260, 50304)
    assert padded_vocab(50260) == 50304 and weights.eos_token_id == ADDED_EOS
    assert weights.tensors["wpe"].shape == (512, 128) and weights.tensors["wte"].shape == (50304, 128)


def test_a_file_without_an_eos_means_gpt2s(tmp_path, files):
    data = bytearray(files["q8"].read_bytes())
    data[72:76] = bytes(4)  # as written before the field existed
    (tmp_path / "old.bin").write_bytes(data)
    assert read_weights(tmp_path / "old.bin").eos_token_id == 50256


def test_an_eos_outside_the_vocabulary_is_refused(tmp_path, state, engine_wasm):
    with pytest.raises(ValueError, match="eos_token_id 50260 is not a token of the 50260-token vocabulary"):
        weight_file(tmp_path, state, "q8", VOCAB)
    data = bytearray(weight_file(tmp_path, state, "q8", ADDED_EOS).read_bytes())
    data[72:76] = VOCAB.to_bytes(4, "little")  # a header the writer would not write
    with pytest.raises(ValueError, match="eos_token_id 50260 is outside the vocabulary"):
        WasmtimeEngine(engine_wasm, bytes(data))


@pytest.mark.parametrize("dtype", ["f32", "q8"])
def test_the_engine_and_the_canister_serve_the_shape(engine_wasm, files, canisters, dtype):
    engine = WasmtimeEngine(engine_wasm, files[dtype].read_bytes())
    assert {k: engine.info[k] for k in ("n_ctx", "vocab_size", "eos_token_id")} == {
        "n_ctx": 512, "vocab_size": 50260, "eos_token_id": ADDED_EOS}
    info = canisters[dtype].model_info()
    assert (info["n_ctx"], info["vocab_size"]) == (512, 50260)
    engine.forward(PROMPT, 0)
    logits = engine.logits()
    assert len(logits) == VOCAB and f32_bits(logits) == f32_bits(canisters[dtype].logits(PROMPT))
    # the added tokens' rows are real rows: their logits are not the padding's zeros
    assert all(logits[i] != 0.0 for i in range(50257, VOCAB))


@pytest.mark.parametrize("dtype", ["f32", "q8"])
def test_greedy_tokens_are_the_same_on_the_engine_and_onchain(engine_wasm, files, canisters, dtype):
    backend = DeviceBackend(WasmtimeEngine(engine_wasm, files[dtype].read_bytes()), n_ctx=N_CTX)
    tokens = run_async(collect(backend, PROMPT, Settings(temperature=0.0, max_new_tokens=12), 12))
    reply = canisters[dtype].generate(PROMPT, max_new_tokens=12, temperature=0.0, stop=[])
    assert tokens == list(reply["tokens"]) and len(tokens) == 12


def test_the_models_eos_ends_a_reply_on_both(tmp_path, state, engine_wasm, files, canisters, replica, gpt2_wasm):
    sampling = {"temperature": 1.0, "top_k": 0, "top_p": 1.0, "seed": 7}  # varied tokens (greedy repeats one)
    first = canisters["q8"].generate(PROMPT, max_new_tokens=10, stop=[], **sampling)["tokens"]
    end = next(i for i in range(2, 10) if first[i] not in first[:i] and first[i] != 50256)
    eos_file = weight_file(tmp_path, state, "q8", first[end])  # the same model, another end of text
    canister = serve(replica, gpt2_wasm, eos_file)
    # no `stop` in the request: the canister stops at the weight file's eos
    for call in (canister.generate, canister.generate_query):
        reply = call(PROMPT, max_new_tokens=10, **sampling)
        assert reply["tokens"] == first[:end + 1] and reply["stop_reason"] == "stop_token"
    engine = WasmtimeEngine(engine_wasm, eos_file.read_bytes())
    assert engine.info["eos_token_id"] == first[end]
    backend = DeviceBackend(engine, n_ctx=N_CTX)
    settings = Settings(max_new_tokens=10, **sampling)
    assert run_async(collect(backend, PROMPT, settings, 10, stop=[engine.info["eos_token_id"]])) == first[:end + 1]


def test_what_does_not_fit_512_positions_is_refused(engine_wasm, files, canisters):
    canister = canisters["q8"]
    prompt = [(17 + 389 * i) % VOCAB for i in range(500)]
    reply = canister.generate(prompt, max_new_tokens=12, temperature=0.0, stop=[])
    assert len(reply["tokens"]) == 12  # up to position 511, the last one
    with pytest.raises(Reject, match="prompt \\(500 tokens\\) \\+ max_new_tokens \\(13\\) exceeds the context of 512 tokens"):
        canister.generate(prompt, max_new_tokens=13, stop=[])
    with pytest.raises(Reject, match="token id 50260 at position 0 is outside the vocabulary \\(50260 tokens\\)"):
        canister.generate([VOCAB], max_new_tokens=1)
    engine = WasmtimeEngine(engine_wasm, files["q8"].read_bytes())
    backend = DeviceBackend(engine, n_ctx=engine.info["n_ctx"])
    tokens = run_async(collect(backend, prompt, Settings(temperature=0.0, max_new_tokens=12), 12))
    assert tokens == list(reply["tokens"])
    with pytest.raises(BackendError, match="exceeds the context of 512"):
        run_async(collect(backend, prompt, Settings(max_new_tokens=13), 13))
    with pytest.raises(ValueError, match="513 tokens at position 0 do not fit the context of 512"):
        engine.forward([1] * 513, 0)
    with pytest.raises(ValueError, match="token id 50260 is outside the vocabulary \\(50260 tokens\\)"):
        engine.forward([VOCAB], 0)


def test_the_chat_trims_to_512_and_bounds_top_k_by_the_vocabulary(engine_wasm, files):
    chat = ChatWorker(GPT2Tokenizer.from_dir(ensure_tokenizer_dir()), N_CTX, vocab_size=VOCAB)
    chat.use_engine(WasmtimeEngine(engine_wasm, files["q8"].read_bytes()))
    settings = {"temperature": 0.8, "top_k": VOCAB, "top_p": 0.95, "max_new_tokens": 24, "seed": 7}
    long = {"messages": [{"role": "user", "text": "word " * 800}]}  # > 512 tokens

    async def replies(conversation: dict, settings: dict) -> list[dict]:
        return [m async for m in chat.reply("r1", conversation, settings, "device")]

    done = run_async(replies(long, settings))[-1]
    assert done["type"] == "done" and done["trimmed_tokens"] > 0
    assert done["stats"]["prompt_tokens"] + 24 <= N_CTX < done["stats"]["prompt_tokens"] + done["trimmed_tokens"] + 24
    with pytest.raises(SettingsError, match="top_k must be between 0 and 50260, got 50261"):
        run_async(replies(long, {**settings, "top_k": VOCAB + 1}))


def test_onnxruntime_web_runs_the_shape_like_the_icchat_engine(tmp_path, model):
    """The ONNX path: the model exported as a bundle (f32) from its Hugging Face directory."""
    node = shutil.which("node")
    assert node, "node is needed for the page's JavaScript tests"
    model.config.eos_token_id = ADDED_EOS  # the config's end of text reaches the canister's weight file
    model.save_pretrained(tmp_path / "hf")
    bundle = export_bundle(tmp_path / "bundle", pretrained=str(tmp_path / "hf"), variants=["f32"], log=lambda _: None)
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["model"]["eos_token_id"] == ADDED_EOS
    assert read_weights(bundle / "canister" / "gpt2-f32.bin").eos_token_id == ADDED_EOS
    done = subprocess.run([node, "--test", str(HERE / "ort_any_shape.test.mjs")], capture_output=True, text=True,
                          timeout=600, env={**os.environ, "BUNDLE": str(bundle), "ENGINE_WASM": str(build_engine_wasm()),
                                            "SAMPLER_WASM": str(build_sampler_wasm())})
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "# fail 0" in done.stdout and "# pass 2" in done.stdout
