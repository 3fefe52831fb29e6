"""The `ic0` System API as data: each function's WASM signature and where the IC allows it.

Availability letters are the interface spec's ("Overview of imports"):
I init/post_upgrade, G pre_upgrade, U update, RQ/NRQ query in (non-)replicated mode, TQ http
transform, CQ composite query, Ry/Rt reply/reject callback, CRy/CRt the same in composite
queries, C/CC cleanup, F inspect_message, T system task (heartbeat/timer), s (start);
`*` = everything but s. Calling a function elsewhere traps with the IC's "cannot be executed
in <mode> mode" contract violation.
"""

from __future__ import annotations

import enum
from typing import NamedTuple

I32 = "i32"
I64 = "i64"
EVERYWHERE = frozenset(["I", "G", "U", "RQ", "NRQ", "TQ", "CQ", "Ry", "Rt", "CRy", "CRt", "C", "CC", "F", "T"])


def _letters(spec: str) -> frozenset[str]:
    letters: set[str] = set()
    for token in spec.split():
        if token == "*":
            letters |= EVERYWHERE
        elif token == "Q":  # msg_deadline's "U Q CQ ...": every query mode
            letters |= {"RQ", "NRQ", "TQ"}
        else:
            letters.add(token)
    return frozenset(letters)


class Api(NamedTuple):
    params: tuple[str, ...]
    results: tuple[str, ...]
    allowed: frozenset[str]
    supported: bool = True  # False: part of the IC's API, refused at install by this replica


def _api(params: str, results: str, allowed: str, supported: bool = True) -> Api:
    def types(text: str) -> tuple[str, ...]:
        return tuple(text.split())

    return Api(types(params), types(results), _letters(allowed), supported)


_COPY = "i32 i32 i32"
SYSTEM_API: dict[str, Api] = {
    "msg_arg_data_size": _api("", "i32", "I U RQ NRQ TQ CQ Ry CRy F"),
    "msg_arg_data_copy": _api(_COPY, "", "I U RQ NRQ TQ CQ Ry CRy F"),
    "msg_caller_size": _api("", "i32", "*"),
    "msg_caller_copy": _api(_COPY, "", "*"),
    "msg_caller_info_data_size": _api("", "i32", "U RQ NRQ CQ Ry Rt CRy CRt C CC F"),
    "msg_caller_info_data_copy": _api(_COPY, "", "U RQ NRQ CQ Ry Rt CRy CRt C CC F"),
    "msg_caller_info_signer_size": _api("", "i32", "U RQ NRQ CQ Ry Rt CRy CRt C CC F"),
    "msg_caller_info_signer_copy": _api(_COPY, "", "U RQ NRQ CQ Ry Rt CRy CRt C CC F"),
    "msg_reject_code": _api("", "i32", "Ry Rt CRy CRt C"),
    "msg_reject_msg_size": _api("", "i32", "Rt CRt"),
    "msg_reject_msg_copy": _api(_COPY, "", "Rt CRt"),
    "msg_deadline": _api("", "i64", "U Q CQ Ry Rt CRy CRt"),
    "msg_reply_data_append": _api("i32 i32", "", "U RQ NRQ TQ CQ Ry Rt CRy CRt"),
    "msg_reply": _api("", "", "U RQ NRQ TQ CQ Ry Rt CRy CRt"),
    "msg_reject": _api("i32 i32", "", "U RQ NRQ TQ CQ Ry Rt CRy CRt"),
    "msg_cycles_available128": _api("i32", "", "U RQ Rt Ry"),
    "msg_cycles_refunded128": _api("i32", "", "Rt Ry"),
    "msg_cycles_accept128": _api("i64 i64 i32", "", "U RQ Rt Ry"),
    "cycles_burn128": _api("i64 i64 i32", "", "I G U RQ Ry Rt C T"),
    "canister_self_size": _api("", "i32", "*"),
    "canister_self_copy": _api(_COPY, "", "*"),
    "canister_cycle_balance128": _api("i32", "", "*"),
    "canister_liquid_cycle_balance128": _api("i32", "", "*"),
    "canister_status": _api("", "i32", "*"),
    "canister_version": _api("", "i64", "*"),
    "subnet_self_size": _api("", "i32", "*"),
    "subnet_self_copy": _api(_COPY, "", "*"),
    "msg_method_name_size": _api("", "i32", "F"),
    "msg_method_name_copy": _api(_COPY, "", "F"),
    "accept_message": _api("", "", "F"),
    "call_new": _api("i32 i32 i32 i32 i32 i32 i32 i32", "", "U CQ Ry Rt CRy CRt T"),
    "call_on_cleanup": _api("i32 i32", "", "U CQ Ry Rt CRy CRt T"),
    "call_data_append": _api("i32 i32", "", "U CQ Ry Rt CRy CRt T"),
    "call_with_best_effort_response": _api("i32", "", "U CQ Ry Rt CRy CRt T", supported=False),
    "call_cycles_add128": _api("i64 i64", "", "U Ry Rt T"),
    "call_perform": _api("", "i32", "U CQ Ry Rt CRy CRt T"),
    "stable64_size": _api("", "i64", "* s"),
    "stable64_grow": _api("i64", "i64", "* s"),
    "stable64_write": _api("i64 i64 i64", "", "* s"),
    "stable64_read": _api("i64 i64 i64", "", "* s"),
    "root_key_size": _api("", "i32", "I G U RQ Ry Rt C T"),
    "root_key_copy": _api(_COPY, "", "I G U RQ Ry Rt C T"),
    "certified_data_set": _api("i32 i32", "", "I G U Ry Rt T"),
    "data_certificate_present": _api("", "i32", "*"),
    "data_certificate_size": _api("", "i32", "NRQ CQ"),
    "data_certificate_copy": _api(_COPY, "", "NRQ CQ"),
    "time": _api("", "i64", "*"),
    "global_timer_set": _api("i64", "i64", "I G U Ry Rt C T"),
    "performance_counter": _api("i32", "i64", "* s"),
    "is_controller": _api("i32 i32", "i32", "* s"),
    "in_replicated_execution": _api("", "i32", "* s"),
    "cost_call": _api("i64 i64 i32", "", "* s", supported=False),
    "cost_create_canister": _api("i32", "", "* s", supported=False),
    "cost_http_request": _api("i64 i64 i32", "", "* s", supported=False),
    "cost_sign_with_ecdsa": _api("i32 i32 i32 i32", "i32", "* s", supported=False),
    "cost_sign_with_schnorr": _api("i32 i32 i32 i32", "i32", "* s", supported=False),
    "cost_vetkd_derive_key": _api("i32 i32 i32 i32", "i32", "* s", supported=False),
    "env_var_count": _api("", "i32", "*", supported=False),
    "env_var_name_size": _api("i32", "i32", "*", supported=False),
    "env_var_name_copy": _api("i32 i32 i32 i32", "", "*", supported=False),
    "env_var_name_exists": _api("i32 i32", "i32", "*", supported=False),
    "env_var_value_size": _api("i32 i32", "i32", "*", supported=False),
    "env_var_value_copy": _api("i32 i32 i32 i32 i32", "", "*", supported=False),
    "debug_print": _api("i32 i32", "", "* s"),
    "trap": _api("i32 i32", "", "* s"),
    # Only for 32-bit canisters (all of ours).
    "msg_cycles_available": _api("", "i64", "U RQ Rt Ry"),
    "msg_cycles_refunded": _api("", "i64", "Rt Ry"),
    "msg_cycles_accept": _api("i64", "i64", "U RQ Rt Ry"),
    "canister_cycle_balance": _api("", "i64", "*"),
    "call_cycles_add": _api("i64", "", "U Ry Rt T"),
    "stable_size": _api("", "i32", "* s"),
    "stable_grow": _api("i32", "i32", "* s"),
    "stable_write": _api("i32 i32 i32", "", "* s"),
    "stable_read": _api("i32 i32 i32", "", "* s"),
}

UNSUPPORTED_REASONS = {
    "call_with_best_effort_response": "best-effort inter-canister calls",
    "cost_": "cycle cost queries",
    "env_var_": "canister environment variables",
}


def unsupported_reason(name: str) -> str:
    for prefix, reason in UNSUPPORTED_REASONS.items():
        if name.startswith(prefix):
            return reason
    return "this System API function"


class Mode(enum.Enum):
    """An execution context: its spec letter and the IC's name for it (used in error messages)."""

    START = ("s", "start")
    INIT = ("I", "init")  # canister_init and canister_post_upgrade
    PRE_UPGRADE = ("G", "pre upgrade")
    UPDATE = ("U", "update")
    REPLICATED_QUERY = ("RQ", "replicated query")
    NON_REPLICATED_QUERY = ("NRQ", "non replicated query")
    COMPOSITE_QUERY = ("CQ", "composite query")
    TRANSFORM = ("TQ", "transform")  # an HTTPS outcall's transform function
    REPLY_CALLBACK = ("Ry", "reply callback")
    REJECT_CALLBACK = ("Rt", "reject callback")
    CLEANUP = ("C", "cleanup")
    INSPECT_MESSAGE = ("F", "inspect message")
    HEARTBEAT = ("T", "heartbeat")
    GLOBAL_TIMER = ("T", "global timer")

    @property
    def letter(self) -> str:
        return self.value[0]

    @property
    def label(self) -> str:
        return self.value[1]

    @property
    def replicated(self) -> bool:
        return self not in (Mode.NON_REPLICATED_QUERY, Mode.COMPOSITE_QUERY, Mode.INSPECT_MESSAGE, Mode.TRANSFORM)

    @property
    def persists(self) -> bool:
        """Whether a successful execution in this mode keeps its state changes."""
        return self in (Mode.START, Mode.INIT, Mode.PRE_UPGRADE, Mode.UPDATE, Mode.HEARTBEAT, Mode.GLOBAL_TIMER,
                        Mode.REPLY_CALLBACK, Mode.REJECT_CALLBACK, Mode.CLEANUP)

    @property
    def stable_limit_kind(self) -> str:
        if self in (Mode.INIT, Mode.PRE_UPGRADE):
            return "upgrade"
        if self in (Mode.NON_REPLICATED_QUERY, Mode.REPLICATED_QUERY, Mode.COMPOSITE_QUERY, Mode.INSPECT_MESSAGE,
                    Mode.TRANSFORM):
            return "query"
        return "message"
