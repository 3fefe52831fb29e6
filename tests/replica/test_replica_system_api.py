"""What each System API function returns, checked against values known outside the replica."""

from __future__ import annotations

import struct

from replica_helpers import CONTROLLER, STRANGER, as_u64, reject_of, u64

from icchat.ic import prices
from icchat.ic.certificate import verify_certificate
from icchat.ic.principal import Principal
from icchat.replica import RejectCode, cycles
from icchat.replica.limits import UPDATE_INSTRUCTION_LIMIT


def test_identity_calls(replica, canister):
    assert replica.query(canister, "caller", sender=STRANGER) == STRANGER.raw
    assert replica.query(canister, "caller") == Principal.anonymous().raw
    assert replica.update(canister, "caller_u", sender=CONTROLLER) == CONTROLLER.raw
    assert replica.query(canister, "self") == canister.raw
    assert replica.query(canister, "subnet") == replica.subnet_id.raw
    assert replica.query(canister, "init_caller") == CONTROLLER.raw
    assert replica.query(canister, "init_arg") == b"hello"
    assert replica.query(canister, "is_controller", CONTROLLER.raw) == u64(1)
    assert replica.query(canister, "is_controller", STRANGER.raw) == u64(0)
    assert replica.query(canister, "caller_info") == u64(0) + u64(0)
    reject = reject_of(replica.query, canister, "is_controller", b"\x01" * 30)
    assert reject.error_code == "IC0504" and "Canister provided invalid principal id" in reject.message


def test_cycles_status_version_time_and_mode(replica, canister):
    before = replica.canister_info(canister)
    start = replica.time_ns()
    out = replica.update(canister, "facts", u64(1_000))
    balance, liquid, balance64 = int.from_bytes(out[:16], "little"), int.from_bytes(out[16:32], "little"), as_u64(out[32:40])
    status, version, now, deadline, replicated = struct.unpack("<IQQQI", out[40:72])
    available, accepted, burned = (int.from_bytes(out[72 + 16 * i : 88 + 16 * i], "little") for i in range(3))
    # the message's induction and its execution's prepayment (5M + the 40B limit) are withdrawn before it runs
    inducted = prices.ingress_induction_cycles(len("facts") + 8)
    assert balance == balance64 == before.cycles - inducted - prices.update_execution_cycles(UPDATE_INSTRUCTION_LIMIT)
    # the liquid balance keeps the freezing limit (the default threshold, 30 days, of the memory held)
    assert liquid == balance - cycles.freezing_threshold(replica.canister(canister)) > 0
    assert status == 1 and version == before.version
    assert start < now < replica.time_ns()
    assert deadline == 0 and replicated == 1
    assert available == 0 and accepted == 0  # ingress messages carry no cycles
    assert burned == 1_000
    after = replica.canister_info(canister)
    used = replica.canister(canister).execution_state.instance.meter.used()
    assert after.cycles == balance - 1_000 + prices.instructions_cycles(UPDATE_INSTRUCTION_LIMIT - used)  # unused instructions refunded
    assert after.version == before.version + 1  # every successful update bumps the version


def test_time_is_monotonic_and_constant_within_a_message(replica, canister):
    times = [struct.unpack("<IQQ", replica.update(canister, "facts", u64(0))[40:60])[2] for _ in range(3)]
    assert times == sorted(times) and len(set(times)) == 3


def test_in_replicated_execution(replica, canister):
    assert as_u64(replica.query(canister, "replicated")) == 0
    assert as_u64(replica.update(canister, "replicated")) == 1  # a query method run by an update
    assert as_u64(replica.update(canister, "replicated_u")) == 1


def test_certified_data_and_certificate(replica, canister):
    replica.update(canister, "set_certified", b"hash of my state")
    assert replica.canister_info(canister).certified_data == b"hash of my state"
    out = replica.query(canister, "certificate")
    assert out[:4] == struct.pack("<I", 1)
    certificate = verify_certificate(out[4:], replica.root_key_der(), canister_id=canister)
    assert certificate.lookup([b"canister", canister.raw, b"certified_data"]).value == b"hash of my state"
    # Updates (replicated) see no certificate.
    assert replica.update(canister, "certificate_u") == struct.pack("<I", 0)
    reject = reject_of(replica.update, canister, "set_certified", b"x" * 33)
    assert "ic0_certified_data_set failed because the passed data must be no larger than 32 bytes. Found 33 bytes." in reject.message


def test_root_key_is_the_replicas(replica, canister):
    assert replica.update(canister, "root_key") == replica.root_key_der()


def test_stable_memory_64_bit_is_sparse(replica, canister):
    far = 200 * 1024**3  # 200 GiB: only the touched page may exist
    size_pages = as_u64(replica.update(canister, "stable_write", u64(far) + b"needle"))
    assert size_pages == (far + 6 + 65535) // 65536
    assert replica.query(canister, "stable_read", u64(far) + u64(6)) == b"needle"
    assert replica.query(canister, "stable_read", u64(0) + u64(16)) == bytes(16)
    assert replica.canister(canister).execution_state.stable.resident_bytes == 65536
    reject = reject_of(replica.query, canister, "stable_read", u64(size_pages * 65536 - 2) + u64(4))
    assert reject.error_code == "IC0502" and "Canister trapped: stable memory out of bounds" in reject.message


def test_stable_memory_grow_limits(replica, canister):
    assert as_u64(replica.update(canister, "stable_grow", u64(3))) == 0
    assert as_u64(replica.update(canister, "stable_grow", u64(2))) == 3
    assert as_u64(replica.query(canister, "stable_size")) == 5
    too_many = 500 * 1024**3 // 65536  # 500 GiB is the IC's maximum
    assert replica.update(canister, "stable_grow", u64(too_many)) == u64(2**64 - 1)  # -1


def test_stable_memory_32_bit_api(replica, canister):
    out = replica.update(canister, "stable32", b"thirty-two")
    assert out == struct.pack("<I", 1) + b"thirty-two"
    # Beyond 4 GiB the 32-bit API traps.
    replica.update(canister, "stable_grow", u64(65536))
    reject = reject_of(replica.update, canister, "stable32", b"x")
    assert "32 bit stable memory api used on a memory larger than 4GB" in reject.message


def test_stable_memory_access_limit(replica, canister):
    # An update may touch at most 2 GiB of stable memory (in 4 KiB pages); one page more traps.
    limit = 2 * 1024**3
    assert as_u64(replica.update(canister, "stable_scan", u64(limit))) == limit
    reject = reject_of(replica.update, canister, "stable_scan", u64(limit + 4096))
    assert reject.error_code == "IC0524"
    assert "Exceeded the limit for the number of accessed pages in the stable memory in a single message execution: limit: 2097152 KB." in reject.message
    assert as_u64(replica.query(canister, "stable_size")) == limit // 65536  # the failed grow was rolled back


def test_performance_counter(replica, canister):
    small = as_u64(replica.query(canister, "spin_q", u64(10)))
    large = as_u64(replica.query(canister, "spin_q", u64(100_000)))
    assert 0 < small < large
    assert as_u64(replica.query(canister, "perf", u64(1))) > 0
    reject = reject_of(replica.query, canister, "perf", u64(7))
    assert "Error getting performance counter type 7" in reject.message


def test_debug_print_goes_to_the_canister_log(replica, canister):
    replica.update(canister, "debug", "héllo".encode())
    assert replica.canister(canister).system.logs[-1].content == "héllo".encode()


def test_reject_message_must_be_utf8(replica, canister):
    reject = reject_of(replica.update, canister, "reject", b"\xff\xfe")
    assert reject.code == RejectCode.CANISTER_ERROR
    assert "ic0.msg_reject: invalid UTF-8 string provided" in reject.message
