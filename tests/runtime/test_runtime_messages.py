"""rt.c message helpers: rt_format and rt_rejectf against Python's formatting, rt_caller and
rt_caller_is_controller (ic0.is_controller) for different senders."""

from __future__ import annotations

import struct

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from runtime_helpers import CANISTER_REJECT, CONTROLLER, STRANGER

from icchat.ic.principal import Principal

I32 = st.integers(-(2**31), 2**31 - 1)
U32 = st.integers(0, 2**32 - 1)
I64 = st.integers(-(2**63), 2**63 - 1)
U64 = st.integers(0, 2**64 - 1)
TEXT = st.text(st.characters(exclude_characters="\x00"), max_size=40)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(0, 300), I32, U32, U32, I64, U64, U64, TEXT)
def test_rt_format_matches_python_and_truncates_safely(probe, capacity, d, u, x, lld, llu, llx, s):
    arg = struct.pack("<IiIIqQQ", capacity, d, u, x, lld, llu, llx) + s.encode()
    reply = probe.query("format", arg)
    length, buffer = struct.unpack("<I", reply[:4])[0], reply[4:]
    expected = f"{d}|{u}|{x:x}|{lld}|{llu}|{llx:x}|{s}|%".encode()
    assert len(buffer) == capacity
    if capacity == 0:
        assert length == 0
        return
    assert length == min(len(expected), capacity - 1)  # what was written, terminator excluded
    assert buffer[:length] == expected[:length]
    assert buffer[length] == 0
    assert buffer[length + 1:] == b"~" * (capacity - length - 1)  # nothing written past the NUL


def test_rt_rejectf_formats_every_directive(probe):
    failure = probe.reject("rejectf")
    assert failure.code == CANISTER_REJECT
    assert failure.message == (f"n=-42 u=42 x=beef lld={-(1 << 40)} llu={2**64 - 1} "
                               f"llx={0x123456789ABCDEF:x} s=text %")


def test_caller_and_controller_check(probe):
    for sender, is_controller in ((CONTROLLER, 1), (STRANGER, 0), (Principal.anonymous(), 0)):
        reply = probe.query("whoami", sender=sender)
        assert (reply[0], Principal(reply[1:])) == (is_controller, sender)
