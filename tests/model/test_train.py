"""The demo model's trainer on a tiny configuration (1 layer x 64 wide, a few hundred chats):
it learns, it is reproducible, it resumes, and it exports a normal bundle. Never the demo preset."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest

from icchat.chat.conversation import Conversation, Message
from icchat.chat.runtime import ChatRuntime
from icchat.chat.template import ChatTemplate
from icchat.chat.tokenizer import GPT2Tokenizer
from icchat.errors import UserError
from icchat.model import compact_gpt2, corpus, train
from icchat.model.manifest import verify_bundle
from icchat.model.vocab import ensure_tokenizer_dir

TINY = train.TrainConfig(n_layer=1, n_head=2, n_embd=64, block=64, batch=4, steps=30, warmup=5,
                         lr=3e-3, keep_vocab=2048, max_chats=300, checkpoint_every=10, threads=1,
                         compile=False)  # compiling costs more than these runs (one test compiles)

RAW = {
    "b-chat": {"messages": [[{"text": "hi there", "sender": "x"}, {"text": " how are  you?", "sender": "x"}],
                            [{"text": "good, you?", "sender": "y"}], [{"text": "", "sender": "x"}],
                            [{"text": "fine", "sender": "x"}]]},
    "a-chat": {"messages": [[{"text": "alone", "sender": "x"}]]},
}


def test_reader_joins_runs_alternates_roles_and_skips_monologues():
    chats = corpus.read_chats(RAW)
    assert [c.id for c in chats] == ["b-chat"]  # a one-turn chat is not a conversation
    assert chats[0].turns == (("user", "hi there how are you?"), ("assistant", "good, you?"),
                              ("user", "fine"))


def test_training_text_is_the_pages_prompt_format():
    chat = corpus.read_chats(RAW)[0]
    text = corpus.document_text(chat)
    assert text == "User: hi there how are you?\nAssistant: good, you?\nUser: fine\n"
    # the page's runtime builds its prompt from the same turns, token for token
    tokenizer = GPT2Tokenizer.from_dir(ensure_tokenizer_dir())
    conversation = Conversation([Message("user", "hi there how are you?")])
    prompt = ChatRuntime(tokenizer, ChatTemplate()).build_prompt(conversation, 64, 8).tokens
    stream = list(corpus.token_stream([chat]))
    assert stream[:len(prompt)] == prompt  # <|endoftext|>, the user turn, then "Assistant:"
    assert stream[0] == corpus.EOT_ID and stream.count(corpus.EOT_ID) == 1


def test_split_is_stable_disjoint_and_near_the_fraction():
    chats, _ = corpus.load_chats()
    train_chats, val_chats = corpus.split(chats, 0.05)
    assert len(train_chats) + len(val_chats) == len(chats)
    assert not {c.id for c in train_chats} & {c.id for c in val_chats}
    assert 0.03 < len(val_chats) / len(chats) < 0.07
    again = corpus.split(list(reversed(chats)), 0.05)[1]
    assert sorted(c.id for c in again) == sorted(c.id for c in val_chats)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    work = tmp_path_factory.mktemp("train")
    model, vocab, data, record = train.train(TINY, work, log=lambda _: None)
    return work, model, vocab, data, record


def test_training_lowers_the_loss(run):
    *_, record = run
    losses = record["losses"]
    assert len(losses) == TINY.steps
    assert np.mean(losses[-5:]) < np.mean(losses[:5]) - 1.0


def test_same_seed_same_run_other_seed_other_run(run, tmp_path):
    *_, record = run
    _, _, _, again = train.train(TINY, tmp_path / "a", log=lambda _: None)
    assert again["losses"] == record["losses"]
    _, _, _, other = train.train(dataclasses.replace(TINY, seed=1), tmp_path / "b", log=lambda _: None)
    assert other["losses"] != record["losses"]


def test_an_interrupted_run_resumes_to_the_same_result(run, tmp_path):
    import torch

    _, model, _, _, record = run
    messages: list[str] = []
    train.train(TINY, tmp_path, log=messages.append, stop_after=13)
    resumed, _, _, again = train.train(TINY, tmp_path, log=messages.append)
    assert any("resuming from the checkpoint at step 13" in m for m in messages)
    assert again["losses"] == record["losses"]
    for (name, a), b in zip(model.state_dict().items(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


def test_the_full_gpt2_defines_the_trained_distribution(run):
    """The exported 50,257-row model gives the validation tokens the loss the compact one
    reports, rest-class tokens included (so the reported perplexity is the bundle's)."""
    import torch

    _, model, vocab, data, _ = run
    full = compact_gpt2.full_model(model, vocab)
    assert full.config.vocab_size == 50257
    ids = data.validation[:TINY.block + 1]
    assert (vocab(ids) == vocab.rest).any()
    with torch.no_grad():
        logits = full(torch.from_numpy(ids[None, :-1])).logits[0]
        expected = float(torch.nn.functional.cross_entropy(logits, torch.from_numpy(ids[1:])))
    compact = train.evaluate(model, vocab, ids, TINY, train._rest_offset(vocab))
    assert math.isclose(compact, expected, rel_tol=1e-4)


def test_plain_adamw_trains_too(tmp_path):
    _, _, _, record = train.train(dataclasses.replace(TINY, optimizer="adamw"), tmp_path, log=lambda _: None)
    assert np.mean(record["losses"][-5:]) < np.mean(record["losses"][:5]) - 1.0
    with pytest.raises(UserError, match="not adamw or muon"):
        train.train(dataclasses.replace(TINY, optimizer="sgd"), tmp_path / "x", log=lambda _: None)


@pytest.mark.parametrize("precision", ["f32", "bf16"])
def test_f32_and_bf16_matrix_products_both_train(tmp_path, precision):
    config = dataclasses.replace(TINY, precision=precision)
    assert train.matmul_precision(config) == precision
    _, _, _, record = train.train(config, tmp_path, log=lambda _: None)
    assert np.mean(record["losses"][-5:]) < np.mean(record["losses"][:5]) - 1.0


def test_a_compiled_loss_trains_like_the_eager_one(tmp_path):
    eager = train.train(TINY, tmp_path / "eager", log=lambda _: None)[3]["losses"]
    said: list[str] = []
    compiled = train.train(dataclasses.replace(TINY, compile=True), tmp_path / "compiled", log=said.append)[3]["losses"]
    assert not any("torch.compile is not available" in line for line in said), said  # this machine compiles
    # the same start; fused kernels round differently, so the runs drift apart a little, no more
    assert math.isclose(compiled[0], eager[0], rel_tol=1e-3)
    assert abs(np.mean(compiled[-5:]) - np.mean(eager[-5:])) < 0.1, (compiled[-5:], eager[-5:])


def test_auto_precision_follows_the_cpu_and_a_typo_is_refused():
    flags = Path("/proc/cpuinfo").read_text()
    expected = "bf16" if " avx512_bf16" in flags or " amx_bf16" in flags else "f32"
    assert train.matmul_precision(TINY) == expected
    with pytest.raises(UserError, match="not auto, bf16 or f32"):
        train.matmul_precision(dataclasses.replace(TINY, precision="fp16"))


def test_muon_update_is_orthogonal():
    import torch

    from icchat.model.muon import orthogonalize

    generator = torch.Generator().manual_seed(0)
    for shape in ((64, 192), (192, 64), (32, 256)):  # well-conditioned; tiny singular values converge slower
        update = torch.randn(shape, generator=generator) * 7.0  # any scale: it is normalized first
        singular = torch.linalg.svdvals(orthogonalize(update))
        assert orthogonalize(update).shape == shape
        assert float(singular.min()) > 0.5 and float(singular.max()) < 1.3, (shape, singular)


def test_sliding_windows_score_every_token_once_with_half_a_window_of_context():
    for n in range(1, 50):
        for block in (4, 5, 8, 16):
            block = min(block, n)
            windows = train.sliding_windows(n, block)
            scored = [p for start, first in windows for p in range(first, start + block)]
            assert scored == list(range(n)), (n, block, windows)
            assert all(start == 0 or first - start >= block // 2 for start, first in windows)
            assert all(0 <= start <= n - block for start, _ in windows)


def test_validation_scores_each_token_in_its_window_with_context(run):
    """Every held-out token's loss comes from the window that gives it >= block/2 tokens of
    context (the model run on exactly that window), not from a fresh start every block."""
    import torch

    _, model, vocab, data, _ = run
    block, half = TINY.block, TINY.block // 2
    ids = data.validation[:2 * block + 1]
    offset = train._rest_offset(vocab)
    losses, rest = train.validation_losses(model, vocab, ids, TINY, offset)
    compact = vocab(ids)
    expected = []
    with torch.no_grad():
        for start, first in ((0, 0), (half, block), (block, block + half)):
            x = torch.from_numpy(compact[None, start:start + block])
            y = torch.from_numpy(compact[None, start + 1:start + block + 1])
            expected += train.token_losses(model, x, y, offset)[0, first - start:].tolist()
    np.testing.assert_allclose(losses, expected, rtol=1e-5)
    assert list(rest) == list(compact[1:] == vocab.rest)
    assert math.isclose(train.evaluate(model, vocab, ids, TINY, offset), float(np.mean(expected)), rel_tol=1e-6)


def test_trained_bundle_verifies_and_records_its_provenance(tmp_path):
    result = train.train_bundle(tmp_path / "bundle", dataclasses.replace(TINY, steps=10),
                                log=lambda _: None, variants=("f32",))
    manifest = verify_bundle(result.out)
    training = manifest["provenance"]["training"]
    assert manifest["provenance"]["source"] == "trained"
    assert training["corpus"][0]["name"] == "chitchat-dataset==0.9.0"
    assert training["corpus"][0]["license"] == "MIT"
    assert training["corpus"][0]["sha256"] == corpus.load_chats()[1]
    assert training["steps"] == 10 and training["tokens"] == 10 * TINY.batch * TINY.block
    assert math.isclose(training["validation_perplexity"], result.val_perplexity, rel_tol=1e-3)
    assert training["validation_method"].startswith("sliding windows")
    assert 0 < training["validation_rest_fraction"] < 0.5
    assert json.loads((result.out / "config.json").read_text())["vocab_size"] == 50257
    with pytest.raises(UserError, match="already exists"):
        train.train_bundle(result.out, TINY, log=lambda _: None)
