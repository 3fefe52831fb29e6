"""`icchat serve`'s HTTP server: OpenAI's chat completions API on the standard library's server.

    GET  /v1/models              the one model this server runs
    GET  /v1/models/{id}
    POST /v1/chat/completions    a reply, whole or streamed (`stream: true`: server-sent events,
                                 `data: {chunk}` ... `data: [DONE]`, in chunked transfer encoding)

HTTP/1.1 with keep-alive, a thread per connection; replies are computed one at a time (the
served model's `generation` lock), requests that arrive meanwhile wait their turn. Every failure
is OpenAI's error JSON with its status (icchat.serve.errors): 400 for a malformed request or one
that does not fit the context, 404 for an unknown model or path, 405 for another method, 411
without a Content-Length, 413 for a body over MAX_BODY, 422 for a reused Idempotency-Key, 500
(one line) if the model fails.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from icchat.chat.runtime import ReplyEvent
from icchat.serve import responses
from icchat.serve.errors import ApiError
from icchat.serve.idempotency import IdempotencyStore, Recorded
from icchat.serve.model import Plan, ServedModel
from icchat.serve.request import parse_chat_request

MAX_BODY = 1 << 20  # 1 MiB of JSON: far more than any context this serves
CHAT_PATH = "/v1/chat/completions"
MODELS_PATH = "/v1/models"
JSON_TYPE = "application/json"
SSE_TYPE = "text/event-stream"
ROUTES = "GET /v1/models, GET /v1/models/{id}, POST /v1/chat/completions"


class ApiServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], model: ServedModel, store: IdempotencyStore | None = None,
                 quiet: bool = False) -> None:
        super().__init__(address, ApiHandler)
        self.model, self.store, self.quiet = model, store or IdempotencyStore(), quiet

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/v1"


class ApiHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "icchat-serve"
    server: ApiServer

    def do_GET(self) -> None:
        self._answer(self._get)

    def do_POST(self) -> None:
        self._answer(self._post)

    def _answer(self, route: Callable[[str], None]) -> None:
        self._started = False  # the status line went out: an error can no longer be a response
        try:
            route(self.path.split("?", 1)[0])
        except ApiError as exc:
            self._error(exc)
        except Exception as exc:  # a bug: the client gets one line, never a traceback
            self.log_error("internal error: %s: %s", type(exc).__name__, exc)
            self._error(ApiError(500, f"internal error: {type(exc).__name__}: {exc}"))

    def _get(self, path: str) -> None:
        model = self.server.model
        if self.headers.get("Content-Length", "0") != "0":  # a body no GET reads: not the next request
            self.close_connection = True
        if path == MODELS_PATH:
            self._send(200, JSON_TYPE, _json(responses.model_list(model.id, model.created)))
        elif path.startswith(MODELS_PATH + "/"):
            name = path[len(MODELS_PATH) + 1:]
            if name != model.id:
                raise ApiError(404, f"The model `{name}` does not exist: this server runs `{model.id}`",
                               param="model", code="model_not_found")
            self._send(200, JSON_TYPE, _json(responses.model_object(model.id, model.created)))
        else:
            raise ApiError(404, f"no such route: GET {path} (served: {ROUTES})")

    def _post(self, path: str) -> None:
        body, model, store = self._body(), self.server.model, self.server.store  # read: the connection stays usable
        if path != CHAT_PATH:
            raise ApiError(404, f"no such route: POST {path} (served: {ROUTES})")
        key = self.headers.get("Idempotency-Key")
        fingerprint = store.fingerprint("POST", path, body)
        if key is not None and (done := store.lookup(key, fingerprint)):
            return self._send(done.status, done.content_type, done.body, replayed=True)
        plan = model.plan(parse_chat_request(body, model.vocab_size))
        with model.generation:
            if key is not None and (done := store.lookup(key, fingerprint)):  # computed while this waited
                return self._send(done.status, done.content_type, done.body, replayed=True)
            recorded = self._stream(plan) if plan.request.stream else self._whole(plan)
            if key is not None and recorded is not None:  # before the next in the queue looks it up
                store.record(key, fingerprint, recorded)
        return None

    def _body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if length is None:
            self.close_connection = True
            raise ApiError(411, "send the request body with a Content-Length")
        if not length.isdigit():
            self.close_connection = True
            raise ApiError(400, f"Content-Length is not a number: {length!r}")
        if int(length) > MAX_BODY:
            self.close_connection = True  # the body is not read
            raise ApiError(413, f"the request body is {int(length):,} bytes; at most {MAX_BODY:,} are accepted")
        return self.rfile.read(int(length))

    def _whole(self, plan: Plan) -> Recorded:
        last = self._run(plan, lambda event: None, lambda: False)
        if last.stop_reason == "error":
            raise ApiError(500, f"the model failed: {last.error}")
        body = _json(responses.Completion(plan.request.model).whole(last))
        self._send(200, JSON_TYPE, body)
        return Recorded(200, JSON_TYPE, body)

    def _stream(self, plan: Plan) -> Recorded | None:
        """The reply as server-sent events, sent as they come; what was sent, if it all went out."""
        completion, with_usage = responses.Completion(plan.request.model), plan.request.include_usage
        sent, left = bytearray(), False

        def send(data: bytes) -> None:
            nonlocal left
            sent.extend(data)
            if not left:
                try:
                    self.wfile.write(b"%X\r\n%s\r\n" % (len(data), data))
                    self.wfile.flush()
                except OSError:  # the client went away: the reply stops at the next token
                    left = True

        def event(data: dict[str, Any]) -> None:
            send(b"data: " + _json(data) + b"\n\n")

        def on_event(reply: ReplyEvent) -> None:
            if reply.text_delta:
                event(completion.chunk({"content": reply.text_delta}, with_usage=with_usage))

        self._start(200, SSE_TYPE, [("Transfer-Encoding", "chunked"), ("Cache-Control", "no-cache")])
        event(completion.chunk({"role": "assistant", "content": ""}, with_usage=with_usage))
        try:
            last = self._run(plan, on_event, lambda: left)
            failure = f"the model failed: {last.error}" if last.stop_reason == "error" else None
        except Exception as exc:  # a bug, after the status line: an error event, one line
            self.log_error("internal error: %s: %s", type(exc).__name__, exc)
            last, failure = None, f"internal error: {type(exc).__name__}: {exc}"
        if last is None or failure or last.stop_reason not in responses.FINISH_REASONS:
            event(ApiError(500, failure or "the reply was cancelled").body())
        else:
            event(completion.chunk({}, responses.FINISH_REASONS[last.stop_reason], with_usage))
            if with_usage:
                event(completion.usage_chunk(last))
            send(b"data: [DONE]\n\n")
        if left:
            self.close_connection = True
            return None
        self.wfile.write(b"0\r\n\r\n")
        return None if failure or last is None else Recorded(200, SSE_TYPE, bytes(sent))

    def _run(self, plan: Plan, on_event: Callable[[ReplyEvent], None], cancelled: Callable[[], bool]) -> ReplyEvent:
        """The reply, each event handed to on_event as it comes; the last event."""
        async def drive() -> ReplyEvent:
            last = None
            async for event in self.server.model.reply(plan, cancelled):
                on_event(event)
                last = event
            assert last is not None, "the chat runtime always ends a reply with a done event"
            return last

        return asyncio.run(drive())

    # -- sending ----------------------------------------------------------------------------------

    def _start(self, status: int, content_type: str, headers: list[tuple[str, str]]) -> None:
        self._started = True
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for name, value in headers:
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()

    def _send(self, status: int, content_type: str, body: bytes, replayed: bool = False) -> None:
        headers = [("Content-Length", str(len(body)))]
        if replayed:
            headers.append(("Idempotent-Replayed", "true"))
        self._start(status, content_type, headers)
        self.wfile.write(body)

    def _error(self, error: ApiError) -> None:
        if self._started:  # nothing can be said any more: end the connection
            self.close_connection = True
            return
        self._send(error.status, JSON_TYPE, _json(error.body()))

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The standard library's own refusals (a malformed request line, an unknown method) as
        OpenAI's error JSON too, with a status line even when the request line was not HTTP's."""
        self.close_connection, self._started = True, False
        if self.request_version == "HTTP/0.9":
            self.request_version = self.protocol_version
        if code == HTTPStatus.NOT_IMPLEMENTED:  # do_<method> is missing
            code, message = HTTPStatus.METHOD_NOT_ALLOWED, f"{self.command} is not served here: {ROUTES}"
        self._error(ApiError(code, message or self.responses.get(code, ("error",))[0]))

    def log_message(self, format: str, *args: Any) -> None:
        if not self.server.quiet:
            super().log_message(format, *args)


def _json(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False).encode()
