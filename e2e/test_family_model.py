"""A GPT-2-family model on the real page: the gpt2-alpaca stand-in (icchat.model.source's seeded
checkpoint: a vocabulary of 50,260 with added tokens, the Alpaca format, GPT-2's width, 2 layers,
a 128-token context), exported from its checkpoint directory and deployed as `icchat up --model`
does (the gpt2 canister runs q8, the icchat engine runs the same file on the device). The page
says the model's name, license and source, answers greedily with the same token ids on the device
and onchain fast, and answers a message that contains the literal text <|endoftext|>."""

from __future__ import annotations

import pytest
from replica_stack import ReplicaStack
from test_chat_page import ChatPage
from test_model_switch import answer_data, switch

from icchat.model.export import export_bundle
from icchat.model.source import save_seeded_checkpoint

PRESET = "gpt2-alpaca"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return save_seeded_checkpoint(PRESET, 0, tmp_path_factory.mktemp("family") / PRESET, n_layer=2)


@pytest.fixture(scope="module")
def stack(tmp_path_factory, checkpoint):
    bundle = export_bundle(checkpoint.parent / "bundle", pretrained=str(checkpoint), variants=["f32"], n_ctx=128,
                           log=lambda _: None)
    running = ReplicaStack(bundle, tmp_path_factory.mktemp("family-stack"), onchain_dtype="q8").start()
    try:
        yield running
    finally:
        running.stop()


def test_the_page_runs_an_alpaca_gpt2_and_says_what_it_is(browser, stack, checkpoint, artifacts):
    context = browser.new_context(viewport={"width": 1200, "height": 820})
    try:
        chat = ChatPage(context, stack, engine="icchat").open()
        assert chat.state() == "ready", chat.page.text_content("#error-text")
        origin = f"{PRESET} · license unknown · from {checkpoint.resolve()}"
        assert chat.page.text_content("#about").startswith(f"{origin} · Model manifest SHA-256"), \
            chat.page.text_content("#about")
        assert chat.page.get_attribute("#model-label", "title").startswith(f"{origin}, ")
        assert chat.page.evaluate("document.querySelector('#about').dataset.engine") == "icchat"

        chat.settings(temperature=0, max_new_tokens=16)
        answers = {}
        for backend in ("device", "onchain-fast"):
            chat.new_chat()
            switch(chat, backend)
            chat.ask("Name three colours.")
            answers[backend] = answer_data(chat)
            assert answers[backend]["origin"] == backend, answers[backend]
        chat.shot(artifacts, "family-01-alpaca-onchain")
        assert answers["device"]["tokenIds"] and answers["device"]["tokenIds"] == answers["onchain-fast"]["tokenIds"], answers

        # <|endoftext|> typed by the user is text, not the end of the turn: it is answered
        switch(chat, "device")
        chat.new_chat()
        typed = "What does <|endoftext|> mean in a prompt?"
        chat.ask(typed)
        answer = answer_data(chat)
        chat.shot(artifacts, "family-02-alpaca-endoftext")
        assert answer["origin"] == "device" and answer["tokens"] > 0 and answer["stopReason"] != "error", answer
        shown = chat.page.locator("#messages .msg.user .text").last.text_content()
        assert shown == typed
        assert chat.errors == []
    finally:
        context.close()
