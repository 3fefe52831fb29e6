"""Hostile pages and hostile text against the chat page, in real Chromium on `icchat up`'s stack.

- A page on another origin (http://evil.localhost:<port>/, served by a server of this test, in the
  same browser profile as the chat page) cannot read the chat page's stored conversation
  (localStorage, Cache Storage, IndexedDB, an iframe, a window it opened) and cannot upload to
  the page's asset canister or the gpt2 canister: with the official agent and whatever identity
  it makes itself (it cannot read the user's), every write is rejected.
- Markup in prompts, in model answers (a compromised model: the worker's streamed answer and
  final message are replaced by markup before the page sees them) and in file names (the
  loader's messages carry the model's file names: status, errors) is shown literally; nothing
  runs (a window flag that any executed payload would set stays unset), also after a reload
  renders the stored conversation. The CSP blocks inline handlers even if markup reached the DOM.
- Hostile URLs on the stack's port get plain-text error pages: nothing in them runs.
"""

from __future__ import annotations

import http.client
import http.server
import json
import threading
from collections.abc import Iterator
from urllib.parse import quote

import pytest

from icchat.paths import BUILD

READY = "body[data-state=ready]"
BOOT_TIMEOUT = 120_000
REPLY_TIMEOUT = 90_000
SECRET = "my secret passphrase is zebra-7391"
# Each payload sets window.__pwned if it ever runs.
PAYLOADS = ["<img src=x onerror=\"window.__pwned='img'\">", "<script>window.__pwned='script'</script>",
            "<svg onload=\"window.__pwned='svg'\"></svg>", "<iframe srcdoc=\"<script>parent.__pwned='iframe'</script>\"></iframe>",
            "<a href=\"javascript:window.__pwned='link'\">click</a>"]
HOSTILE = " ".join(PAYLOADS)
CHECKED = "#messages, #conversations, #status, #error, #model-label, #warning"

# Wraps the page's Worker: streamed answers and final messages are replaced by the markup in
# window.__answer (a model that says whatever an attacker wants), and window.__deliver(message)
# hands the page a worker message of the test's choosing (file names in status and errors).
COMPROMISED_WORKER = """
(() => {
  const Real = window.Worker;
  window.Worker = class extends Real {
    set onmessage(handler) {
      window.__deliver = (data) => handler({ data });
      super.onmessage = (event) => {
        const data = event.data;
        if (window.__answer && data?.type === 'delta') return handler({ data: { ...data, text_delta: window.__sent ? '' : (window.__sent = true, window.__answer) } });
        if (window.__answer && data?.type === 'done') return handler({ data: { ...data, text: window.__answer } });
        return handler(event);
      };
    }
    get onmessage() { return super.onmessage; }
  };
})();
"""


def agent_bundle() -> bytes:
    found = sorted((BUILD / "web" / "agent").glob("*/agent.js"))
    assert found, "the web build's agent bundle is missing (icchat build)"
    return found[-1].read_bytes()


class EvilSite:
    """http://evil.localhost:<port>/: an empty page and a copy of the official agent bundle."""

    def __init__(self) -> None:
        agent = agent_bundle()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body, kind = (agent, "text/javascript") if self.path == "/agent.js" else (b"<!doctype html><title>evil</title><body>", "text/html")
                self.send_response(200)
                self.send_header("content-type", kind)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://evil.localhost:{self.server.server_address[1]}/"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def evil() -> Iterator[EvilSite]:
    site = EvilSite()
    yield site
    site.close()


def open_chat(context, stack, *scripts: str):
    page = context.new_page()
    for script in scripts:
        page.add_init_script(script)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(stack.page_url)
    page.locator(READY).wait_for(timeout=BOOT_TIMEOUT)
    page.dialogs = dialogs
    return page


def set_max_tokens(page, n: int) -> None:
    page.click("#settings-toggle")
    page.evaluate("""(n) => { const i = document.getElementById('max_new_tokens'); i.value = n;
                     i.dispatchEvent(new Event('input', { bubbles: true })); }""", str(n))
    page.click("#settings-close")


def ask(page, text: str) -> str:
    before = page.locator("#messages .msg.assistant").count()
    page.fill("#prompt", text)
    page.press("#prompt", "Enter")
    page.locator("#messages .msg.assistant[data-state=done]").nth(before).wait_for(timeout=REPLY_TIMEOUT)
    return page.locator("#messages .msg.assistant .text").nth(before).text_content()


def page_bytes(stack) -> bytes:
    """index.html through the gateway (verified), from Python: Node and Python do not resolve
    *.localhost, so the Host header names the canister."""
    connection = http.client.HTTPConnection("127.0.0.1", stack.info.port, timeout=30)
    try:
        connection.request("GET", "/index.html", headers={"Host": f"{stack.info.frontend}.localhost:{stack.info.port}"})
        response = connection.getresponse()
        assert response.status == 200
        return response.read()
    finally:
        connection.close()


def assert_nothing_ran(page) -> None:
    assert page.evaluate("window.__pwned") is None, f"a payload ran: {page.evaluate('window.__pwned')}"
    assert page.dialogs == []
    found = page.evaluate("""(sel) => [...document.querySelectorAll(sel)].flatMap((root) =>
        [...root.querySelectorAll('img, script, iframe, a[href^=javascript], [onerror], [onload]')].map((e) => e.outerHTML))""", CHECKED)
    assert found == [], found


@pytest.fixture(scope="module")
def chat_context(browser):
    context = browser.new_context(viewport={"width": 1200, "height": 820})
    yield context
    context.close()


def test_another_origin_cannot_read_the_stored_conversation(chat_context, stack, evil):
    chat = open_chat(chat_context, stack)
    set_max_tokens(chat, 4)
    ask(chat, SECRET)
    # Positive control: the chat page's own origin holds the conversation and the model cache.
    own = chat.evaluate("async () => ({ storage: JSON.stringify({ ...localStorage }), caches: await caches.keys() })")
    assert SECRET in own["storage"] and any(name.startswith("icchat-model-") for name in own["caches"]), own["caches"]

    page = chat_context.new_page()  # same browser profile, another origin
    page.goto(evil.url)
    seen = page.evaluate("""async (target) => {
        const out = { storage: JSON.stringify({ ...localStorage }), caches: await caches.keys(),
                      databases: (await indexedDB.databases()).map((d) => d.name) };
        const frame = document.createElement('iframe');
        frame.src = target;
        document.body.append(frame);
        await new Promise((done) => { frame.onload = done; setTimeout(done, 8000); });
        try { out.frame = JSON.stringify({ ...frame.contentWindow.localStorage }); } catch (e) { out.frameError = e.name; }
        try { out.frameDocument = frame.contentWindow.document.body.innerText; } catch (e) { out.frameDocumentError = e.name; }
        const opened = window.open(target);
        await new Promise((done) => setTimeout(done, 4000));
        try { out.opened = JSON.stringify({ ...opened.localStorage }); } catch (e) { out.openedError = e.name || String(e); }
        try { out.openedDocument = opened.document.body.innerText; } catch (e) { out.openedDocumentError = e.name || String(e); }
        try {  // the page's origin answers fetches, but only with what it serves to everyone
          out.fetched = await (await fetch(target + 'config.json')).text();
        } catch (e) { out.fetchError = String(e); }
        return out;
    }""", stack.page_url)
    assert SECRET not in json.dumps(seen), seen
    assert "icchat" not in seen["storage"] and seen["caches"] == [] and seen["databases"] == []
    assert seen.get("frameError") == "SecurityError" and seen.get("frameDocumentError") == "SecurityError", seen
    assert "opened" not in seen and "openedDocument" not in seen, seen
    # The chat page still has its conversation.
    assert SECRET in chat.evaluate("JSON.stringify({ ...localStorage })")


def test_another_origin_cannot_upload_with_any_identity_it_can_make(chat_context, stack, evil, figures):
    page = chat_context.new_page()
    page.goto(evil.url)
    before = page_bytes(stack)
    outcomes = page.evaluate("""async ({ host, canisters }) => {
        const m = await import('/agent.js');
        const { IDL } = m;
        const Store = IDL.Record({ key: IDL.Text, content_type: IDL.Text, content_encoding: IDL.Text,
                                   content: IDL.Vec(IDL.Nat8), sha256: IDL.Opt(IDL.Vec(IDL.Nat8)) });
        const page = new TextEncoder().encode("<script>window.__pwned='upload'</script>");
        const calls = {
          store: IDL.encode([Store], [{ key: '/index.html', content_type: 'text/html', content_encoding: 'identity', content: page, sha256: [] }]),
          create_batch: IDL.encode([IDL.Record({})], [{}]),
          clear: IDL.encode([IDL.Record({})], [{}]),
          delete_asset: IDL.encode([IDL.Record({ key: IDL.Text })], [{ key: '/index.html' }]),
        };
        const out = {};
        for (const [who, identity] of [['anonymous', new m.AnonymousIdentity()], ['own key', m.Ed25519KeyIdentity.generate()]]) {
          const agent = await m.HttpAgent.create({ host, identity, shouldFetchRootKey: true });
          calls.authorize = IDL.encode([IDL.Principal], [identity.getPrincipal()]);
          for (const canister of canisters) {
            for (const [method, arg] of Object.entries(calls)) {
              try {
                await agent.update(m.Principal.fromText(canister), { methodName: method, arg });
                out[`${who} ${canister} ${method}`] = 'ACCEPTED';
              } catch (e) {
                out[`${who} ${canister} ${method}`] = m.rejectReason(e);
              }
            }
          }
        }
        return out;
    }""", {"host": f"http://localhost:{stack.info.port}", "canisters": [str(stack.info.frontend), str(stack.info.gpt2)]})
    assert len(outcomes) == 2 * 2 * 5
    figures["hostile_origin_upload_rejects"] = outcomes  # the canisters' reasons, for the record
    accepted = {call: reason for call, reason in outcomes.items() if reason == "ACCEPTED" or ("permission" not in reason.lower()
                and "controller" not in reason.lower() and "anonymous" not in reason.lower())}
    assert accepted == {}, accepted
    assert page_bytes(stack) == before


def test_markup_in_prompts_answers_and_file_names_is_shown_as_text(browser, stack, artifacts):
    context = browser.new_context(viewport={"width": 1200, "height": 820})
    try:
        chat = open_chat(context, stack, COMPROMISED_WORKER)
        set_max_tokens(chat, 4)
        chat.evaluate("(answer) => { window.__answer = answer; }", HOSTILE)
        answer = ask(chat, HOSTILE)
        assert answer == HOSTILE  # the answer is the markup, shown as its own text
        users = chat.locator("#messages .msg.user .text").all_text_contents()
        assert users[-1] == HOSTILE
        assert HOSTILE[:60] in chat.text_content("#conversations")  # the conversation's title
        # File names and labels arrive in the loader's and worker's messages.
        name = "onnx/" + PAYLOADS[0] + ".onnx"
        chat.evaluate("""(name) => {
            window.__deliver({ type: 'status', phase: 'weights', text: 'Downloading ' + name });
            window.__deliver({ type: 'config', label: name, meaningful: false, notice: name });
            window.__deliver({ type: 'error', kind: 'integrity', message: 'file ' + name + ' has SHA-256 00, the manifest says ff.', fatal: false });
        }""", name)
        assert name in chat.text_content("#error-text") and chat.text_content("#model-label") == name
        chat.screenshot(path=str(artifacts / "hostile-markup.png"))
        assert_nothing_ran(chat)
        # Stored and rendered again from localStorage: still text.
        chat.evaluate("() => { window.__answer = null; }")
        chat.reload()
        chat.locator(READY).wait_for(timeout=BOOT_TIMEOUT)
        chat.locator("#conversations button").first.click()
        texts = chat.locator("#messages .msg .text").all_text_contents()
        assert HOSTILE in texts and texts.count(HOSTILE) >= 2, texts
        assert_nothing_ran(chat)
        # Even markup that reached the DOM as HTML cannot run inline code: the CSP forbids it.
        violations = chat.evaluate("""async () => {
            const seen = [];
            document.addEventListener('securitypolicyviolation', (e) => seen.push(e.violatedDirective));
            const box = document.createElement('div');
            box.innerHTML = `<img src="data:," onerror="window.__pwned='csp'">`;
            document.body.append(box);
            const script = document.createElement('script');
            script.textContent = "window.__pwned = 'inline script'";
            document.body.append(script);
            await new Promise((done) => setTimeout(done, 500));
            box.remove(); script.remove();
            return seen;
        }""")
        assert chat.evaluate("window.__pwned") is None
        assert any(v.startswith("script-src") for v in violations), violations
    finally:
        context.close()


def test_hostile_urls_get_plain_text_error_pages(chat_context, stack):
    page = chat_context.new_page()
    port = stack.info.port
    script = "<script>window.__pwned='url'</script>"
    for url in [f"http://localhost:{port}/?canisterId={quote(script)}",
                f"http://127.0.0.1:{port}/x?canisterId={quote(script)}",
                f"{stack.page_url}{quote(script)}.js",
                f"{stack.page_url}%ff%fe{quote(script)}",
                f"http://{stack.info.gpt2}.localhost:{port}/model/{quote(script)}.onnx"]:
        response = page.goto(url)
        assert response is not None and response.status in (400, 404), (url, response.status if response else None)
        assert response.headers["content-type"].startswith("text/plain"), (url, response.headers)
        assert page.evaluate("window.__pwned") is None, url
        assert page.evaluate("document.querySelectorAll('script').length") == 0, url
