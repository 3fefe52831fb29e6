"""Inter-canister calls in the local replica, rule by rule as the IC interface specification
(https://internetcomputer.org/docs/references/ic-interface-spec) and "Properties of message
executions on ICP" (https://internetcomputer.org/docs/references/message-execution-properties)
state them. The probe canister (canister/probes/caller.c) is both caller and callee; calls to
the management canister's `http_request` go to a stand-in of the OUTCALLS service
(`HeldOutcalls`, the interface of icchat.replica.outcalls), so a test decides when the
outcall answers.
"""

from __future__ import annotations

import struct
import threading

import pytest
from replica_helpers import CONTROLLER, PROBES, reject_of

from icchat.build.canister import compile_c
from icchat.ic import candid, prices
from icchat.ic.principal import Principal
from icchat.paths import BUILD
from icchat.replica import Reject, Replica, cycles
from icchat.replica.limits import UPDATE_INSTRUCTION_LIMIT
from icchat.replica.management import METHODS

MANAGEMENT = Principal.management()
TRAP_IN_REPLY, CLEANUP, TRAP_AFTER = 1, 2, 4
OUTCALL_COST = 1_000_000


class HeldOutcalls:
    """Stand-in for OUTCALLS' `OutcallService` (same `prepare` -> `PreparedOutcall.run`
    interface): the request is held until `release` is set, then answered with the calling
    canister's transform of the request's argument, or `failure` raised as the outcall's reject."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        self.failure: Reject | None = None
        self.seen: list[tuple[bytes, Principal, int]] = []

    def prepare(self, arg: bytes, caller: Principal, cycles: int) -> _HeldOutcall:
        if cycles < OUTCALL_COST:
            raise Reject(4, f"http_request request sent with {cycles} cycles, but {OUTCALL_COST} cycles are required.")
        self.seen.append((arg, caller, cycles))
        return _HeldOutcall(self, arg)


class _HeldOutcall:
    cost = OUTCALL_COST
    transform_method = "transform"

    def __init__(self, service: HeldOutcalls, arg: bytes) -> None:
        self.service, self.arg = service, arg

    def run(self, transform) -> bytes:
        self.service.started.set()
        assert self.service.release.wait(60), "the test never released the outcall"
        if self.service.failure is not None:
            raise self.service.failure
        return transform(self.transform_method, self.arg)


def call_spec(callee: Principal, method: str, payload: bytes = b"", cycles: int = 0, flags: int = 0) -> bytes:
    """One call for caller.c's `call` method."""
    return (bytes([len(callee.raw)]) + callee.raw + bytes([len(method)]) + method.encode()
            + struct.pack("<QI", cycles, len(payload)) + payload + bytes([flags]))


def calls(*specs: bytes) -> bytes:
    return struct.pack("<H", len(specs)) + b"".join(specs)


def counters(replica: Replica, cid: Principal) -> dict[str, int]:
    text = replica.query(cid, "counters").decode()
    return {key: int(value) for key, value in (item.split("=") for item in text.split())}


@pytest.fixture(scope="session")
def caller_wasm() -> bytes:
    return compile_c([PROBES / "caller.c"], BUILD / "test-canisters" / "caller.wasm").read_bytes()


@pytest.fixture
def outcalls() -> HeldOutcalls:
    return HeldOutcalls()


@pytest.fixture
def replica(outcalls):
    with Replica(outcalls=outcalls) as r:
        yield r


def install(replica: Replica, wasm: bytes, controllers: list[Principal] | None = None) -> Principal:
    cid = replica.create_canister(controllers=controllers or [CONTROLLER], cycles=10**14)
    replica.install_code(cid, wasm, sender=CONTROLLER)
    return cid


@pytest.fixture
def pair(replica, caller_wasm) -> tuple[Principal, Principal]:
    return install(replica, caller_wasm), install(replica, caller_wasm)


def test_the_reply_reaches_the_callback_and_the_ingress_waits_for_it(replica, pair):
    """Spec, ic0.call_new: "The reply callback is executed upon successful completion of the
    method call, which can query the reply using ic0.msg_arg_data_*." The ingress call's
    context stays open until the callback responds to it."""
    a, b = pair
    reply = replica.update(a, "call", calls(call_spec(b, "echo", b"hello"), call_spec(b, "echo", b"again")))
    assert reply.decode() == "reply 0 hello refund=0\nreply 1 again refund=0\n"


@pytest.mark.parametrize(("callee", "method", "payload", "code", "text"), [
    ("missing", "echo", b"", 3, "Canister {callee} not found"),
    ("stopped", "echo", b"", 5, "Canister {callee} is stopped"),
    ("b", "nope", b"", 5, "Error from Canister {callee}: Canister has no update method 'nope'"),
    ("b", "trap", b"boom", 5, "Error from Canister {callee}: Canister called `ic0.trap` with message: 'boom'"),
    ("b", "reject", b"not today", 4, "not today"),
    ("b", "noreply", b"", 5, "Canister {callee} did not reply to the call"),
])
def test_reject_codes_and_texts(replica, pair, caller_wasm, callee, method, payload, code, text):
    """Spec, "Reject codes": DESTINATION_INVALID (3) "Invalid destination (e.g. canister/account
    does not exist)", CANISTER_REJECT (4) "Explicit reject by the canister", CANISTER_ERROR (5)
    "Canister error (e.g., trap, no response)"; "When canisters explicitly reject a message ...
    they can specify the reject message, but not the reject code; it is always CANISTER_REJECT".
    The texts are the IC's (IC0301, IC0508, IC0536, IC0503, IC0506)."""
    a, b = pair
    target = {"b": b, "missing": Principal.from_text("aovwi-4maaa-aaaaa-qaagq-cai")}.get(callee)
    if callee == "stopped":
        target = install(replica, caller_wasm)
        replica.update(MANAGEMENT, "stop_canister", _canister_arg(target), sender=CONTROLLER)
    reply = replica.update(a, "call", calls(call_spec(target, method, payload, cycles=5_000))).decode()
    assert reply.startswith(f"reject 0 code={code} refund=5000 {text.format(callee=target)}"), reply


def test_cycles_attached_are_accepted_up_to_the_callee_s_choice_and_the_rest_refunded(replica, pair):
    """Spec, ic0.call_cycles_add128: "moves cycles from the canister balance onto the call";
    ic0.msg_cycles_accept128 "moves no more cycles than available"; ic0.msg_cycles_available:
    "When the call is responded to (reply or reject), all available cycles are refunded to the
    caller"; ic0.msg_cycles_refunded128 "indicates the amount of cycles that came back with the
    response as a refund. The refund has already been added to the canister balance"."""
    a, b = pair
    sent, kept = 50_000_000_000, 20_000_000_000
    a_before, b_before = replica.canister(a).system.cycles, replica.canister(b).system.cycles
    reply = replica.update(a, "call", calls(call_spec(b, "accept", struct.pack("<Q", kept), cycles=sent))).decode()
    assert reply == f"reply 0 available={sent} accepted={kept} refund={sent - kept}\n"
    fees = 100_000_000  # executions and the ingress message cost less than this
    a_after, b_after = replica.canister(a).system.cycles, replica.canister(b).system.cycles
    assert a_before - kept - fees < a_after < a_before - kept
    assert b_before + kept - fees < b_after < b_before + kept


def test_attaching_more_cycles_than_the_balance_traps_and_sends_nothing(replica, pair):
    """Spec, ic0.call_cycles_add128: "This system call traps if trying to transfer more cycles
    than are in the current balance of the canister" (and below its freezing limit): the IC's
    IC0207 (SYS_TRANSIENT)."""
    a, b = pair
    reject = reject_of(replica.update, a, "call", calls(call_spec(b, "bump", cycles=10**15)))
    assert (reject.code, reject.error_code) == (2, "IC0207")
    assert f"Canister {a} is out of cycles: please top up the canister with at least" in reject.message
    assert counters(replica, b)["counter"] == 0


def test_a_trapped_execution_never_sends_its_calls(replica, pair):
    """Spec, ic0.call_perform: "It queues the call message to the given destination, but does
    not actually act on it until the current WebAssembly function returns without trapping."""
    a, b = pair
    reject = reject_of(replica.update, a, "call", calls(call_spec(b, "bump", flags=TRAP_AFTER)))
    assert reject.code == 5 and "trapped after calling" in reject.message
    assert counters(replica, b)["counter"] == 0
    assert not replica.canister(a).system.call_contexts.callbacks


def test_a_trapped_callback_rolls_back_only_itself_and_runs_its_cleanup(replica, pair):
    """Message execution properties, Property 2: "If an inter-canister call is involved, the
    code after the call (i.e. the callback code) is executed as a separate message", so a trap
    in the callback rolls back that message only: the callee's execution and the caller's
    first message stay. Spec, ic0.call_on_cleanup: the cleanup "is executed if and only if the
    reply or the reject callback was executed and trapped". The context, left without a
    response, answers the caller with the callback's trap (CANISTER_ERROR)."""
    a, b = pair
    reject = reject_of(replica.update, a, "call", calls(call_spec(b, "bump", flags=TRAP_IN_REPLY | CLEANUP)))
    assert reject.code == 5 and "reply callback trapped" in reject.message
    assert counters(replica, b)["counter"] == 1
    assert counters(replica, a) == {"counter": 0, "cleanups": 1}
    assert not replica.canister(a).system.call_contexts.contexts


def test_no_cleanup_without_a_trap(replica, pair):
    """Spec, ic0.call_on_cleanup: "if and only if" the callback trapped."""
    a, b = pair
    replica.update(a, "call", calls(call_spec(b, "bump", flags=CLEANUP)))
    assert counters(replica, a) == {"counter": 0, "cleanups": 0}


def test_a_call_pays_its_fee_and_reserves_its_response_until_it_comes_back(replica, pair, outcalls):
    """The cost table (13 nodes): "Xnet call" 260K and "Xnet byte transmission" 1K per byte of the
    request (method name + argument); and as rs/cycles_account_manager's withdraw_request_cycles:
    "the fee for the largest possible response + the fee for executing the largest allowed
    response", refunded once the response is known (refund_for_response_transmission; the
    callback runs on the reserved execution and gets its unused instructions back)."""
    a, _ = pair
    attached = OUTCALL_COST + 4_000
    arg = calls(call_spec(MANAGEMENT, "http_request", b"GET", cycles=attached))
    before = replica.canister(a).system.cycles
    pending = replica.submit_update(a, "call", arg)
    assert outcalls.started.wait(30) and not pending.done
    update = replica.canister(a).execution_state.instance.meter.used()
    fee = 260_000 + 1_000 * len("http_requestGET")
    reserved = 1_000 * 2 * 1024 * 1024 + prices.update_execution_cycles(UPDATE_INSTRUCTION_LIMIT)
    assert (prices.call_transmission_cycles(len("http_requestGET")), cycles.call_charges(len("http_requestGET"))) == (
        fee, fee + reserved)
    while_held = before - prices.ingress_induction_cycles(len("call") + len(arg)) - prices.update_execution_cycles(update)
    assert replica.canister(a).system.cycles == while_held - attached - fee - reserved

    outcalls.release.set()
    assert pending.result().decode() == "reply 0 T:GET refund=4000\n"
    callback = replica.canister(a).execution_state.instance.meter.used()
    assert replica.canister(a).system.cycles == (while_held - OUTCALL_COST - fee - 1_000 * len("T:GET")
                                                 - prices.update_execution_cycles(callback))


def test_a_call_whose_fee_and_reservations_do_not_fit_is_not_made(replica, pair):
    """ic0.call_perform: "If the function returns a non-zero value, the call cannot (and will not
    be) performed"; the IC returns SYS_TRANSIENT (2) when withdraw_request_cycles cannot take the
    fee and the reservations above the freezing limit (about 42.1B cycles a call)."""
    a, b = pair
    arg = calls(call_spec(b, "bump"))
    state = replica.canister(a)
    per_day = prices.idle_cycles_per_day(cycles.memory_usage(state))
    runs = prices.ingress_induction_cycles(len("call") + len(arg)) + prices.update_execution_cycles(UPDATE_INSTRUCTION_LIMIT)
    seconds = (state.system.cycles - runs - 20 * 10**9) * 86_400 // per_day  # ~20B liquid when `call` runs
    settings = {"canister_id": a, "settings": {"freezing_threshold": seconds}}
    replica.update(MANAGEMENT, "update_settings", candid.encode(METHODS["update_settings"].args, [settings]), sender=CONTROLLER)
    assert replica.update(a, "call", arg).decode() == "perform 0=2\n"
    assert counters(replica, b)["counter"] == 0 and not state.system.call_contexts.callbacks


def test_calls_from_a_to_b_run_in_the_order_a_made_them(replica, pair):
    """Message execution properties, Property 3: "if canister A sends m1 and m2 in that order to
    canister B, then, if both are accepted, m1 will be executed before m2"."""
    a, b = pair
    replica.update(a, "call", calls(*(call_spec(b, "seq", bytes([i])) for i in range(20))))
    replica.update(a, "call", calls(*(call_spec(b, "seq", bytes([i])) for i in range(20, 30))))
    assert replica.query(b, "seen") == bytes(range(30))


def test_call_perform_fails_beyond_the_queue_capacity(replica, pair):
    """Spec, ic0.call_perform: "If the function returns a non-zero value, the call cannot (and
    will not be) performed. This can happen due to a lack of resources within the IC". The IC
    reserves a response slot per outstanding call, 500 per pair of canisters; the 501st call in
    one message gets SYS_TRANSIENT (2), and its cycles stay with the caller."""
    a, b = pair
    reply = replica.update(a, "call", calls(*(call_spec(b, "echo", b"x") for _ in range(500)),
                                            call_spec(b, "echo", b"x", cycles=7))).decode()
    lines = reply.splitlines()
    assert lines[0] == "perform 500=2"
    assert len(lines) == 501 and all(line.startswith("reply ") for line in lines[1:])


def test_a_stopping_canister_waits_for_its_open_call_contexts(replica, pair, outcalls):
    """Spec, IC method stop_canister: "The IC will reject all calls to a stopping canister,
    indicating that the canister is stopping. Responses to a stopping canister are processed as
    usual. When all outstanding responses have been processed (so there are no open call
    contexts), the canister status is changed to stopped and the management canister responds
    to the caller of the stop_canister request."""
    a, b = pair
    ingress = replica.submit_update(a, "call", calls(call_spec(MANAGEMENT, "http_request", b"GET", cycles=OUTCALL_COST)))
    assert outcalls.started.wait(30)
    stop = replica.submit_update(MANAGEMENT, "stop_canister", _canister_arg(a), sender=CONTROLLER)
    assert not stop.done and replica.canister_status(a)["status"] == {"stopping": None}
    from_b = replica.update(b, "call", calls(call_spec(a, "echo", b"hi"))).decode()
    assert from_b.startswith(f"reject 0 code=5 refund=0 Canister {a} is stopping")
    assert reject_of(replica.update, a, "echo", b"").error_code == "IC0509"
    outcalls.release.set()
    assert ingress.result().decode() == "reply 0 T:GET refund=0\n"
    assert stop.result() == b"DIDL\x00\x00"
    assert replica.canister_status(a)["status"] == {"stopped": None}


def test_starting_a_stopping_canister_cancels_the_stop(replica, pair, outcalls):
    """Spec, IC method start_canister: "If the canister status was stopped or stopping then the
    canister status is simply set to running. In the latter case all stop_canister calls which
    are processing fail (and are rejected)." (IC0511, the IC's text)."""
    a, _ = pair
    ingress = replica.submit_update(a, "call", calls(call_spec(MANAGEMENT, "http_request", b"GET", cycles=OUTCALL_COST)))
    assert outcalls.started.wait(30)
    stop = replica.submit_update(MANAGEMENT, "stop_canister", _canister_arg(a), sender=CONTROLLER)
    replica.update(MANAGEMENT, "start_canister", _canister_arg(a), sender=CONTROLLER)
    with pytest.raises(Reject) as cancelled:
        stop.result()
    assert cancelled.value.error_code == "IC0511"
    assert cancelled.value.message == f"Canister {a}'s stop request was cancelled."
    outcalls.release.set()
    assert ingress.result().decode().startswith("reply 0 T:GET")
    assert replica.canister_status(a)["status"] == {"running": None}


def held_outcall(extra: int) -> bytes:
    """A `call` argument: one http_request (held by the test) with `extra` cycles over its cost."""
    return calls(call_spec(MANAGEMENT, "http_request", b"GET", cycles=OUTCALL_COST + extra))


def wait_until_no_callback(replica: Replica, cid: Principal) -> None:
    """The held outcalls' responses have all come back to `cid` (a wait with a timeout)."""
    for _ in range(600):
        with replica.lock:
            if not replica.canister(cid).system.call_contexts.callbacks:
                return
        threading.Event().wait(0.05)
    raise AssertionError(f"the responses to {cid}'s calls never came back")


def test_uninstall_code_rejects_the_open_call_contexts_and_runs_no_callback(replica, pair, outcalls, caller_wasm):
    """Spec, IC method uninstall_code: "Uninstalling a canister's code will reject all
    calls that the canister has not yet responded to, and drop the canister's code and state.
    Outstanding responses to the canister will not be processed, even if they arrive after code
    has been installed again. Cycles attached to such responses will still be refunded though."
    The reject is the IC's: CANISTER_REJECT (4, IC0406) `Canister has been uninstalled.`, with the
    cycles the context had not accepted."""
    a, b = pair
    from_user = replica.submit_update(b, "call", held_outcall(1_000))
    from_a = replica.submit_update(a, "call", calls(call_spec(b, "call", held_outcall(2_000), cycles=5_000)))
    assert len(outcalls.seen) == 2 and not from_user.done and not from_a.done
    replica.update(MANAGEMENT, "uninstall_code", _canister_arg(b), sender=CONTROLLER)

    reject = reject_of(from_user.result)
    assert (reject.code, reject.error_code, reject.message) == (4, "IC0406", "Canister has been uninstalled.")
    assert from_a.result().decode() == "reject 0 code=4 refund=5000 Canister has been uninstalled.\n"

    replica.install_code(b, caller_wasm, sender=CONTROLLER)  # new code, before the responses arrive
    before = replica.canister(b).system
    cycles_before, version_before = before.cycles, before.version
    outcalls.release.set()
    wait_until_no_callback(replica, b)
    after = replica.canister(b).system
    # Each response gives back what the call reserved for it (the transmission of the largest
    # response less this one's 5 bytes, "T:GET", and its callback's execution) and the refund,
    # and no execution is charged.
    reserved = cycles.RESPONSE_TRANSMISSION_RESERVE - prices.response_transmission_cycles(5) + cycles.RESPONSE_EXECUTION_RESERVE
    assert after.cycles == cycles_before + 1_000 + 2_000 + 2 * reserved
    assert after.version == version_before  # no callback ran in the new code
    assert not after.call_contexts.contexts
    assert counters(replica, b) == {"counter": 0, "cleanups": 0}
    assert replica.update(b, "call", calls(call_spec(a, "echo", b"hi"))).decode() == "reply 0 hi refund=0\n"


def test_the_system_s_uninstall_for_unpaid_storage_rejects_them_too(replica, pair, outcalls, caller_wasm):
    """The IC uninstalls a canister that cannot pay for its storage (docs/replica.md, "Cycles")
    as uninstall_code does: its callers get the same reject."""
    a, _ = pair
    b = replica.create_canister(controllers=[CONTROLLER], cycles=10**12)
    replica.install_code(b, caller_wasm, sender=CONTROLLER)
    from_a = replica.submit_update(a, "call", calls(call_spec(b, "call", held_outcall(0), cycles=5_000)))
    assert outcalls.seen and not from_a.done
    replica.tick()  # starts the storage clock
    state = replica.canister(b)
    per_day = prices.idle_cycles_per_day(cycles.memory_usage(state))
    replica.advance_time(state.system.cycles * 86_400 // per_day + 86_400)  # more storage than it can pay
    replica.tick()
    assert state.module is None and state.system.history[-1]["details"] == {"code_uninstall": None}
    assert from_a.result().decode() == "reject 0 code=4 refund=5000 Canister has been uninstalled.\n"
    outcalls.release.set()
    wait_until_no_callback(replica, b)
    assert not state.system.call_contexts.contexts


def test_canisters_call_the_management_canister_as_themselves(replica, pair):
    """Spec, IC method raw_rand / deposit_cycles: "This method can only be called by canisters";
    deposit_cycles "deposits the cycles included in this call into the specified canister";
    canister_status: "Only the controllers of the canister or the canister itself can request
    its status" (the caller is the canister)."""
    a, b = pair
    assert reject_of(replica.update, MANAGEMENT, "raw_rand", b"DIDL\x00\x00", sender=CONTROLLER).message == (
        "Only canisters can call ic00 method raw_rand")
    reply = replica.update(a, "call", calls(call_spec(MANAGEMENT, "raw_rand", b"DIDL\x00\x00"))).decode("latin-1")
    assert reply.startswith("reply 0 DIDL") and reply.endswith(" refund=0\n")
    status_of_b = replica.update(a, "call", calls(call_spec(MANAGEMENT, "canister_status", _canister_arg(b)))).decode()
    assert status_of_b.startswith(f"reject 0 code=5 refund=0 Only the controllers of the canister {b} can control it.")
    before = replica.canister(b).system.cycles
    deposit = replica.update(a, "call", calls(call_spec(MANAGEMENT, "deposit_cycles", _canister_arg(b), cycles=123_456)))
    assert deposit.decode() == "reply 0 DIDL\x00\x00 refund=0\n"
    assert replica.canister(b).system.cycles == before + 123_456


def test_http_request_from_a_user_is_refused_as_on_the_ic(replica):
    """Spec, IC method http_request: callable by canisters only; the IC's text."""
    reject = reject_of(replica.update, MANAGEMENT, "http_request", b"DIDL\x00\x00", sender=CONTROLLER)
    assert (reject.code, reject.error_code, reject.message) == (4, "IC0406", "Only canisters can call ic00 method http_request")


def test_an_outcall_runs_off_the_replica_lock_and_answers_the_callback(replica, pair, outcalls):
    """The outcall is prepared (cost taken) under the lock, sent off it, transformed by a query
    of the calling canister, and its response delivered to the caller's callback; the cycles
    attached beyond the cost are refunded. Meanwhile the replica serves every other call."""
    a, b = pair
    attached = OUTCALL_COST + 4_000
    pending = replica.submit_update(a, "call", calls(call_spec(MANAGEMENT, "http_request", b"request", cycles=attached)))
    assert outcalls.started.wait(30) and not pending.done
    assert replica.update(b, "bump") == b"" and counters(replica, b)["counter"] == 1
    waiter = threading.Thread(target=pending.wait)
    waiter.start()
    outcalls.release.set()
    waiter.join(30)
    assert pending.result().decode() == "reply 0 T:request refund=4000\n"
    assert outcalls.seen == [(b"request", a, attached)]
    assert not replica.canister(a).system.call_contexts.contexts


def test_an_outcall_reject_reaches_the_reject_callback(replica, pair, outcalls):
    """A reject of the outcall (e.g. no consensus: SYS_TRANSIENT) reaches the caller's reject
    callback with its code and text; the cost stays charged."""
    a, _ = pair
    outcalls.failure = Reject(2, "No consensus could be reached. Replicas had different responses.")
    outcalls.release.set()
    reply = replica.update(a, "call", calls(call_spec(MANAGEMENT, "http_request", b"x", cycles=OUTCALL_COST + 10))).decode()
    assert reply == "reject 0 code=2 refund=10 No consensus could be reached. Replicas had different responses.\n"


def test_too_few_cycles_for_an_outcall_are_refunded_with_the_reject(replica, pair):
    a, _ = pair
    reply = replica.update(a, "call", calls(call_spec(MANAGEMENT, "http_request", b"x", cycles=5))).decode()
    assert reply.startswith("reject 0 code=4 refund=5 http_request request sent with 5 cycles")


def _canister_arg(cid: Principal) -> bytes:
    return candid.encode([candid.parse_type("record { canister_id : principal }")], [{"canister_id": cid}])


def test_the_js_agent_polls_an_update_that_waits_on_a_call_to_its_reply(caller_wasm, monkeypatch, tmp_path):
    """Through the official JS agent. Spec, "Synchronous canister calling": "If an
    implementation specific timeout for the request is reached while the replica waits for the
    terminal state, then the replica will reply with an empty body and a 202 HTTP status code.
    In such cases, the user should use read_state to determine the status of the call." The
    call completes when the outcall answers, and the agent polls read_state to the certified
    reply."""
    import json
    import subprocess

    from icchat.paths import REPO
    from icchat.replica.http import HttpServer, api

    monkeypatch.setattr(api, "SYNC_CALL_WAIT", 0.2)
    outcalls = HeldOutcalls()
    with Replica(tmp_path / "state", outcalls=outcalls) as replica, HttpServer(replica, port=0) as server:
        a = install(replica, caller_wasm)
        arg = calls(call_spec(MANAGEMENT, "http_request", b"via agent", cycles=OUTCALL_COST))
        agent = subprocess.Popen(
            ["node", str(REPO / "tests" / "js" / "agent_inter_canister.mjs"), server.url, str(a), arg.hex()],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
        )
        try:
            answered = agent.stdout.readline()
            assert json.loads(answered or "{}") == {"status": 202}, agent.stderr.read()[-4000:]
            assert outcalls.started.is_set() and replica.canister(a).system.call_contexts.contexts
            outcalls.release.set()
            out, err = agent.communicate(timeout=120)
        finally:
            outcalls.release.set()
            if agent.poll() is None:
                agent.kill()
        assert agent.returncode == 0, err[-4000:]
        assert json.loads(out) == {"reply": "reply 0 T:via agent refund=0\n"}
