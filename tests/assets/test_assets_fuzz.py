"""Hypothesis-fuzzed arguments to every method of the asset canister: well-typed random values (so
the methods' own checks run), the same messages with random bytes flipped or cut, and random
batches of operations. Each call ends in a reply or a canister reject with a reason (code 4),
never a trap, and the canister keeps serving what it had."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from icchat.assets_canister import DID, AssetsCanister, Upload
from icchat.ic import candid
from icchat.replica import Reject, Replica

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ic"))
from candid_strategies import values  # tests/ic: values of a Candid type

METHODS = sorted(DID.service.methods.items())
FUZZ = settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def canister(assets_wasm):
    with Replica() as replica:
        canister = AssetsCanister.install(replica, assets_wasm)
        canister.upload({"/index.html": Upload(b"<p>kept</p>", "text/html")})
        yield canister


def call(canister: AssetsCanister, method: str, func, arg: bytes) -> None:
    run = canister.replica.query if "query" in func.annotations else canister.replica.update
    try:
        run(canister.id, method, arg, sender=canister.sender)
    except Reject as exc:
        assert exc.code == 4 and exc.message, (method, exc.code, exc.message)


def keys() -> st.SearchStrategy[str]:
    return st.one_of(st.text(max_size=8), st.text(max_size=8).map(lambda s: "/" + s))


@pytest.mark.parametrize("method, func", METHODS, ids=[m for m, _ in METHODS])
@FUZZ
@given(data=st.data())
def test_typed_random_arguments(canister, method, func, data):
    if method in ("clear",):
        return  # covered by the batch fuzz; would wipe the asset checked below
    args = [data.draw(values(t)) for t in func.args]
    call(canister, method, func, candid.encode(list(func.args), args))
    # a random key may have been stored beside it (e.g. "/A" sorts first): check the asset itself
    assert canister.content("/index.html") == b"<p>kept</p>"


@pytest.mark.parametrize("method, func", METHODS, ids=[m for m, _ in METHODS])
@FUZZ
@given(data=st.data())
def test_mutated_messages(canister, method, func, data):
    args = [data.draw(values(t)) for t in func.args]
    message = bytearray(candid.encode(list(func.args), args))
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(message) - 1))
        message[at] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(message)))
    call(canister, method, func, bytes(message[:cut]))
    if method != "clear":
        assert any(a["key"] == "/index.html" for a in canister.list())


OPERATION = DID.types["BatchOperationKind"]


@FUZZ
@given(data=st.data())
def test_random_batches(assets_wasm, data):
    with Replica() as replica:
        canister = AssetsCanister.install(replica, assets_wasm)
        canister.store("/a", b"a", "text/plain")
        batch = canister.create_batch()
        chunk_ids = [canister.create_chunk(batch, data.draw(st.binary(max_size=40))) for _ in range(data.draw(st.integers(0, 3)))]
        operations = []
        for _ in range(data.draw(st.integers(0, 6))):
            op = data.draw(values(OPERATION))
            (tag, payload), = op.items()
            if isinstance(payload, dict) and "key" in payload:
                payload["key"] = data.draw(st.sampled_from(["/a", "/b", "/c/d.txt"]) | keys())
            if tag == "SetAssetContent":
                payload["chunk_ids"] = data.draw(st.lists(st.sampled_from(chunk_ids) if chunk_ids else st.integers(0, 9), max_size=3))
                payload["sha256"] = data.draw(st.none() | st.binary(min_size=32, max_size=32))
            operations.append(op)
        before = canister.list()
        try:
            canister.commit_batch(batch, operations)
        except Reject as exc:
            assert exc.code == 4 and exc.message, exc.message
            assert canister.list() == before  # a rejected batch changes nothing
        for entry in canister.list():  # whatever is there serves, certified tree and all
            assert canister.http_request(entry["key"])["status_code"] in (200, 304, 404)
