"""Message semantics: atomic updates, queries never persist, replies, rejects and size limits."""

from __future__ import annotations

import pytest
from replica_helpers import CONTROLLER, as_u64, reject_of, u64

from icchat.replica import IngressTooLarge, Reject, RejectCode

MiB = 1024 * 1024


def test_update_persists_and_query_reads_it(replica, canister):
    assert as_u64(replica.update(canister, "inc")) == 1
    assert as_u64(replica.update(canister, "inc")) == 2
    assert as_u64(replica.query(canister, "read")) == 2


def test_query_changes_never_persist(replica, canister):
    replica.update(canister, "inc")
    assert as_u64(replica.query(canister, "inc_in_query")) == 2  # the query saw its own change...
    assert as_u64(replica.query(canister, "read")) == 1  # ...which was discarded
    # A query method called by an update runs replicated, and still does not persist.
    assert as_u64(replica.update(canister, "inc_in_query")) == 2
    assert as_u64(replica.query(canister, "read")) == 1


def test_trap_rolls_back_heap_stable_memory_certified_data_and_timer(replica, canister):
    replica.update(canister, "inc")
    replica.update(canister, "stable_write", u64(100) + b"original")
    replica.update(canister, "set_certified", b"before")
    version = replica.canister_info(canister).version
    reject = reject_of(replica.update, canister, "change_then_trap")
    assert reject.code == RejectCode.CANISTER_ERROR and reject.error_code == "IC0503"
    assert reject.message == (
        f"Error from Canister {canister}: Canister called `ic0.trap` with message: 'trapped after changing state'.\n"
        "Consider gracefully handling failures from this canister or altering the canister to handle exceptions. "
        "See documentation: http://internetcomputer.org/docs/current/references/execution-errors#trapped-explicitly"
    )
    assert as_u64(replica.query(canister, "read")) == 1
    assert replica.query(canister, "stable_read", u64(100) + u64(8)) == b"original"
    assert replica.canister_info(canister).certified_data == b"before"
    assert replica.canister(canister).system.global_timer == 0
    assert replica.canister_info(canister).version == version  # a failed message changes nothing


def test_trap_after_heap_growth_restores_the_heap_size(replica, canister):
    replica.update(canister, "inc")
    pages = as_u64(replica.query(canister, "memory_size"))
    reject = reject_of(replica.update, canister, "grow_then_trap", u64(64))
    assert reject.error_code == "IC0502" and "Canister trapped: unreachable" in reject.message
    assert as_u64(replica.query(canister, "memory_size")) == pages
    assert as_u64(replica.query(canister, "read")) == 1
    # The rebuilt instance keeps working and growing.
    assert as_u64(replica.update(canister, "grow", u64(2))) == pages + 2
    assert as_u64(replica.update(canister, "inc")) == 2


def test_wasm_traps_map_to_ic_trap_codes(replica, canister):
    assert "Canister trapped: unreachable" in reject_of(replica.update, canister, "unreachable").message
    assert "Canister trapped: heap out of bounds" in reject_of(replica.update, canister, "heap_oob").message
    # A System API call handed memory outside the heap is a contract violation, as on the IC.
    reject = reject_of(replica.update, canister, "reply_oob")
    assert reject.error_code == "IC0504"
    assert "Canister violated contract: msg.reply: src=4294967280 + length=1 exceeds the slice size=" in reject.message


def test_explicit_reject_has_code_4_and_the_canisters_message(replica, canister):
    reject = reject_of(replica.update, canister, "reject", "nope ✗".encode())
    assert reject.code == RejectCode.CANISTER_REJECT
    assert reject.message == "nope ✗"
    assert reject.error_code == "IC0406"


def test_reply_twice_and_reply_then_reject_are_contract_violations(replica, canister):
    reject = reject_of(replica.update, canister, "reply_twice")
    assert reject.error_code == "IC0504"
    assert "Canister violated contract: ic0.msg_reply: the call is already replied" in reject.message
    reject = reject_of(replica.update, canister, "reply_then_reject")
    assert "ic0.msg_reject: the call is already replied" in reject.message


def test_no_reply_is_an_error_and_rolls_nothing_back(replica, canister):
    reject = reject_of(replica.update, canister, "no_reply")
    assert reject.error_code == "IC0506"
    assert reject.message == f"Canister {canister} did not reply to the call"
    assert as_u64(replica.query(canister, "read")) == 1  # the IC keeps the changes of a message without reply


@pytest.mark.parametrize(("method", "limit"), [("reply_size", 2 * MiB), ("reply_size_q", 3 * MiB)])
def test_reply_size_limits(replica, canister, method, limit):
    call = replica.update if method == "reply_size" else replica.query
    assert len(call(canister, method, u64(limit))) == limit
    reject = reject_of(call, canister, method, u64(limit + 1))
    assert reject.error_code == "IC0504"
    assert (
        f"ic0.msg_reply_data_append: application payload size ({limit + 1}) cannot be larger than {limit}."
        in reject.message
    )


def test_replicated_query_has_the_update_reply_limit(replica, canister):
    reject = reject_of(replica.update, canister, "reply_size_q", u64(2 * MiB + 1))
    assert f"cannot be larger than {2 * MiB}" in reject.message


def test_ingress_arguments_over_2_mib_are_refused_before_execution(replica, canister):
    method = "echo"
    fits = b"x" * (2 * MiB - len(method))
    assert replica.update(canister, method, fits) == fits
    with pytest.raises(IngressTooLarge) as info:
        replica.update(canister, method, fits + b"x")
    assert "exceeds the limit of 2097152 bytes" in info.value.message
    assert as_u64(replica.query(canister, "read")) == 0


def test_unknown_methods_use_the_ic_wording(replica, canister):
    reject = reject_of(replica.update, canister, "nope")
    assert reject.error_code == "IC0536"
    assert reject.message.startswith(f"Error from Canister {canister}: Canister has no update method 'nope'..\n")
    # A query call cannot reach an update method.
    assert "has no query method 'inc'" in reject_of(replica.query, canister, "inc").message
    # A composite query cannot be called in replicated mode.
    assert replica.query(canister, "try_composite", b"api:\x02") == b"ok"
    assert reject_of(replica.update, canister, "try_composite", b"api:\x02").error_code == "IC0527"


def test_calls_to_missing_or_empty_canisters(replica):
    from icchat.ic.principal import Principal

    missing = Principal.from_canister_index(4242)
    reject = reject_of(replica.update, missing, "x")
    assert (reject.code, reject.error_code) == (RejectCode.DESTINATION_INVALID, "IC0301")
    empty = replica.create_canister(controllers=[CONTROLLER])
    reject = reject_of(replica.query, empty, "x")
    assert reject.error_code == "IC0537"
    assert "Attempted to execute a message, but the canister contains no Wasm module." in reject.message


def test_instruction_limit_of_queries_is_5_billion(replica, canister):
    used = as_u64(replica.query(canister, "spin_q", u64(1000)))
    assert 1000 < used < 1_000_000
    reject = reject_of(replica.query, canister, "spin_q", u64(10**12))
    assert reject.error_code == "IC0522"
    assert reject.message.startswith(
        f"Error from Canister {canister}: Canister exceeded the limit of 5000000000 instructions "
        "for single message execution..\nTry optimizing this method"
    )


def test_inspect_message_limit_and_acceptance(replica, canister):
    reject = reject_of(replica.update, canister, "inc", b"inspect-spin")
    assert reject.error_code == "IC0522" and "limit of 200000000 instructions" in reject.message
    reject = reject_of(replica.update, canister, "deny_me")
    assert (reject.code, reject.error_code) == (RejectCode.CANISTER_REJECT, "IC0406")
    assert reject.message == f"Error from Canister {canister}: Canister rejected the message"
    assert "inspect trapped" in reject_of(replica.inspect_message, canister, "inc", b"inspect-trap").message
    replica.inspect_message(canister, "inc")  # accepted, and never persists anything
    assert as_u64(replica.query(canister, "read")) == 0
    # The HTTP layer inspects at submission and executes later without inspecting again.
    assert replica.update(canister, "deny_me", inspect=False) == b"should not run"


def test_reject_is_a_typed_exception_with_ic_fields(replica, canister):
    reject = reject_of(replica.update, canister, "trap", b"x")
    assert isinstance(reject, Reject) and isinstance(reject.code, int)
    assert str(reject).startswith("reject code 5 (CANISTER_ERROR), error code IC0503: ")


def test_a_trap_after_replying_discards_the_reply_and_the_changes(replica, canister):
    reject = reject_of(replica.update, canister, "reply_then_trap")
    assert reject.error_code == "IC0503" and "trapped after replying" in reject.message
    assert as_u64(replica.query(canister, "read")) == 0


def test_concurrent_callers_are_serialized(replica, canister):
    import threading

    def worker():
        for _ in range(50):
            replica.update(canister, "inc")
            replica.query(canister, "read")

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert as_u64(replica.query(canister, "read")) == 200


def test_wasm_memory_limit_applies_when_the_heap_grows(replica, canister):
    from icchat.ic import candid
    from icchat.ic.principal import Principal
    from icchat.replica.management import METHODS

    size = as_u64(replica.query(canister, "memory_size")) * 65536
    settings = {"canister_id": canister, "settings": {"wasm_memory_limit": size + 65536}}
    arg = candid.encode(METHODS["update_settings"].args, [settings])
    replica.update(Principal.management(), "update_settings", arg, sender=CONTROLLER)
    assert as_u64(replica.update(canister, "grow", u64(1))) * 65536 == size + 65536
    reject = reject_of(replica.update, canister, "grow", u64(1))
    assert reject.error_code == "IC0539"
    assert f"Canister exceeded its current Wasm memory limit of {size + 65536} bytes." in reject.message
    assert as_u64(replica.update(canister, "inc")) == 1  # not growing: fine even at the limit
