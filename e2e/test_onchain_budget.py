"""Issue 23 on the page, in Chromium against the real stack: what each mode tells the user about
who sees the conversation; the onchain budget running out mid-conversation (the canister's own
line, "resumes at", the question back in the box, "Answer on this device" answering here); the
canister's `usage` in the settings; "Forget my onchain conversation". The gpt2 canister's
controller (the stack's identity) changes its inference policy. Screenshots go to
build/e2e-artifacts/.

Also, without a browser: web/onchain.mjs reads the canister's line out of the official agent's
errors both ways a refusal arrives (a reject; an HTTP 400 whose body is the replica's text).
"""

from __future__ import annotations

import json
import subprocess

from test_chat_page import REPLY_TIMEOUT
from test_model_switch import answer_data, switch

from icchat.paths import REPO

# The agent's own error classes, built as HttpAgent builds them for each way a refusal arrives.
REJECT_REASONS = r"""
const { failureOf } = await import(process.argv[1]);
const { ProtocolError, RejectError, HttpErrorCode, UncertifiedRejectUpdateErrorCode, CertifiedRejectErrorCode } = await import("@icp-sdk/core/agent");
const line = process.argv[2];
const replicaText = "Error from Canister bkyz2-fmaaa-aaaaa-qaaaq-cai: Canister called `ic0.trap` with message: '" + line +
  "'.\nConsider gracefully handling failures from this canister or altering the canister to handle exceptions. See documentation: https://internetcomputer.org/docs/current/references/execution-errors#trapped-explicitly";
const id = new Uint8Array(32);
console.log(JSON.stringify({
  http400: failureOf(ProtocolError.fromCode(new HttpErrorCode(400, "Bad Request", [], replicaText))),
  inspectReject: failureOf(RejectError.fromCode(new UncertifiedRejectUpdateErrorCode(id, 5, replicaText, "IC0503"))),
  methodReject: failureOf(RejectError.fromCode(new CertifiedRejectErrorCode(id, 4, line, "IC0406"))),
  stopped: failureOf(RejectError.fromCode(new CertifiedRejectErrorCode(id, 5, "Canister bkyz2-fmaaa-aaaaa-qaaaq-cai is stopped", "IC0508"))),
}));
"""
BUDGET_LINE = ("onchain inference budget spent: this canister allows 1000B instructions per 24 h and they are "
               "used; it resumes at 2026-12-07 00:00 UTC (in 3 h 12 min). Answer on this device meanwhile.")


def test_the_canisters_line_is_read_from_a_reject_and_from_an_http_400():
    out = subprocess.run(["node", "--input-type=module", "-e", REJECT_REASONS, (REPO / "web" / "onchain.mjs").as_uri(), BUDGET_LINE],
                         cwd=REPO, capture_output=True, text=True, check=True, timeout=60).stdout
    got = json.loads(out)
    for way in ("http400", "inspectReject", "methodReject"):
        assert got[way]["line"] == BUDGET_LINE and got[way]["refused"] is True, (way, got[way])
    assert got["http400"]["httpStatus"] == 400
    # a canister that is stopped did not refuse: the page says the answer failed, and why
    assert got["stopped"] == {"line": "Canister bkyz2-fmaaa-aaaaa-qaaaq-cai is stopped", "refused": False, "rejectCode": 5}


def test_each_mode_says_who_sees_the_conversation_and_onchain_is_a_choice(chat, artifacts):
    page = chat.page
    # a first visit answers on this device: onchain is never picked for the user
    assert page.is_checked("#where input[value=device]")
    assert page.is_hidden("#forget-onchain")  # nothing was sent onchain from this browser yet
    privacy, notes = {}, {}
    for backend in ("onchain-fast", "onchain-verified", "device"):
        switch(chat, backend)
        assert page.get_attribute("#privacy", "data-mode") == backend
        privacy[backend], notes[backend] = page.text_content("#privacy"), page.text_content("#where-note")
        chat.shot(artifacts, f"30-privacy-{backend}")
    assert "nothing you type leaves it" in privacy["device"]
    assert "model files come from the gpt2 canister" in privacy["device"]
    assert "stay in this browser" not in privacy["onchain-fast"] + privacy["onchain-verified"]
    fast, verified = privacy["onchain-fast"], privacy["onchain-verified"]
    assert "sent to the gpt2 canister" in fast and "one node writes the answer by query" in fast
    assert "every node of its subnet" in fast  # prefill is an update: the subnet holds the conversation
    assert "sent to the gpt2 canister" in verified and "every node of its subnet sees it" in verified
    for text in (fast, verified):
        assert "at least 10 minutes after its last answer" in text and "until you forget them" in text
    # and the note under the switch, where the mode is chosen
    assert "one node writes the answer by query" in notes["onchain-fast"]
    assert "every node of its subnet sees your conversation" in notes["onchain-verified"]


def test_the_budget_runs_out_mid_conversation(chat, stack, artifacts, figures):
    page = chat.page
    chat.new_chat()
    chat.settings(max_new_tokens=8, temperature=0.8, seed=5)
    switch(chat, "onchain-verified")
    first = chat.ask("What is a canister?")
    assert first["origin"] == "onchain-verified" and first["tokens"] > 0, first

    # the settings show the canister's bound before asking again: its usage query
    page.click("#settings-toggle")
    page.locator("#usage[data-state=shown]").wait_for(timeout=REPLY_TIMEOUT)  # read on opening
    shown = json.loads(page.get_attribute("#usage", "data-usage"))
    assert shown["window_spent"] > 0 and shown["caller_spent"] > 0, shown
    usage_text = page.text_content("#usage")
    assert "Spent in this window" in usage_text and "refills at" in usage_text and "UTC (in " in usage_text
    page.locator("#onchain-settings").scroll_into_view_if_needed()
    chat.shot(artifacts, "31-usage-in-settings")
    page.click("#settings-close")

    usage = stack.usage()
    question = "And who pays for the answer?"
    # the controller lowers the window's budget below what is spent: the next call overruns it
    stack.set_inference_policy(window_instructions=max(1, usage["window_spent"] // 2))
    try:
        page.fill("#prompt", question)
        page.press("#prompt", "Enter")
        page.locator("#error:not([hidden])").wait_for(timeout=REPLY_TIMEOUT)
        chat.shot(artifacts, "32-budget-spent")
        message = page.text_content("#error-text")
        figures["budget_refusal"] = message
        assert page.get_attribute("#error", "data-kind") == "refused"
        assert message.startswith("onchain inference budget spent: "), message  # the canister's line, as it is
        assert "resumes at" in message and "UTC" in message and "Your question is back in the box." in message
        assert "\n" not in message and "ic0.trap" not in message and "Request ID" not in message
        assert page.input_value("#prompt") == question  # the question is back in the box
        assert page.locator("#messages .msg").count() == 2  # the first question and its answer only
        assert page.is_visible("#error-device") and page.is_hidden("#error-reload")  # a reload would not help
        # "Answer on this device" answers the question here
        page.click("#error-device")
        chat.wait_done(1)
        got = answer_data(chat)
        assert got["origin"] == "device" and got["tokens"] > 0, got
        assert page.is_checked("#where input[value=device]") and page.is_hidden("#error")
        assert page.input_value("#prompt") == ""
        stored = page.evaluate("""() => {
            const s = JSON.parse(localStorage.getItem('icchat.conversations.v1'));
            return s.list.find((c) => c.id === s.current).messages.map((m) => [m.role, m.text, m.origin ?? null]);
        }""")
        assert [(role, origin) for role, _, origin in stored] == [
            ("user", None), ("assistant", "onchain-verified"), ("user", None), ("assistant", "device")]
        assert stored[2][1] == question
        chat.shot(artifacts, "33-answered-on-device")
        # refused before execution (canister_inspect_message): the question cost the canister nothing
        assert stack.usage()["window_spent"] == usage["window_spent"]
    finally:
        stack.set_inference_policy(window_instructions=usage["window_instructions"])


def test_forget_my_onchain_conversation(chat, stack):
    page = chat.page
    assert page.is_visible("#forget-onchain")  # onchain was used from this browser
    page.click("#forget-onchain")
    page.locator("#forget-note", has_text="Forgotten").wait_for(timeout=REPLY_TIMEOUT)
    assert "emptied its cache of your conversations" in page.text_content("#forget-note")
    assert page.is_hidden("#forget-onchain")
    # onchain still answers afterwards (the canister is fed the conversation again)
    switch(chat, "onchain-fast")
    assert chat.ask("Still there?")["origin"] == "onchain-fast"
    assert page.is_visible("#forget-onchain")
    switch(chat, "device")
