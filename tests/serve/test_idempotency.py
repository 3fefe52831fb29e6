"""Idempotency-Key: the same key and body get the same response byte for byte (as the IC's
replicas, each sending the same outcall, need), another body with the key gets 422, and keys are
kept for a bounded time and number."""

from __future__ import annotations

import threading

import httpx
import pytest
from openai import UnprocessableEntityError
from serve_tiny import MODEL_ID

from icchat.serve.idempotency import IdempotencyStore, Recorded

# Sampled without a seed: a reply computed again would have another seed (and its own id).
ASKED = {"model": MODEL_ID, "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 5,
         "temperature": 1.0, "top_p": 1.0}


def post(server, key: str | None, **changes) -> httpx.Response:
    headers = {"Idempotency-Key": key} if key else {}
    return httpx.post(server.base_url + "/chat/completions", json={**ASKED, **changes}, headers=headers,
                      timeout=120)


def test_the_same_key_and_body_get_the_same_response(client):
    def ask(key: str):
        return client.chat.completions.with_raw_response.create(**ASKED, extra_headers={"Idempotency-Key": key})

    first, again, other = ask("key-a"), ask("key-a"), ask("key-b")
    assert again.http_response.content == first.http_response.content
    assert again.headers.get("Idempotent-Replayed") == "true" and "Idempotent-Replayed" not in first.headers
    assert other.parse().id != first.parse().id


def test_a_stream_is_replayed_as_it_was_sent(server):
    first = post(server, "stream-key", stream=True)
    again = post(server, "stream-key", stream=True)
    assert first.headers["content-type"] == again.headers["content-type"] == "text/event-stream"
    assert again.content == first.content and first.text.endswith("data: [DONE]\n\n")


def test_the_same_key_with_another_body_is_422(client):
    client.chat.completions.create(**ASKED, extra_headers={"Idempotency-Key": "reused"})
    with pytest.raises(UnprocessableEntityError) as raised:
        client.chat.completions.create(**{**ASKED, "max_tokens": 4}, extra_headers={"Idempotency-Key": "reused"})
    assert raised.value.code == "idempotency_key_reused" and "different request" in raised.value.message


def test_requests_with_one_key_at_once_get_one_reply(server):
    """The IC's replicas send their outcalls at nearly the same time: one is computed, the
    others wait for it and get its bytes."""
    answers: list[bytes] = []
    threads = [threading.Thread(target=lambda: answers.append(post(server, "together").content)) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == 3 and len(set(answers)) == 1


def test_errors_are_not_kept(server):
    refused = post(server, "after-a-refusal", model="gpt-4o")
    assert refused.status_code == 404
    assert post(server, "after-a-refusal").status_code == 200


def test_keys_are_kept_for_a_bounded_time_and_number():
    recorded = Recorded(200, "application/json", b"{}")
    few = IdempotencyStore(capacity=2)
    for key in ("a", "b", "c"):
        few.record(key, "body", recorded)
    assert few.lookup("a", "body") is None and few.lookup("c", "body") == recorded
    expired = IdempotencyStore(ttl=0.0)
    expired.record("a", "body", recorded)
    assert expired.lookup("a", "body") is None
    assert expired.lookup("a", "another body") is None  # a key that expired may be used again


def test_a_key_must_be_short_and_not_empty(server):
    assert post(server, "k" * 256).status_code == 400
