"""Uploading weights to the gpt2 canister: chunked and hash-checked, controllers only, and every
mistake is a one-line reject that leaves the served model alone."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from icchat.gpt2_canister import Gpt2Canister
from icchat.ic import candid
from icchat.ic.principal import Principal
from icchat.model.source import PRESETS
from icchat.replica import Reject

STRANGER = Principal.self_authenticating(b"not a controller")


def rejected(call, *args, **kwargs) -> str:
    with pytest.raises(Reject) as failure:
        call(*args, **kwargs)
    return failure.value.message


def begin(canister: Gpt2Canister, data: bytes, digest: bytes | None = None) -> dict:
    return canister._update("upload_begin", "(UploadBegin)", [{"size": len(data), "sha256": digest or hashlib.sha256(data).digest()}],
                            "(UploadProgress)")


def commit(canister: Gpt2Canister) -> dict:
    return canister._update("upload_commit", "()", [], "(ModelInfo)")


def test_upload_in_chunks_with_progress(fresh, tiny_q8):
    assert fresh.model_info() is None
    seen = []
    info = fresh.upload(tiny_q8, progress=lambda done, total: seen.append((done, total)), chunk_bytes=1 << 20)
    size = tiny_q8.stat().st_size
    assert seen[-1] == (size, size) and len(seen) == -(-size // (1 << 20))
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    tiny = PRESETS["tiny"]
    assert (info["n_layer"], info["n_head"], info["n_embd"], info["vocab_size"]) == (
        tiny["n_layer"], tiny["n_head"], tiny["n_embd"], tiny["vocab_size"])
    assert info["dtype"] == "q8" and info["bytes"] == size
    assert info["sha256"] == hashlib.sha256(tiny_q8.read_bytes()).digest()
    assert fresh.model_info() == info


def test_only_controllers_upload(fresh, tiny_q8):
    stranger = Gpt2Canister(fresh.replica, fresh.id, sender=STRANGER)
    assert rejected(begin, stranger, b"x" * 300) == "only a controller of this canister can upload weights"
    assert rejected(stranger.upload_chunk, 0, b"x") == "only a controller of this canister can upload weights"


def test_upload_mistakes_are_rejected_and_the_served_model_stays(fresh, tiny_q8, tiny_f32):
    fresh.upload(tiny_q8)
    served = fresh.model_info()
    logits = fresh.logits([464, 3290])
    data = tiny_f32.read_bytes()

    assert rejected(fresh.upload_chunk, 0, data[:100]) == "no upload in progress: call upload_begin first"
    assert begin(fresh, data) == {"received": 0, "size": len(data)}
    fresh.upload_chunk(0, data[:1000])
    assert rejected(fresh.upload_chunk, 0, data[:1000]) == "expected offset 1000, got 0"
    assert fresh.upload_progress() == {"received": 1000, "size": len(data)}
    assert rejected(commit, fresh) == f"upload incomplete: 1000 of {len(data)} bytes received"
    begin(fresh, data[:5000])
    assert rejected(fresh.upload_chunk, 0, data[:6000]) == (
        "chunk of 6000 bytes at offset 0 runs past the declared size of 5000 bytes")

    wrong = hashlib.sha256(b"something else").digest()
    begin(fresh, data, wrong)
    for offset in range(0, len(data), 1 << 20):
        fresh.upload_chunk(offset, data[offset:offset + (1 << 20)])
    message = rejected(commit, fresh)
    assert message == f"sha256 mismatch: expected {wrong.hex()}, got {hashlib.sha256(data).hexdigest()}"

    corrupt = b"NOTGPT2\0" + data[8:20000]
    begin(fresh, corrupt)
    fresh.upload_chunk(0, corrupt)
    assert rejected(commit, fresh) == "invalid weight file: not a gpt2 canister weight file (bad magic)"

    assert rejected(begin, fresh, b"tiny") == "weight file size must be between 256 bytes and 2147418112 bytes, got 4"
    assert fresh.model_info() == served and fresh.logits([464, 3290]) == logits


def test_inference_input_errors(fresh, tiny_q8):
    assert rejected(fresh.generate, [464]) == "no model: upload weights first"
    assert rejected(fresh.logits, [464]) == "no model: upload weights first"
    fresh.upload(tiny_q8)
    assert rejected(fresh.generate, []) == "the prompt is empty: give at least one token"
    assert rejected(fresh.generate, [1, 50257]) == "token id 50257 at position 1 is outside the vocabulary (50257 tokens)"
    assert rejected(fresh.generate, [1] * 1000, max_new_tokens=100) == (
        "prompt (1000 tokens) + max_new_tokens (100) exceeds the context of 1024 tokens")
    assert rejected(fresh.generate, [1] * 1025).startswith("invalid argument: vector longer than the limit of 1024")
    assert rejected(fresh.generate, [1], temperature=-1.0) == "temperature must be between 0 and 100"
    assert rejected(fresh.generate, [1], temperature=float("nan")) == "temperature must be between 0 and 100"
    wrong_type = candid.encode(candid.parse_types("(record { prompt : text })"), [{"prompt": "hello"}])
    message = rejected(fresh.replica.update, fresh.id, "generate", wrong_type)
    assert message == "invalid argument: expected vec at field `prompt`, got text"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.binary(max_size=64), st.binary(max_size=40).map(lambda b: b"DIDL" + b)))
def test_malformed_candid_is_an_invalid_argument_reject(fresh, data):
    message = rejected(fresh.replica.update, fresh.id, "upload_begin", data, sender=fresh.sender)
    assert message.startswith("invalid argument: ")


def test_the_model_survives_an_upgrade_and_not_a_reinstall(fresh, tiny_q8, gpt2_wasm):
    info = fresh.upload(tiny_q8)
    before = fresh.generate([464, 3290], max_new_tokens=5, stop=[])["tokens"]
    begin(fresh, b"x" * 1000)  # an upload in progress does not survive: it starts again
    fresh.replica.install_code(fresh.id, gpt2_wasm, mode="upgrade", sender=fresh.sender)
    assert fresh.model_info() == info
    assert fresh.generate([464, 3290], max_new_tokens=5, stop=[])["tokens"] == before
    assert fresh.upload_progress() == {"received": 0, "size": 0}
    fresh.replica.install_code(fresh.id, gpt2_wasm, mode="reinstall", sender=fresh.sender)
    assert fresh.model_info() is None
