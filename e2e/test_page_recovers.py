"""The page while the replica dies: SIGKILL of the real replica process with the page open, in
Chromium. The page says clearly that the onchain answer failed and keeps the question; answers
on this device go on meanwhile; once the replica is back (restarted from its state directory on
the same port) one click on Send answers onchain again, fast and verified, with the tokens an
uninterrupted run gives. Screenshots go to build/e2e-artifacts/."""

from __future__ import annotations

import json
import os
import signal
import time

from test_chat_page import REPLY_TIMEOUT
from test_model_switch import answer_data, ask, switch


def kill_replica(stack) -> None:
    """SIGKILL the stack's replica (no handler runs, no final checkpoint) and wait for its end."""
    record = json.loads((stack.state_dir / "replica.pid").read_text())
    pid = int(record["pid"])
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)  # our child: icchat up started it in this process
        except ChildProcessError:
            done = pid
        if done:
            return
        time.sleep(0.05)
    raise AssertionError(f"the replica (pid {pid}) did not die")


def restart_replica(stack) -> float:
    from icchat.stack import replica_process

    started = time.monotonic()
    replica_process.start(stack.state_dir, stack.info.port)
    return time.monotonic() - started


def test_the_page_survives_a_replica_kill_and_recovers_with_one_click(chat, stack, artifacts, figures):
    chat.settings(max_new_tokens=10, temperature=0.8, seed=5)
    reference = {}
    for backend in ("onchain-fast", "onchain-verified"):  # each in a new conversation
        chat.new_chat()
        switch(chat, backend)
        reference[backend] = ask(chat, "Before the crash: are you there?")["tokenIds"]
        assert reference[backend], backend
    chat.new_chat()
    kill_replica(stack)
    try:
        switch(chat, "onchain-verified")
        question = "During the crash: are you there?"
        chat.page.fill("#prompt", question)
        failed_at = time.monotonic()
        chat.page.press("#prompt", "Enter")
        chat.page.locator("#error:not([hidden])").wait_for(timeout=REPLY_TIMEOUT)
        figures["page_error_after_kill_s"] = round(time.monotonic() - failed_at, 2)
        chat.shot(artifacts, "40-replica-killed")
        message = chat.page.text_content("#error-text")
        assert "The onchain answer failed" in message and "send it again" in message, message
        assert "cannot be reached (the replica or the network is down)" in message, message
        assert "\n" not in message.strip()
        assert chat.page.input_value("#prompt") == question  # nothing typed is lost
        assert chat.page.locator("#messages .msg").count() == 0  # no half answer shown
        assert chat.state() == "ready"
        # the model on this device does not need the replica
        chat.page.click("#error-device")
        got = ask(chat, "On this device, meanwhile?")
        assert got["origin"] == "device" and got["tokens"] > 0
    finally:
        figures["replica_restart_s"] = round(restart_replica(stack), 2)
    chat.new_chat()
    for backend in ("onchain-fast", "onchain-verified"):
        switch(chat, backend)
        chat.page.fill("#prompt", "Before the crash: are you there?")
        recovered_at = time.monotonic()
        chat.page.click("#send")  # the one click
        chat.wait_done(0)
        figures[f"page_recovered_{backend}_s"] = round(time.monotonic() - recovered_at, 2)
        got = answer_data(chat)
        assert chat.page.is_hidden("#error")
        assert got["origin"] == backend and got["tokenIds"] == reference[backend], (backend, got)
        chat.new_chat()
    chat.shot(artifacts, "41-replica-back")
    switch(chat, "device")
