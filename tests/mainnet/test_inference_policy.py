"""The host side of the gpt2 canister's inference policy: the argument it is installed with, the
worst case a policy allows, and the command-line amounts (the canister's side: tests/gpt2)."""

from __future__ import annotations

import argparse

import pytest

from icchat.ic import candid
from icchat.stack import inference_policy
from icchat.stack.inference_policy import (
    DEFAULTS,
    InferencePolicy,
    arg_for,
    parse_amount,
    worst_case,
)


def decode_arg(arg: bytes):
    from icchat.gpt2_canister import DID

    return candid.decode(arg, DID.init)[0]


def test_install_spells_out_every_field_and_upgrade_only_what_is_named():
    installed = decode_arg(arg_for("install", InferencePolicy(window_instructions=5 * 10**9)))
    assert installed == {"access": {"open": None}, "window_seconds": 86_400, "window_instructions": 5 * 10**9,
                         "caller_instructions": DEFAULTS.caller_instructions}
    upgraded = decode_arg(arg_for("upgrade", InferencePolicy(access="allow_list")))
    assert upgraded == {"access": {"allow_list": None}, "window_seconds": None, "window_instructions": None,
                        "caller_instructions": None}
    assert decode_arg(arg_for("upgrade", InferencePolicy())) is None  # keeps the running policy


def test_the_defaults_cost_at_most_one_window_budget_a_day():
    bound = worst_case(DEFAULTS)
    assert bound.cycles_per_day == DEFAULTS.window_instructions == 10**12
    assert bound.cycles_any_24h == 2 * 10**12  # the end of one window and the start of the next
    hourly = worst_case(InferencePolicy(window_seconds=3_600, window_instructions=10 * 10**9))
    assert hourly.cycles_per_day == 240 * 10**9 and hourly.cycles_any_24h == 250 * 10**9
    assert "$1.35" in bound.describe()


@pytest.mark.parametrize(("text", "value"), [("1T", 10**12), ("500B", 5 * 10**11), ("2e9", 2 * 10**9),
                                             ("1_000_000", 10**6), ("1.5m", 1_500_000)])
def test_amounts(text, value):
    assert parse_amount(text) == value


def test_a_bad_amount_says_what_it_wants():
    with pytest.raises(argparse.ArgumentTypeError, match=r"e\.g\. 500B"):
        parse_amount("lots")


def test_command_line_options_name_only_what_is_given():
    parser = argparse.ArgumentParser()
    inference_policy.add_arguments(parser, what="test")
    assert inference_policy.from_arguments(parser.parse_args([])).empty
    policy = inference_policy.from_arguments(parser.parse_args(["--access", "allow-list", "--caller-budget", "20B"]))
    assert policy == InferencePolicy(access="allow_list", caller_instructions=20 * 10**9)
