"""icchat.chat.llm_service and its place in ChatWorker, at the unit level: the route canister is a
fake here (FakeRoute, the `RouteClient` seam web/llm-route.mjs fills on the page); the real
canister, outcall and service are tested end to end in e2e/test_llm_route.py and tests/llm/."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from icchat.chat import BackendError, Conversation
from icchat.chat.llm_service import MAX_MESSAGES, MAX_PROMPT_BYTES, LlmServiceBackend, fit_request
from icchat.chat.worker import ChatWorker

SETTINGS = {"temperature": 0.8, "top_k": 40, "top_p": 0.95, "max_new_tokens": 24, "seed": 7}
REPLY = {"text": "  A canister is a smart contract.\n", "model": "llama3.1:8b",
         "via": "LLM canister w36hm-eqaaa-aaaal-qr76a-cai", "cycles": 1_234_567, "instructions": 89_000}


class FakeRoute:
    """Records each call; answers REPLY, or raises `fail`; `during` runs while the call is out."""

    def __init__(self, fail: str | None = None, during: Any = None) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.fail, self.during = fail, during

    async def call(self, method: str, request: dict[str, Any]) -> dict[str, Any]:
        self.calls.append((method, request))
        if self.during is not None:
            self.during()
        if self.fail is not None:
            raise BackendError(self.fail)
        return dict(REPLY)


def conversation(*texts: str) -> Conversation:
    """Alternating user / assistant turns, the first the user's."""
    return Conversation.from_dict({"messages": [
        {"role": "user" if i % 2 == 0 else "assistant", "text": t, **({"origin": "device"} if i % 2 else {})}
        for i, t in enumerate(texts)]})


def test_the_conversation_goes_whole_as_chat_request_v1_messages_when_it_fits():
    request = fit_request(conversation("Hi", "Hello!", "What is a canister?"))
    assert request.messages == [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"},
                                {"role": "user", "content": "What is a canister?"}]
    assert request.trimmed_turns == 0


def test_at_most_ten_messages_go_the_newest_starting_on_a_question():
    texts = [f"turn {i}" for i in range(15)]  # 8 questions, 7 answers: ends on a question
    request = fit_request(conversation(*texts))
    assert len(request.messages) <= MAX_MESSAGES
    assert request.messages[0]["role"] == "user" and request.messages[-1]["content"] == "turn 14"
    assert [m["content"] for m in request.messages] == texts[15 - len(request.messages):]
    assert request.trimmed_turns == 15 - len(request.messages) == 6  # 9 would start on an answer


def test_at_most_10_kib_of_text_goes_the_oldest_turns_left_out():
    big = "x" * 4000
    request = fit_request(conversation(big, "ok", big, "ok", big))
    assert sum(len(m["content"].encode()) for m in request.messages) <= MAX_PROMPT_BYTES
    assert request.messages[0]["role"] == "user" and request.trimmed_turns == 2
    # a character's UTF-8 bytes count, not its length
    assert fit_request(conversation("é" * 4000, "ok", "é" * 3000)).trimmed_turns == 2


def test_a_question_over_10_kib_is_refused_in_one_line_before_any_call():
    route = FakeRoute()
    backend = LlmServiceBackend(route, "qwen2.5:0.5b")
    with pytest.raises(BackendError, match=r"10,241 bytes: the LLM service takes at most 10,240 bytes"):
        asyncio.run(backend.answer(conversation("y" * (MAX_PROMPT_BYTES + 1))))
    assert route.calls == []


def test_an_answer_left_empty_by_a_stop_is_not_sent_as_a_turn():
    request = fit_request(Conversation.from_dict({"messages": [
        {"role": "user", "text": "first"}, {"role": "assistant", "text": "", "origin": "llm-service"},
        {"role": "user", "text": "again"}]}))
    assert [m["content"] for m in request.messages] == ["first", "again"]


def test_the_answer_carries_the_model_where_it_came_from_and_its_cycles():
    route = FakeRoute()
    answer = asyncio.run(LlmServiceBackend(route, "llama3.1:8b").answer(conversation("What is a canister?")))
    assert route.calls == [("chat", {"model": "llama3.1:8b", "messages": [{"role": "user", "content": "What is a canister?"}]})]
    assert answer.text == "A canister is a smart contract." and answer.stop_reason == "eot"
    assert answer.stats["model"] == "llama3.1:8b" and answer.stats["via"] == REPLY["via"]
    assert answer.stats["cycles"] == 1_234_567 and answer.stats["instructions"] == 89_000
    assert answer.stats["calls"] == 1 and answer.stats["seconds"] >= 0


def test_a_stop_while_the_call_is_out_discards_its_late_answer():
    stopped = {"now": False}
    route = FakeRoute(during=lambda: stopped.update(now=True))
    answer = asyncio.run(LlmServiceBackend(route, "m").answer(conversation("Hi"), lambda: stopped["now"]))
    assert len(route.calls) == 1  # the call went out: it cannot be called back
    assert answer.text == "" and answer.stop_reason == "cancelled" and answer.stats["discarded"] is True


def test_a_stop_before_the_call_sends_nothing():
    route = FakeRoute()
    answer = asyncio.run(LlmServiceBackend(route, "m").answer(conversation("Hi"), lambda: True))
    assert route.calls == [] and answer.stop_reason == "cancelled" and "discarded" not in answer.stats


def worker_messages(chat: ChatWorker, backend: str, conv: dict[str, Any], cancelled: Any = lambda: False) -> list[dict[str, Any]]:
    async def collect() -> list[dict[str, Any]]:
        return [m async for m in chat.reply("r1", conv, SETTINGS, backend, cancelled)]
    return asyncio.run(collect())


def test_the_worker_answers_llm_service_with_one_done_labelled_with_its_origin(tokenizer):
    chat = ChatWorker(tokenizer, 1024)
    with pytest.raises(ValueError, match="llm-service are not available"):
        worker_messages(chat, "llm-service", {"messages": [{"role": "user", "text": "Hi"}]})
    chat.use_llm_service(FakeRoute(), "llama3.1:8b")
    assert chat.labels() == ["llm-service"]
    # the same conversation as the other positions wrote it (their origins kept)
    conv = {"messages": [{"role": "user", "text": "Hi"}, {"role": "assistant", "text": "Hello.", "origin": "onchain-fast"},
                         {"role": "user", "text": "What is a canister?"}]}
    [done] = worker_messages(chat, "llm-service", conv)
    assert done["type"] == "done" and done["origin"] == "llm-service" and done["id"] == "r1"
    assert set(done) == {"type", "id", "text", "origin", "stop_reason", "trimmed_turns", "trimmed_tokens", "stats"}
    assert done["text"] == "A canister is a smart contract." and done["stats"]["cycles"] == 1_234_567


def test_a_service_failure_is_one_error_of_kind_service_with_its_line(tokenizer):
    chat = ChatWorker(tokenizer, 1024)
    chat.use_llm_service(FakeRoute(fail="the LLM service did not answer: connection refused"), "m")
    [error] = worker_messages(chat, "llm-service", {"messages": [{"role": "user", "text": "Hi"}]})
    assert error == {"type": "error", "id": "r1", "kind": "service", "fatal": False, "during": "generate",
                     "message": "the LLM service did not answer: connection refused"}
