"""The chat worker's Python half (web/worker.js runs it in Pyodide): one chat runtime and the
backends that can answer on this page, by label ("device", "onchain-fast", "onchain-verified",
"llm-service", and a measurement's probe). It takes and returns plain Python data, the worker<->page messages
of web/protocol.mjs as dicts, so it runs, and is tested, in CPython as in Pyodide.

`JsChatWorker` and `JsCanisterClient` are the one place where JS objects become Python data and back
(Pyodide only).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

from icchat.chat import speed
from icchat.chat.backend import Backend, BackendError
from icchat.chat.conversation import Conversation
from icchat.chat.device import DeviceBackend
from icchat.chat.llm_service import LABEL as LLM_SERVICE
from icchat.chat.llm_service import LlmServiceBackend, RouteClient
from icchat.chat.onchain import MODES, Gpt2Client, OnchainBackend
from icchat.chat.runtime import ChatRuntime
from icchat.chat.settings import Settings
from icchat.chat.template import ChatTemplate
from icchat.chat.tokenizer import GPT2_VOCAB_SIZE, AddedToken, GPT2Tokenizer

DEVICE = "device"
# What the page is sent of a ReplyEvent (web/protocol.mjs: DeltaMessage, DoneMessage).
DELTA_FIELDS = ("text_delta", "tokens", "stats")
DONE_FIELDS = ("text", "origin", "stop_reason", "trimmed_turns", "trimmed_tokens", "stats")


class ChatWorker:
    """The page's chat: which backends answer, and a reply as the messages the page is sent.

    n_ctx: the model's context window (the manifest's `model.n_ctx`); every backend gets it.
    template: the model's chat format (the manifest's `chat`; None: the plain one).
    vocab_size: the model's vocabulary (the manifest's `model.vocab_size`), top_k's bound.
    """

    def __init__(self, tokenizer: GPT2Tokenizer, n_ctx: int, template: ChatTemplate | None = None,
                 vocab_size: int = GPT2_VOCAB_SIZE) -> None:
        self.runtime = ChatRuntime(tokenizer, template)
        self.n_ctx = int(n_ctx)
        self.vocab_size = int(vocab_size)
        self.backends: dict[str, Backend] = {}
        self.service: LlmServiceBackend | None = None  # the LLM service via the route canister

    @classmethod
    def from_bundle_files(cls, vocab_json: str | bytes, merges_txt: str | bytes,
                          manifest: Mapping[str, Any]) -> ChatWorker:
        """From the bundle's vocab.json and merges.txt, as loaded and checked by the worker, and
        its manifest: the context window, the vocabulary, the added tokens and the chat format."""
        model = manifest["model"]
        added = AddedToken.parse(manifest.get("tokenizer", {}).get("added_tokens", []))
        template = ChatTemplate.from_record(manifest.get("chat"), model.get("eos_token_id"))
        return cls(GPT2Tokenizer.from_strings(vocab_json, merges_txt, added), model["n_ctx"], template,
                   model.get("vocab_size", GPT2_VOCAB_SIZE))

    def use_engine(self, engine: Any, label: str = DEVICE) -> None:
        """Answer as `label` on `engine` (the icchat engine or onnxruntime-web's, SPEC's decoder
        shape: forward(tokens, pos), next(temperature, top_k, top_p, seed, position))."""
        self.backends[label] = DeviceBackend(engine, self.n_ctx, label)

    def use_onchain(self, client: Gpt2Client, prices: Mapping[str, Any] | None) -> None:
        """Answer onchain too, in both modes, through `client` (prices: config.json's ic_prices,
        for the mainnet cycles estimate; None: no estimate)."""
        for mode in MODES:
            backend = OnchainBackend(client, mode, self.n_ctx, prices or None)
            self.backends[backend.label] = backend

    def use_llm_service(self, client: RouteClient, model: str) -> None:
        """Answer through the route canister too (icchat.chat.llm_service), as `model`."""
        self.service = LlmServiceBackend(client, model)

    def labels(self) -> list[str]:
        """What can answer on this page (the `ready` message's backends)."""
        return [*self.backends, *([self.service.label] if self.service else [])]

    def drop(self, label: str) -> None:
        """Forget the backend `label` (a measurement's probe once timed)."""
        self.backends.pop(label, None)

    async def measure(self, label: str, cancelled: Callable[[], bool] = lambda: False,
                      pause: Callable[[], Awaitable[object]] | None = None) -> float | None:
        """ms per decoded token of backend `label` (icchat.chat.speed); None if `cancelled`
        turned true first. `pause` is awaited after every token (the worker's message queue)."""
        return await speed.step_ms(self.backends[label], cancelled=cancelled, pause=pause)

    async def reply(self, id: str | int, conversation: Mapping[str, Any], settings: Mapping[str, Any],
                    backend: str, cancelled: Callable[[], bool] = lambda: False) -> AsyncIterator[dict[str, Any]]:
        """The assistant's next turn for `conversation` ({messages: [{role, text, origin?}]}) with
        `settings` (Settings' fields), written by `backend`: `delta` messages as the text arrives,
        then one `done` or, if the backend failed, one `error` (kind "generate" on the device,
        "service" for the LLM service, "onchain" else; not fatal). The LLM service writes no
        deltas: its whole answer comes in the `done`. ValueError before anything is written if
        `backend` cannot answer here or the conversation or settings are malformed."""
        if backend not in self.labels():
            raise ValueError(f"answers computed {backend} are not available on this page")
        parsed_conversation = Conversation.from_dict(dict(conversation))
        parsed_settings = Settings.from_dict(dict(settings), self.vocab_size)
        if self.service is not None and backend == self.service.label:
            yield await self._service_reply(id, parsed_conversation, cancelled)
            return
        async for event in self.runtime.reply(parsed_conversation, self.backends[backend], parsed_settings, cancelled):
            data = event.to_dict()
            if event.text_delta or event.tokens:  # the last event may carry text (held back) or the stop token
                yield {"type": "delta", "id": id, **{k: data[k] for k in DELTA_FIELDS}}
            if event.done and event.stop_reason == "error":
                yield {"type": "error", "id": id, "kind": "generate" if backend == DEVICE else "onchain",
                       "message": event.error or "the reply failed", "fatal": False, "during": "generate"}
            elif event.done:
                yield {"type": "done", "id": id, **{k: data[k] for k in DONE_FIELDS}, "origin": event.origin or backend}

    async def _service_reply(self, id: str | int, conversation: Conversation,
                             cancelled: Callable[[], bool]) -> dict[str, Any]:
        """The LLM service's answer as one `done` (or one `error`), in the runtime's fields."""
        assert self.service is not None
        try:
            answer = await self.service.answer(conversation, cancelled)
        except BackendError as exc:
            return {"type": "error", "id": id, "kind": "service", "message": str(exc) or "the LLM service failed",
                    "fatal": False, "during": "generate"}
        return {"type": "done", "id": id, "text": answer.text, "origin": self.service.label,
                "stop_reason": answer.stop_reason, "trimmed_turns": answer.trimmed_turns, "trimmed_tokens": 0,
                "stats": answer.stats}


class JsChatWorker:
    """ChatWorker for web/worker.js (Pyodide): JS objects in, JS objects out, nothing else.

    Every message is posted with `post` as a JS object (dicts become plain objects), and after
    each delta (one per token on the device) the reply awaits `pause()`, a round trip through the worker's message queue, so a
    `stop` the page sent meanwhile is handled before the next token is computed, even on an
    engine whose forward pass never yields.
    """

    def __init__(self, vocab_json: str, merges_txt: str, manifest: Any) -> None:
        self.chat = ChatWorker.from_bundle_files(vocab_json, merges_txt, _py(manifest))
        self.gpt2: Any = None  # web/onchain.mjs's client, once connected
        self.route: Any = None  # web/llm-route.mjs's client, once connected

    def use_engine(self, engine: Any, label: str = DEVICE) -> None:
        self.chat.use_engine(engine, label)

    def use_onchain(self, client: Any, prices: Any) -> None:
        """client: web/onchain.mjs's; prices: config.json's ic_prices (a JS object or null)."""
        self.gpt2 = client
        self.chat.use_onchain(JsCanisterClient(client), _py(prices))

    def use_llm_service(self, client: Any, model: str) -> None:
        """client: web/llm-route.mjs's; model: the route's (its route_info)."""
        self.route = client
        self.chat.use_llm_service(JsCanisterClient(client), str(model))

    def drop(self, label: str) -> None:
        self.chat.drop(label)

    async def measure(self, label: str, control: Any, pause: Any) -> float | None:
        """control.cancelled (a JS getter) is read at every token."""
        return await self.chat.measure(label, lambda: bool(control.cancelled), pause)

    async def reply(self, id: Any, conversation: Any, settings: Any, backend: str, control: Any,
                    post: Any, pause: Any) -> None:
        """A `generate` message's reply, its messages posted as they come. A failure the canister
        itself turned down (the client's record of the failed call) is `refused`."""
        from js import Object
        from pyodide.ffi import to_js

        client = self.route if backend == LLM_SERVICE else self.gpt2
        if client is not None:
            client.lastFailure = None
        async for message in self.chat.reply(id, _py(conversation), _py(settings), backend,
                                             lambda: bool(control.cancelled)):
            if message["type"] == "error" and message["kind"] in ("onchain", "service") and _refused(client):
                message["kind"] = "refused"
            post(to_js(message, dict_converter=Object.fromEntries))
            if message["type"] == "delta":
                await pause()



def _refused(client: Any) -> bool:
    failure = client.lastFailure if client is not None else None
    return bool(failure and failure.refused)


class JsCanisterClient:
    """web/onchain.mjs's or web/llm-route.mjs's client (a JsProxy) as a `Gpt2Client` or a
    `RouteClient`: the request goes as a JS object, the reply comes back as a dict."""

    def __init__(self, js_client: Any) -> None:
        self.js_client = js_client

    async def call(self, method: str, request: dict[str, Any]) -> dict[str, Any]:
        from js import Object
        from pyodide.ffi import to_js

        try:
            reply = await self.js_client.call(method, to_js(request, dict_converter=Object.fromEntries))
        except Exception as exc:  # a JsException: its message is the canister's reason
            lines = [line for line in str(exc).splitlines() if line.strip()]
            raise BackendError(lines[-1].removeprefix("Error: ") if lines else f"{method} failed") from None
        return _py(reply)


def _py(value: Any) -> Any:
    """A JS object or array as Python data (Python data as is)."""
    return value.to_py() if hasattr(value, "to_py") else value
