"""Fuzzing the replica's inputs: modules, method names, arguments, management calls.

Whatever arrives, the answer is a reply or a `Reject` (an IC error), never another exception,
and the replica keeps serving a known-good canister afterwards.
"""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from replica_helpers import CONTROLLER, as_u64

from icchat.ic.principal import Principal
from icchat.replica import Reject, Replica
from icchat.replica.management import METHODS

FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)


@pytest.fixture(scope="module")
def setup(sysapi_wasm):
    with Replica() as replica:
        good = replica.create_canister(controllers=[CONTROLLER])
        replica.install_code(good, sysapi_wasm, sender=CONTROLLER)
        target = replica.create_canister(controllers=[CONTROLLER])
        yield replica, good, target, sysapi_wasm


def still_serving(replica, good) -> None:
    before = as_u64(replica.query(good, "read"))
    assert as_u64(replica.update(good, "inc")) == before + 1


def try_install(replica, target, module: bytes) -> bool:
    try:
        replica.install_code(target, module, b"", mode="reinstall", sender=CONTROLLER)
    except Reject as reject:
        assert reject.error_code in {"IC0505", "IC0502", "IC0503", "IC0504", "IC0522", "IC0521", "IC0539"}, reject
        return False
    return True


@FUZZ
@given(data=st.binary(max_size=4096))
def test_random_bytes_as_a_module(setup, data):
    replica, good, target, _ = setup
    try_install(replica, target, b"\x00asm\x01\x00\x00\x00" + data)
    try_install(replica, target, data)
    still_serving(replica, good)


@FUZZ
@given(edits=st.lists(st.tuples(st.integers(0, 2**32), st.integers(0, 255), st.sampled_from(["set", "insert", "delete"])), min_size=1, max_size=8))
def test_mutated_module(setup, edits):
    replica, good, target, wasm = setup
    module = bytearray(wasm)
    for position, value, kind in edits:
        position %= len(module)
        if kind == "set":
            module[position] = value
        elif kind == "insert":
            module.insert(position, value)
        else:
            del module[position]
    if try_install(replica, target, bytes(module)):
        for method in ("inc", "read", "echo"):
            with contextlib.suppress(Reject):
                replica.update(target, method, b"x")
    still_serving(replica, good)


@FUZZ
@given(method=st.text(max_size=40), arg=st.binary(max_size=512), query=st.booleans())
def test_random_calls(setup, method, arg, query):
    replica, good, _, _ = setup
    call = replica.query if query else replica.update
    with contextlib.suppress(Reject):
        call(good, method, arg)
    still_serving(replica, good)


@FUZZ
@given(method=st.sampled_from([*sorted(METHODS), "bogus"]), arg=st.one_of(st.binary(max_size=300), st.binary(max_size=300).map(lambda b: b"DIDL" + b)))
def test_random_management_calls(setup, method, arg):
    replica, good, _, _ = setup
    for sender in (CONTROLLER, Principal.anonymous()):
        with contextlib.suppress(Reject):
            replica.update(Principal.management(), method, arg, sender=sender)
    still_serving(replica, good)
