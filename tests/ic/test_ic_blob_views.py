"""`decode_with_types(..., blob_views=True)`: blobs come back as views into the message (no copy
of a 2 MB streaming body), equal to what the copying decode gives; malformed input is refused the
same way."""

from __future__ import annotations

import pytest

from icchat.ic import candid

TYPES = candid.parse_type("record { body : blob; token : opt record { key : text; index : nat } }", candid.parse_did("service : {}"))


def test_blobs_are_views_equal_to_the_copies():
    body = bytes(range(256)) * 8192
    message = candid.encode([TYPES], [{"body": body, "token": {"key": "/big.bin", "index": 3}}])
    _, copied = candid.decode_with_types(message)
    _, viewed = candid.decode_with_types(message, blob_views=True)
    body_id, token_id = candid.idl_hash("body"), candid.idl_hash("token")
    view = viewed[0][body_id]
    assert isinstance(view, memoryview) and isinstance(copied[0][body_id], bytes)
    assert view == copied[0][body_id] == body and viewed[0][token_id] == copied[0][token_id]
    assert view.obj is message  # a view into the reply itself


@pytest.mark.parametrize("cut", [1, 100, 2048])
def test_a_truncated_blob_is_refused_with_or_without_views(cut):
    message = candid.encode([TYPES], [{"body": bytes(4096), "token": None}])[:-cut]
    with pytest.raises(candid.CandidError) as copied:
        candid.decode_with_types(message)
    with pytest.raises(candid.CandidError) as viewed:
        candid.decode_with_types(message, blob_views=True)
    assert str(viewed.value) == str(copied.value)
