"""The interpreter snapshot (web/python-snapshot.mjs): the first visit boots Pyodide and, once the
chat is idle, makes a snapshot in a worker of its own; the next visit restores it instead of
booting, and answers as before; a snapshot that does not restore is dropped, the interpreter
booted, and a new snapshot made."""

from __future__ import annotations

import time

from test_chat_page import BOOT_TIMEOUT, SETTLED, ChatPage, timings

CACHE = "icchat-python-snapshot"
SIZES = f"""async () => {{
    if (!(await caches.has('{CACHE}'))) return [];
    const cache = await caches.open('{CACHE}');
    return Promise.all((await cache.keys()).map(async (r) => (await (await cache.match(r)).arrayBuffer()).byteLength));
}}"""
MADE = f"async () => {{ const sizes = await ({SIZES})(); return sizes.length === 1 && sizes[0] > 1e7; }}"
SNAPSHOT_TIMEOUT_S = 180


def wait_for_snapshot(chat: ChatPage) -> None:
    """Until the page's cache holds one snapshot (wait_for_function would not await the check)."""
    deadline = time.monotonic() + SNAPSHOT_TIMEOUT_S
    while not chat.page.evaluate(MADE):
        assert time.monotonic() < deadline, f"no snapshot after {SNAPSHOT_TIMEOUT_S} s: {chat.page.evaluate(SIZES)}"
        time.sleep(0.5)


def reload(chat: ChatPage) -> dict:
    chat.page.reload()
    chat.page.locator(SETTLED).wait_for(timeout=BOOT_TIMEOUT)
    assert chat.state() == "ready", chat.page.text_content("#error-text")
    return timings(chat)


def snapshot_phase(chat: ChatPage) -> str | None:
    """What the page last heard of the snapshot: making | stopped | kept | failed."""
    return chat.page.evaluate("document.querySelector('#about').dataset.snapshot ?? null")


def test_a_reply_stops_the_snapshot_being_made_and_it_is_made_later(browser, stack):
    context = browser.new_context(viewport={"width": 1200, "height": 820})
    try:
        chat = ChatPage(context, stack).open()
        deadline = time.monotonic() + SNAPSHOT_TIMEOUT_S
        while snapshot_phase(chat) != "making":  # the chat went idle: the snapshot is being made
            assert time.monotonic() < deadline, f"no snapshot started: {snapshot_phase(chat)}"
            time.sleep(0.05)
        answer = chat.ask("Hello, how are you?")
        assert answer["origin"] == "device" and answer["tokens"] > 0, answer
        # called off when the reply began (its worker terminated), and nothing half-made is kept
        assert snapshot_phase(chat) == "stopped" and chat.page.evaluate(SIZES) == []
        wait_for_snapshot(chat)  # made at the next idle moment
        kept = time.monotonic() + 10
        while snapshot_phase(chat) != "kept":  # said just after it is stored
            assert time.monotonic() < kept, snapshot_phase(chat)
            time.sleep(0.05)
    finally:
        context.close()


def test_the_next_visit_restores_the_snapshot_and_a_broken_one_is_replaced(browser, stack):
    context = browser.new_context(viewport={"width": 1200, "height": 820})
    try:
        chat = ChatPage(context, stack).open()
        assert chat.state() == "ready", chat.page.text_content("#error-text")
        assert timings(chat)["pythonFrom"] == "boot"
        wait_for_snapshot(chat)  # made while idle, one per build

        assert reload(chat)["pythonFrom"] == "snapshot"
        answer = chat.ask("Hello, how are you?")
        assert answer["origin"] == "device" and answer["tokens"] > 0, answer

        chat.page.evaluate(f"""async () => {{  // a snapshot that cannot restore (truncated, say)
            const cache = await caches.open('{CACHE}');
            const [key] = await cache.keys();
            await cache.put(key, new Response(new Uint8Array(4096)));
        }}""")
        assert reload(chat)["pythonFrom"] == "boot"
        answer = chat.ask("And now?")
        assert answer["origin"] == "device" and answer["tokens"] > 0, answer
        wait_for_snapshot(chat)  # dropped and made again
        assert chat.errors == []
    finally:
        context.close()
