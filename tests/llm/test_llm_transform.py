"""transform_chat, the outcall's transform (canister/llm/openai.c, transform.c), run as the query
the IC runs it as on crafted responses: it keeps the status and the answer (text, finish reason)
and drops what differs between replicas' requests (ids, timestamps, usage, headers), so two
responses with the same answer transform to the same bytes; anything that is not an answer becomes
an x-error marker, never a text."""

from __future__ import annotations

import json

import pytest

from icchat.ic import candid
from icchat.ic.identity import Ed25519Identity
from icchat.llm_canister import DID, LlmCanister


def completion(content: object, *, finish: str = "stop", ident: str = "chatcmpl-1", created: int = 1,
               tokens: int = 9) -> bytes:
    return json.dumps({"id": ident, "object": "chat.completion", "created": created, "model": "m",
                       "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                                    "finish_reason": finish}],
                       "usage": {"prompt_tokens": tokens, "completion_tokens": 3, "total_tokens": tokens + 3}}).encode()


@pytest.fixture(scope="module")
def canister(replica, llm_wasm):
    return LlmCanister.install(replica, llm_wasm).as_caller(Ed25519Identity.generate().principal)


def answer(status: int, text: str, finish: str = "stop") -> dict:
    return {"status": status, "headers": [{"name": "x-finish-reason", "value": finish}], "body": text.encode()}


def error(status: int, reason: str) -> dict:
    return {"status": status, "headers": [{"name": "x-error", "value": reason}], "body": b""}


def test_an_answer_keeps_its_text_and_finish_reason_only(canister):
    headers = [("date", "Mon, 07 Dec 2026 05:00:00 GMT"), ("x-request-id", "abc")]
    assert canister.transform_chat(200, completion("Hello there."), headers) == answer(200, "Hello there.")
    assert canister.transform_chat(200, completion("cut", finish="length")) == answer(200, "cut", "length")


def test_replicas_with_the_same_answer_agree_byte_for_byte(canister):
    one = canister.replica.query(canister.id, "transform_chat", _arg(200, completion("Same.", ident="a", created=1)),
                                 sender=canister.sender)
    two = canister.replica.query(canister.id, "transform_chat",
                                 _arg(200, completion("Same.", ident="b", created=2, tokens=11),
                                      [("date", "later")]), sender=canister.sender)
    assert one == two
    other = canister.replica.query(canister.id, "transform_chat", _arg(200, completion("Different.")),
                                   sender=canister.sender)
    assert other != one


def test_escapes_and_unicode_are_decoded(canister):
    body = b'{"choices":[{"message":{"content":"caf\\u00e9 \\ud83d\\ude00 \\"q\\"\\n\\t\\\\"},"finish_reason":"stop"}]}'
    assert canister.transform_chat(200, body) == answer(200, 'café 😀 "q"\n\t\\')
    assert canister.transform_chat(200, completion("naïve — ok")) == answer(200, "naïve — ok")


@pytest.mark.parametrize(("body", "reason"), [
    (b"<html>502 Bad Gateway</html>", "not JSON"),
    (b'{"choices":[{"message":{"content":"unterminated}}]}', "not JSON"),
    (b'{"choices":[]} trailing', "not JSON"),
    (b"[" * 65 + b"]" * 65, "not JSON"),  # nested deeper than the reader goes
    (b'{"choices":[]}', "no choices[0].message.content text"),
    (completion(None), "no choices[0].message.content text"),
    (completion(42), "no choices[0].message.content text"),
    (b'{"choices":[{"message":{"content":"\\udc00"}}]}', "no choices[0].message.content text"),  # a lone surrogate
    (b'{"choices":[{"message":{"content":"\xff\xfe"}}]}', "no choices[0].message.content text"),  # not UTF-8
    (b"", "not JSON"),
])
def test_what_is_not_an_answer_becomes_an_error_marker(canister, body, reason):
    assert canister.transform_chat(200, body) == error(200, reason)


def test_a_refusal_keeps_the_status_and_the_services_message(canister):
    body = json.dumps({"error": {"message": "Incorrect API key provided", "type": "invalid_request_error",
                                 "param": None, "code": "invalid_api_key"}}).encode()
    assert canister.transform_chat(401, body) == error(401, "Incorrect API key provided")
    assert canister.transform_chat(503, b"Service Unavailable") == error(503, "no error message")
    long = json.dumps({"error": {"message": "é" * 400}}).encode()
    reason = canister.transform_chat(400, long)["headers"][0]["value"]
    assert reason == "é" * 150  # cut at 300 bytes, on a character boundary


def _arg(status: int, body: bytes, headers: list[tuple[str, str]] | None = None) -> bytes:
    response = {"status": status, "headers": [{"name": n, "value": v} for n, v in headers or []], "body": body}
    return candid.encode(candid.parse_types("(transform_args)", DID), [{"response": response, "context": b""}])
