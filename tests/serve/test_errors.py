"""Every refusal is OpenAI's error JSON with its status, seen through the official client where
it can send the request and through httpx (or a raw socket) where it cannot; never a traceback."""

from __future__ import annotations

import json
import socket

import httpx
import pytest
from openai import BadRequestError, NotFoundError
from serve_tiny import MODEL_ID, N_CTX

from icchat.serve.server import MAX_BODY

HELLO = [{"role": "user", "content": "Hello"}]


def error_of(response: httpx.Response) -> dict:
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}
    assert "Traceback" not in response.text
    return body["error"]


def test_an_unknown_model_is_404_model_not_found(client):
    with pytest.raises(NotFoundError) as raised:
        client.chat.completions.create(model="gpt-4o", messages=HELLO)
    assert raised.value.code == "model_not_found" and raised.value.param == "model"
    assert MODEL_ID in raised.value.message  # says which model this server runs


def test_messages_over_the_context_are_400_context_length_exceeded(client):
    with pytest.raises(BadRequestError) as raised:
        client.chat.completions.create(model=MODEL_ID, messages=[{"role": "user", "content": "word " * N_CTX}])
    assert raised.value.code == "context_length_exceeded"
    assert f"maximum context length is {N_CTX} tokens" in raised.value.message
    with pytest.raises(BadRequestError) as raised:  # they fit, the completion asked for does not
        client.chat.completions.create(model=MODEL_ID, messages=HELLO, max_tokens=N_CTX)
    assert raised.value.code == "context_length_exceeded"


@pytest.mark.parametrize(("asked", "param"), [
    ({"n": 2}, "n"),
    ({"temperature": 11}, "temperature"),
    ({"top_p": 0}, "top_p"),
    ({"seed": -1}, "seed"),
    ({"max_tokens": 0}, "max_tokens"),
    ({"max_tokens": 5000}, "max_tokens"),
    ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
    ({"tools": [{"type": "function", "function": {"name": "f"}}]}, "tools"),
    ({"messages": []}, "messages"),
    ({"messages": [{"role": "tool", "content": "x", "tool_call_id": "1"}]}, "messages[0].role"),
    ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]},
     "messages[0].content"),
])
def test_a_parameter_it_cannot_honour_is_400_naming_it(client, asked, param):
    request = {"model": MODEL_ID, "messages": HELLO, "max_tokens": 1, **asked}
    with pytest.raises(BadRequestError) as raised:
        client.chat.completions.create(**request)
    assert raised.value.param == param, raised.value.message
    assert raised.value.type == "invalid_request_error"


def test_malformed_json_and_oversized_bodies(server):
    url = server.base_url + "/chat/completions"
    malformed = httpx.post(url, content=b'{"model": "tiny-serve", "messages": [', headers={"content-type": "application/json"})
    assert malformed.status_code == 400 and "not valid JSON" in error_of(malformed)["message"]
    not_an_object = httpx.post(url, json=["model"])
    assert not_an_object.status_code == 400 and "JSON object" in error_of(not_an_object)["message"]
    huge = httpx.post(url, content=json.dumps({"model": MODEL_ID, "messages": HELLO, "user": "x" * MAX_BODY}))
    assert huge.status_code == 413 and f"{MAX_BODY:,}" in error_of(huge)["message"]


def test_unknown_routes_and_methods(server):
    root = server.base_url.removesuffix("/v1")
    missing = httpx.get(root + "/v1/completions")
    assert missing.status_code == 404 and "no such route" in error_of(missing)["message"]
    with httpx.Client() as connection:  # kept alive: a refused body does not spoil the next request
        assert connection.post(root + "/v1/embeddings", json={"input": "x" * 5000}).status_code == 404
        assert connection.get(root + "/v1/models").json()["data"][0]["id"] == MODEL_ID
    wrong_method = httpx.delete(root + "/v1/models")
    assert wrong_method.status_code == 405 and "POST /v1/chat/completions" in error_of(wrong_method)["message"]


def test_a_malformed_request_line_gets_json_too(server):
    host, port = server.server_address[:2]
    with socket.create_connection((host, port), timeout=30) as sock:
        sock.sendall(b"GARBAGE\r\n\r\n")
        answer = sock.makefile("rb").read().decode()
    head, _, body = answer.partition("\r\n\r\n")
    assert head.startswith("HTTP/1.1 400") and "application/json" in head
    assert json.loads(body)["error"]["type"] == "invalid_request_error"


def test_a_post_without_content_length_is_411(server):
    host, port = server.server_address[:2]
    with socket.create_connection((host, port), timeout=30) as sock:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
        answer = sock.makefile("rb").read().decode()
    assert answer.startswith("HTTP/1.1 411") and "Content-Length" in answer


def test_a_client_that_leaves_a_stream_does_not_stop_the_server(client, server):
    request = {"model": MODEL_ID, "messages": HELLO, "max_tokens": 30, "stream": True, "temperature": 0}
    with httpx.stream("POST", server.base_url + "/chat/completions", json=request) as response:
        first = next(response.iter_lines())
    assert first.startswith("data: ")
    reply = client.chat.completions.create(model=MODEL_ID, messages=HELLO, max_tokens=2, temperature=0)
    assert reply.usage.completion_tokens == 2
