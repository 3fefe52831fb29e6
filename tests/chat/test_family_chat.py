"""The GPT-2 family in the chat, end to end: the DialoGPT and Alpaca stand-ins
(icchat.model.source's seeded checkpoints: the real width, vocabulary, added tokens and chat
template, 2 layers, a 128-token context), exported, then a conversation answered greedily by
ChatWorker on the device (the icchat engine in wasmtime) and onchain-fast (the gpt2 canister in
the in-process replica) on the bundle's q8 weight file: the same tokens, the prompt in the model's
own format (the one transformers renders), and the reply ends at the model's eos.

So that a reply of seeded weights ends at the eos, each checkpoint's position embedding, at the
position of the reply's REPLY_TOKENS-th token, carries a large eos direction before the export:
the logits there pick the eos, whatever came before (earlier positions are untouched).
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from test_onchain import ReplicaGpt2Client

from icchat.build.engine import build_engine_wasm
from icchat.build.gpt2 import build_gpt2_wasm
from icchat.chat.conversation import Conversation, Message
from icchat.chat.worker import ChatWorker
from icchat.gpt2_canister import Gpt2Canister
from icchat.model.export import export_bundle
from icchat.model.source import save_seeded_checkpoint
from icchat.replica import Replica

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine"))
from engine_wasmtime import WasmtimeEngine  # tests/engine's runner of the real module

N_CTX = 128
REPLY_TOKENS = 6  # the eos is the 7th token of the reply
EOS = 50256
TURNS = ["Hello there, how are you today?", "Fine, thanks. And you?", "Tell me about canisters."]
CONVERSATION = {"messages": [{"role": "user", "text": TURNS[0]},
                             {"role": "assistant", "text": TURNS[1], "origin": "device"},
                             {"role": "user", "text": TURNS[2]}]}
EOS_TEXT_REPLY = {True: "What is <|endoftext|> for?<|endoftext|>",  # DialoGPT: the turn ends with the eos
                  False: "What is <|endoftext|> for?\n\n### Response:\n"}
GREEDY = {"temperature": 0.0, "top_k": 0, "top_p": 1.0, "max_new_tokens": 16, "seed": 1}


def expected_prompt(preset: str, hf: Any) -> list[int]:
    """The prompt as the model's own format has it, tokenized by transformers."""
    if preset == "dialogpt-small":  # its tokenizer_config's chat template: turns ended by <|endoftext|>
        assert hf.chat_template is not None
        text = "".join(f"{t}<|endoftext|>" for t in TURNS)
        messages = [{"role": ("user", "assistant")[i % 2], "content": t} for i, t in enumerate(TURNS)]
        assert hf.apply_chat_template(messages, tokenize=False, add_generation_prompt=True) == text
    else:  # gpt2-alpaca: no chat template, the Alpaca format
        text = (f"### Instruction:\n{TURNS[0]}\n\n### Response:\n{TURNS[1]}\n\n"
                f"### Instruction:\n{TURNS[2]}\n\n### Response:\n")
    return hf.encode(text)


@pytest.fixture(scope="module", params=["dialogpt-small", "gpt2-alpaca"])
def family(request, tmp_path_factory) -> tuple[Path, list[int]]:
    """(the preset's bundle, the prompt expected for CONVERSATION)."""
    import torch
    from transformers import AutoTokenizer, GPT2LMHeadModel

    preset = request.param
    root = tmp_path_factory.mktemp(preset)
    checkpoint = save_seeded_checkpoint(preset, 0, root / preset, n_layer=2)
    prompt = expected_prompt(preset, AutoTokenizer.from_pretrained(checkpoint))
    model = GPT2LMHeadModel.from_pretrained(checkpoint)
    with torch.no_grad():
        eos = model.transformer.wte.weight[EOS]
        model.transformer.wpe.weight[len(prompt) + REPLY_TOKENS - 1] += 100.0 * eos / eos.norm()
    model.save_pretrained(checkpoint, safe_serialization=True)
    bundle = export_bundle(root / "bundle", pretrained=str(checkpoint), variants=["f32"], n_ctx=N_CTX,
                           log=lambda _: None)
    return bundle, prompt


@pytest.fixture(scope="module")
def serve() -> Iterator[Callable[[Path], Gpt2Canister]]:
    """A new gpt2 canister in the module's replica, serving a weight file."""
    wasm = build_gpt2_wasm().read_bytes()
    with Replica() as replica:
        def serving(weights: Path) -> Gpt2Canister:
            canister = Gpt2Canister.install(replica, wasm)
            canister.upload(weights)
            return canister
        yield serving


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


async def reply(worker: ChatWorker, backend: str) -> list[dict[str, Any]]:
    return [m async for m in worker.reply("r1", CONVERSATION, GREEDY, backend)]


def test_a_family_model_answers_alike_on_the_device_and_onchain_in_its_own_format(family, serve):
    bundle, prompt = family
    manifest = json.loads((bundle / "manifest.json").read_text())
    worker = ChatWorker.from_bundle_files((bundle / "vocab.json").read_text(), (bundle / "merges.txt").read_text(),
                                          manifest)
    weights = bundle / "canister" / "gpt2-q8.bin"
    worker.use_engine(WasmtimeEngine(build_engine_wasm(relaxed=False), weights.read_bytes()))
    worker.use_onchain(ReplicaGpt2Client(serve(weights)), None)

    device = run(reply(worker, "device"))
    assert worker.backends["device"].fed[:len(prompt)] == prompt  # the prompt the worker built
    done = device[-1]
    assert done["type"] == "done" and done["stats"]["prompt_tokens"] == len(prompt), done
    tokens = [t for m in device if m["type"] == "delta" for t in m["tokens"]]
    assert done["stop_reason"] == "eot" and len(tokens) == REPLY_TOKENS + 1 and tokens[-1] == EOS
    assert EOS not in tokens[:-1] and done["text"] and "<|endoftext|>" not in done["text"]

    onchain = run(reply(worker, "onchain-fast"))
    assert onchain[-1]["type"] == "done" and onchain[-1]["origin"] == "onchain-fast", onchain[-1]
    assert [t for m in onchain if m["type"] == "delta" for t in m["tokens"]] == tokens
    assert (onchain[-1]["text"], onchain[-1]["stop_reason"]) == (done["text"], "eot")

    # <|endoftext|> typed by the user is text: the prompt has only the format's own eos tokens
    typed = Conversation.from_dict(CONVERSATION).add(Message("assistant", done["text"], "device"))
    typed.add(Message("user", "What is <|endoftext|> for?"))
    tokens = worker.runtime.build_prompt(typed, N_CTX, GREEDY["max_new_tokens"]).tokens
    assert tokens.count(EOS) == prompt.count(EOS) + (len(typed.messages) - len(TURNS)) * (EOS in prompt)
    assert worker.runtime.tokenizer.decode(tokens).endswith(EOS_TEXT_REPLY[EOS in prompt])
