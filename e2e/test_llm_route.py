"""The LLM service position, in Chromium against the real stack: the page calls the "llm_route"
canister, which calls the "llm" stand-in of DFINITY's LLM canister, which makes an HTTP outcall
from the replica to the `icchat serve` that `icchat up` started on the tiny bundle. One
conversation answered on this device, onchain, through the LLM service and on this device again;
then the service down, and misbehaving services (a local HTTP server of this test, set as the
stand-in's endpoint by its controller): an answer over the response limit, malformed JSON,
answers that differ between the replica's requests, and one slower than the outcall's timeout. Each failure is one line with the question
back in the box, never a wrong answer. Screenshots go to build/e2e-artifacts/."""

from __future__ import annotations

import http.server
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from test_chat_page import REPLY_TIMEOUT, ChatPage
from test_model_switch import answer_data, ask, switch

from icchat.replica.limits import HTTP_OUTCALL_TIMEOUT_S
from icchat.stack import serve_process

SERVICE = "llm-service"


def test_one_conversation_on_device_onchain_via_the_llm_service_and_on_device_again(chat, stack, artifacts):
    chat.new_chat()
    chat.settings(max_new_tokens=16, temperature=0.8, seed=7)
    served = serve_process.running(stack.state_dir)
    assert served is not None  # `icchat up` started it
    # the fourth position names the route's model: the bundle `icchat serve` serves
    assert chat.page.text_content("#where-service") == f"LLM service (via canister) · {served.model}"
    for i, backend in enumerate(["device", "onchain-fast", SERVICE, "device"]):
        switch(chat, backend)
        # the box says whom the message goes to
        service_box = chat.page.get_attribute("#prompt", "placeholder") == f"Message {served.model}…"
        assert service_box == (backend == SERVICE)
        got = ask(chat, f"Question number {i + 1}: where are you?")
        chat.shot(artifacts, f"40-llm-route-{i}-{backend}")
        assert got["origin"] == backend, got
        if backend == SERVICE:
            assert got["deltas"] == 0 and got["text"]  # the answer comes whole, in the `done`
            assert got["model"] == served.model and got["via"] == f"LLM canister {stack.info.llm}"
            assert got["calls"] == 1 and got["cycles"] > 0 and got["instructions"] > 0
            assert f"via LLM canister {stack.info.llm}" in got["meta"] and "cycles" in got["meta"]
            assert "LLM service via canister" in got["meta"]
            # signed with the service's model, not the page's GPT-2
            assert chat.page.locator("#messages .msg.assistant .who").last.text_content() == served.model
    stored = chat.page.evaluate("""() => {
        const s = JSON.parse(localStorage.getItem('icchat.conversations.v1'));
        return s.list.find((c) => c.id === s.current).messages.map((m) => [m.role, m.origin ?? null]);
    }""")
    assert stored == [["user", None], ["assistant", "device"], ["user", None], ["assistant", "onchain-fast"],
                      ["user", None], ["assistant", SERVICE], ["user", None], ["assistant", "device"]]


def fails_in_one_line(chat: ChatPage, question: str, artifacts: Path, shot: str) -> str:
    """Ask through the LLM service; the error's line, after checking that nothing was answered and
    the question is back in the box (the page as it says so: screenshot `shot`)."""
    chat.new_chat()
    switch(chat, SERVICE)
    chat.page.fill("#prompt", question)
    chat.page.press("#prompt", "Enter")
    chat.page.locator("#error:not([hidden])").wait_for(timeout=REPLY_TIMEOUT)
    message = chat.page.text_content("#error-text")
    # the route canister's one line: what failed, down to the service
    assert message.startswith(f"the LLM canister {chat.stack.info.llm} did not answer ("), message
    assert message.endswith(" Your question is back in the box.") and "\n" not in message, message
    assert chat.page.is_visible("#error-device")  # the way back
    assert chat.page.input_value("#prompt") == question
    assert chat.page.locator("#messages .msg").count() == 0
    assert chat.state() == "ready"
    chat.shot(artifacts, shot)
    chat.page.fill("#prompt", "")
    chat.page.click("#error-dismiss")
    return message


class Misbehaving(http.server.BaseHTTPRequestHandler):
    """A chat-completions endpoint that answers what `answer(n)` gives the n-th request."""

    answer: Callable[[int], bytes]
    counter = itertools.count()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        body = self.answer(next(self.counter))
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def completion(text: str) -> bytes:
    return json.dumps({"id": "x", "object": "chat.completion", "model": "m", "choices": [
        {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]}).encode()


@pytest.fixture
def endpoint(stack) -> Iterator[Callable[[Callable[[int], bytes]], None]]:
    """Point the stand-in at a misbehaving server of this test; the real service again after."""
    servers: list[http.server.ThreadingHTTPServer] = []

    def serve(answer: Callable[[int], bytes]) -> None:
        handler = type("Handler", (Misbehaving,), {"answer": staticmethod(answer)})
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        stack.point_stand_in(f"http://127.0.0.1:{server.server_port}/v1/chat/completions")

    yield serve
    stack.point_stand_in(None)
    for server in servers:
        server.shutdown()


def test_the_service_down_gives_one_line_and_the_question_back(chat, stack, artifacts):
    nothing_there = f"http://127.0.0.1:{serve_process.free_port()}/v1/chat/completions"
    stack.point_stand_in(nothing_there)
    try:
        message = fails_in_one_line(chat, "Is the service there?", artifacts, "41-llm-route-down")
        assert "the LLM service did not answer (SYS_TRANSIENT: Connecting to 127.0.0.1 failed" in message, message
    finally:
        stack.point_stand_in(None)


@pytest.mark.parametrize(("case", "answer", "says"), [
    ("oversized", lambda n: completion("x" * 40_000), "exceeds size limit of 32768 bytes"),  # the route's default
    ("malformed", lambda n: b'{"choices": [{"message": {"content": "half', "the LLM service's answer is malformed: not JSON"),
    ("mismatch", lambda n: completion(f"answer number {n}"), "No consensus could be reached"),
    ("slow", lambda n: (time.sleep(HTTP_OUTCALL_TIMEOUT_S + 2), completion("late"))[1], "Timeout expired"),
])
def test_a_misbehaving_service_gives_a_clear_error_never_a_wrong_answer(chat, endpoint, artifacts, case, answer, says):
    endpoint(answer)
    message = fails_in_one_line(chat, f"Tell me something ({case}).", artifacts, f"42-llm-route-{case}")
    assert says in message, message


def test_stop_while_thinking_discards_the_late_answer_and_says_so(chat, endpoint):
    release = threading.Event()

    def slow(n: int) -> bytes:
        release.wait(timeout=20)
        return completion("a late answer")
    endpoint(slow)
    chat.new_chat()
    switch(chat, SERVICE)
    chat.page.fill("#prompt", "Take your time.")
    chat.page.press("#prompt", "Enter")
    chat.page.locator("#messages .msg.assistant[data-state=waiting]").wait_for(timeout=REPLY_TIMEOUT)
    thinking = chat.page.evaluate("getComputedStyle(document.querySelector('#messages .msg.assistant .text'), '::after').content")
    assert "Thinking" in thinking
    chat.page.click("#stop")
    assert "cannot be called back" in chat.page.text_content("#messages .msg.assistant .text")
    release.set()
    chat.wait_done(0)
    got = answer_data(chat)
    assert got["origin"] == SERVICE and got["text"] == "" and "late answer was discarded" in got["meta"]
