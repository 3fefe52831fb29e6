"""The llm canister answering for real in the local replica: the route canister calls the stand-in
LLM canister's v1_chat, whose HTTPS outcall reaches a real `icchat serve` (its server, on a tiny
seeded bundle), every node's request carrying the same Idempotency-Key; and the faults a service
has — down, slow, oversized, malformed JSON, answers that differ between nodes, a refusal — each
giving one clear line, never an answer. A recording proxy in front of the service shows exactly what
each node sent and got back."""

from __future__ import annotations

import http.client
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from support.llm_service import MODEL_ID

from icchat.ic import candid, prices
from icchat.ic.identity import Ed25519Identity
from icchat.ic.principal import Principal
from icchat.ic.reject import canister_line
from icchat.llm_canister import LlmCanister, chat_request_arg
from icchat.replica import Reject, Replica, cycles
from icchat.replica.limits import UPDATE_INSTRUCTION_LIMIT
from icchat.replica.management import METHODS
from icchat.replica.outcalls import OutcallService

TIMEOUT_S = 3.0  # each node's request; the slow service takes longer
NODES = 2


# ---- a server in front of the service (conftest.py's) that records and misbehaves ----

class Front(ThreadingHTTPServer):
    """Answers each request by `behave(request) -> (status, body)`, and records requests and answers."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), FrontHandler)
        self.behave: Callable[[dict[str, Any]], tuple[int, bytes]] = lambda _: (500, b"")
        self.exchanges: list[tuple[dict[str, Any], bytes]] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1/chat/completions"


class FrontHandler(BaseHTTPRequestHandler):
    server: Front

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        request = {"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body}
        status, answer = self.server.behave(request)
        with self.server.lock:
            self.server.exchanges.append((request, answer))
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)
        except OSError:
            pass  # a node that gave up (the slow case)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture(scope="module")
def front() -> Iterator[Front]:
    with Front() as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield server
        server.shutdown()
        thread.join()


def proxy_to(base: str) -> Callable[[dict[str, Any]], tuple[int, bytes]]:
    """Forward the request to the service as it came (headers, body) and return its answer."""

    def forward(request: dict[str, Any]) -> tuple[int, bytes]:
        host, port = base.removeprefix("http://").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=120)
        headers = {k: v for k, v in request["headers"].items() if k in ("content-type", "idempotency-key",
                                                                       "authorization")}
        connection.request("POST", request["path"], request["body"], headers)
        response = connection.getresponse()
        return response.status, response.read()

    return forward


def completion(content: str) -> bytes:
    return json.dumps({"id": f"chatcmpl-{time.monotonic_ns()}", "created": time.time_ns(), "object": "chat.completion",
                       "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                                    "finish_reason": "stop"}]}).encode()


# ---- the canisters ----

class SizedOutcalls(OutcallService):
    """The replica's outcall service, keeping the size of each `http_request` call's argument and of
    the reply it gave (what the IC's call fee is counted on)."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.sizes: list[tuple[int, int]] = []

    def prepare(self, arg: bytes, caller: Principal, cycles: int) -> Any:
        prepared = super().prepare(arg, caller, cycles)
        run = prepared.run

        def sized_run(transform: Any) -> bytes:
            reply = run(transform)
            self.sizes.append((len(arg), len(reply)))
            return reply
        prepared.run = sized_run
        return prepared


@pytest.fixture(scope="module")
def outcalls() -> SizedOutcalls:
    return SizedOutcalls(nodes=NODES, timeout_s=TIMEOUT_S)


@pytest.fixture(scope="module")
def replica(outcalls) -> Iterator[Replica]:
    with Replica(outcalls=outcalls) as replica:
        yield replica


@pytest.fixture(scope="module")
def llm(replica, llm_wasm, front) -> LlmCanister:
    """The stand-in for DFINITY's LLM canister: endpoint route to the front server."""
    canister = LlmCanister.install(replica, llm_wasm)
    canister.set_route_endpoint(front.url, MODEL_ID, api_key="sk-local-test", max_tokens=8)
    return canister


@pytest.fixture(scope="module")
def llm_route(replica, llm_wasm, llm) -> LlmCanister:
    """What the page calls: llm_canister route to the stand-in."""
    canister = LlmCanister.install(replica, llm_wasm)
    canister.set_route_llm_canister(llm.id, MODEL_ID)
    return canister


@pytest.fixture
def user() -> Any:
    return Ed25519Identity.generate().principal


def refusal(call: Callable[..., Any], *args: Any) -> str:
    with pytest.raises(Reject) as failure:
        call(*args)
    return canister_line(failure.value.message)


def exchanges_since(front: Front, start: int) -> list[tuple[dict[str, Any], bytes]]:
    with front.lock:
        return front.exchanges[start:]


# ---- answers ----

def test_the_route_answers_through_the_stand_in_and_the_service(front, service, llm, llm_route, user):
    front.behave = proxy_to(service)
    start = len(front.exchanges)
    answer = llm_route.as_caller(user).chat([("system", "Be brief."), ("user", "Hello there")])
    sent = exchanges_since(front, start)
    assert len(sent) == NODES  # every node made the request, once
    (first, first_answer), (second, second_answer) = sent
    assert first["headers"]["idempotency-key"] == second["headers"]["idempotency-key"]
    assert first["body"] == second["body"]
    assert first_answer == second_answer  # the service answered both copies with one answer
    reply = json.loads(first_answer)
    assert answer["text"] == reply["choices"][0]["message"]["content"]
    assert reply["model"] == MODEL_ID and reply["usage"]["completion_tokens"] <= 8
    assert answer["model"] == MODEL_ID
    assert answer["via"] == f"LLM canister {llm.id.to_text()}"
    assert answer["instructions"] > 0 and answer["cycles"] > answer["instructions"]


def test_the_outcall_request_and_what_it_costs(front, outcalls, llm, user):
    front.behave = lambda request: (200, completion("You said: " + json.loads(request["body"])["messages"][-1]["content"]))
    start = len(front.exchanges)
    before = llm.usage()
    answer = llm.as_caller(user).chat([("user", "ping")])
    assert answer["text"] == "You said: ping"
    assert answer["via"] == f"endpoint 127.0.0.1:{front.server_address[1]}"
    request = exchanges_since(front, start)[0][0]
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["authorization"] == "Bearer sk-local-test"
    assert request["headers"]["content-type"] == "application/json"
    assert len(request["headers"]["idempotency-key"]) == 32
    assert json.loads(request["body"]) == {"model": MODEL_ID, "messages": [{"role": "user", "content": "ping"}],
                                           "max_tokens": 8, "stream": False}
    # the IC's price for this request (url, headers, body, transform name) at the route's 32 KiB limit
    sent_headers = {"content-type": "application/json", "idempotency-key": request["headers"]["idempotency-key"],
                    "authorization": "Bearer sk-local-test"}
    request_bytes = (len(front.url) + sum(len(k) + len(v) for k, v in sent_headers.items()) + len(request["body"])
                     + len("transform_chat"))
    price = prices.http_outcall_cycles(request_bytes, 32_768)
    # and the fee of the call to the management canister: its request and its reply
    arg_bytes, reply_bytes = outcalls.sizes[-1]
    fee = prices.call_transmission_cycles(len("http_request") + arg_bytes) + prices.response_transmission_cycles(reply_bytes)
    assert answer["cycles"] == price + fee + answer["instructions"]
    after = llm.as_caller(user).usage()
    assert after["caller_spent"] >= price + fee and after["window_spent"] - before["window_spent"] >= price + fee
    start = len(front.exchanges)
    assert llm.as_caller(user).v1_chat([("user", "again")]) == "You said: again"
    assert exchanges_since(front, start)[0][0]["headers"]["idempotency-key"] != request["headers"]["idempotency-key"]


def test_the_llm_canisters_limits_themselves_are_answered(front, llm_route, user):
    """Ten messages and a prompt of exactly 10 KiB go through both canisters (one more is refused)."""
    front.behave = lambda request: (200, completion(f"{len(json.loads(request['body'])['messages'])} messages"))
    ten = [("user" if i % 2 == 0 else "assistant", "x" * 1024) for i in range(10)]  # 10,240 bytes
    assert llm_route.as_caller(user).v1_chat(ten) == "10 messages"


# ---- faults: one line each, never an answer ----

def test_the_service_down(replica, llm_wasm, user):
    canister = LlmCanister.install(replica, llm_wasm)
    canister.set_route_endpoint("http://127.0.0.1:9/v1/chat/completions", MODEL_ID)  # discard port: nothing listens
    line = refusal(canister.as_caller(user).chat, [("user", "Hi")])
    assert line.startswith("the LLM service did not answer (SYS_TRANSIENT: ")


def test_a_slow_service(front, llm, user):
    front.behave = lambda _request: (time.sleep(TIMEOUT_S + 1.5), (200, completion("late")))[1]
    line = refusal(llm.as_caller(user).chat, [("user", "Hi")])
    assert line.startswith("the LLM service did not answer (SYS_") and "Timeout expired" in line


def test_an_answer_over_the_response_limit(front, llm, user):
    front.behave = lambda _request: (200, completion("x" * 40_000))  # over the route's 32,768 bytes
    line = refusal(llm.as_caller(user).chat, [("user", "Hi")])
    assert line.startswith("the LLM service did not answer (SYS_FATAL: ")
    assert "32768" in line


def test_malformed_json(front, llm, llm_route, user):
    front.behave = lambda _request: (200, b'{"choices": [{"message": {"content": "cut off')
    assert refusal(llm.as_caller(user).chat, [("user", "Hi")]) == "the LLM service's answer is malformed: not JSON"
    assert refusal(llm_route.as_caller(user).chat, [("user", "Hi")]) == (
        f"the LLM canister {llm.id.to_text()} did not answer (CANISTER_REJECT: the LLM service's answer is "
        "malformed: not JSON)")


def test_nodes_that_get_different_answers_reach_no_consensus(front, llm, user):
    count = iter(range(1_000_000))
    front.behave = lambda _request: (200, completion(f"answer number {next(count)}"))
    line = refusal(llm.as_caller(user).chat, [("user", "Hi")])
    assert line.startswith("the LLM service did not answer (SYS_TRANSIENT: ")
    assert "consensus" in line


def test_a_refusal_by_the_service(front, llm, user):
    error = {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error", "code": "invalid_api_key"}}
    front.behave = lambda _request: (401, json.dumps(error).encode())
    assert refusal(llm.as_caller(user).chat, [("user", "Hi")]) == (
        "the LLM service refused the request: HTTP 401, Incorrect API key provided")


def test_a_missing_llm_canister(replica, llm_wasm, user):
    canister = LlmCanister.install(replica, llm_wasm)
    missing = Ed25519Identity.generate().principal
    canister.set_route_llm_canister(missing, MODEL_ID)
    line = refusal(canister.as_caller(user).chat, [("user", "Hi")])
    assert line.startswith(f"the LLM canister {missing.to_text()} did not answer (DESTINATION_INVALID: ")


# ---- a canister short of cycles ----

def set_freezing_threshold(canister: LlmCanister, seconds: int) -> None:
    """A controller's update_settings (the management canister's Candid)."""
    arg = candid.encode(METHODS["update_settings"].args, [{"canister_id": canister.id,
                                                           "settings": {"freezing_threshold": seconds}}])
    canister.replica.update(Principal.management(), "update_settings", arg, sender=canister.sender)


def liquid_when_run(canister: LlmCanister, method: str, arg: bytes) -> int:
    """The liquid balance an update of `method` with `arg` sees, by the replica's own formulas: the
    balance less the message's induction and its execution's prepayment, less the freezing limit."""
    state = canister.replica.canister(canister.id)
    balance = (state.system.cycles - prices.ingress_induction_cycles(len(method) + len(arg))
               - prices.update_execution_cycles(UPDATE_INSTRUCTION_LIMIT))
    return cycles.liquid_balance(balance, state.system.reserved_cycles, cycles.freezing_threshold(state))


def test_a_canister_short_of_liquid_cycles_refuses_without_an_outcall(replica, llm_wasm, front, user):
    """chat.c checks ic0.canister_liquid_cycle_balance128 before it attaches an answer's cycles
    (attaching more traps): a controller's freezing threshold that leaves the canister fewer liquid
    cycles than an outcall takes, yet more than 0 (not frozen: it still runs updates and queries),
    gets the line naming both figures, from chat and v1_chat alike, and no request leaves."""
    front.behave = lambda _request: (200, completion("paid for"))
    canister = LlmCanister.install(replica, llm_wasm)
    canister.set_route_endpoint(front.url, MODEL_ID, max_tokens=8)
    messages = [("user", "Hi")]
    arg = chat_request_arg(messages)
    state = replica.canister(canister.id)
    per_day = prices.idle_cycles_per_day(cycles.memory_usage(state))
    # The freezing limit that leaves ~150M liquid cycles when chat runs: well under an outcall's
    # price at the route's 32 KiB response limit (its base fee alone is 49.14M, 13 nodes).
    spare = 150_000_000
    assert prices.http_outcall_cycles(len(arg), 32_768) > 2 * spare
    seconds = (liquid_when_run(canister, "chat", arg) + cycles.freezing_threshold(state) - spare) * 86_400 // per_day
    set_freezing_threshold(canister, seconds)
    assert state.system.settings.freezing_threshold == seconds

    start = len(front.exchanges)
    for method, call in (("chat", canister.as_caller(user).chat), ("v1_chat", canister.as_caller(user).v1_chat)):
        liquid = liquid_when_run(canister, method, arg)
        assert 0 < liquid < spare
        line = refusal(call, messages)
        match = re.fullmatch(r"this canister has (\d+) cycles it can spend and an answer takes (\d+): "
                             r"its controllers top it up", line)
        assert match is not None, line
        assert int(match[1]) == liquid < int(match[2])
        # What an answer takes: the outcall's price and what the call itself takes (its fee and the
        # reservation for its response), both for the same request: 5,200 + 1,000 cycles a byte.
        request_bytes, rest = divmod(int(match[2]) - prices.http_outcall_cycles(0, 32_768) - cycles.call_charges(0),
                                     5_200 + 1_000)
        assert rest == 0 and len(arg) < request_bytes < 1_000
    assert exchanges_since(front, start) == []
    assert not state.system.call_contexts.callbacks
    assert cycles.freezing_threshold(state) < state.system.cycles  # not frozen: queries answer
    assert canister.route_info()["kind"] == "endpoint"

    set_freezing_threshold(canister, 2_592_000)  # the default, 30 days: the same request answers
    assert canister.as_caller(user).chat(messages)["text"] == "paid for"
    assert len(exchanges_since(front, start)) == NODES
