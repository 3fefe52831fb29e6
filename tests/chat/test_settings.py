from __future__ import annotations

import json

import pytest

from icchat.chat import Conversation, ConversationError, Message, Settings, SettingsError


def test_defaults_round_trip_through_json():
    s = Settings(temperature=0.7, top_k=0, top_p=0.9, max_new_tokens=64, seed=2**64 - 1)
    assert Settings.from_dict(json.loads(json.dumps(s.to_dict()))) == s
    assert Settings().seed is None and not Settings().greedy and Settings(temperature=0).greedy


@pytest.mark.parametrize(("data", "message"), [
    ({"temperature": -0.1}, "temperature must be between 0 and 10"),
    ({"temperature": float("nan")}, "temperature must be between"),
    ({"temperature": "hot"}, "temperature must be a number, got str"),
    ({"top_k": 1.5}, "top_k must be an integer"),
    ({"top_k": -1}, "top_k must be between 0 and 50257"),
    ({"top_p": 0}, "top_p must be greater than 0"),
    ({"top_p": 1.5}, "top_p must be between 0 and 1"),
    ({"max_new_tokens": 0}, "max_new_tokens must be between 1 and 1024"),
    ({"max_new_tokens": True}, "max_new_tokens must be an integer, got bool"),
    ({"seed": -1}, "seed must be between 0 and"),
    ({"seed": 2**64}, "seed must be between 0 and"),
    ({"temprature": 1.0}, "unknown setting: temprature"),
])
def test_bad_settings_are_one_line_errors(data, message):
    with pytest.raises(SettingsError, match=message) as info:
        Settings.from_dict(data)
    assert "\n" not in str(info.value)


def test_top_k_is_bounded_by_the_models_vocabulary():
    assert Settings.from_dict({"top_k": 50257}).top_k == 50257  # GPT-2's, when no vocabulary is named
    with pytest.raises(SettingsError, match="top_k must be between 0 and 50257, got 50258"):
        Settings.from_dict({"top_k": 50258})
    assert Settings.from_dict({"top_k": 50260}, vocab_size=50260).top_k == 50260
    with pytest.raises(SettingsError, match="top_k must be between 0 and 50260, got 50261"):
        Settings.from_dict({"top_k": 50261}, vocab_size=50260)


def test_conversation_round_trips_and_rejects_bad_data():
    conv = Conversation([Message("user", "hi"), Message("assistant", "hello", "onchain-fast")])
    stored = json.loads(json.dumps(conv.to_dict()))
    assert stored["messages"][0] == {"role": "user", "text": "hi"}
    assert Conversation.from_dict(stored) == conv
    with pytest.raises(ConversationError, match="message 1: role must be one of user, assistant"):
        Conversation.from_dict({"messages": [{"role": "user", "text": "a"}, {"role": "system", "text": "b"}]})
    with pytest.raises(ConversationError, match="origin must be one of"):
        Message("assistant", "x", "cloud")
    with pytest.raises(ConversationError, match="messages list"):
        Conversation.from_dict([])
