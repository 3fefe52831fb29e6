"""The IC's cycle prices on a 13-node application subnet, and the formulas that use them (written once).

Everything that prices IC work reads this module: the local replica's charging
(icchat.replica.cycles), the benchmarks (icchat.bench), the deploy cost estimates
(icchat.stack.costs), the inference policy's worst case (icchat.stack.inference_policy) and the
page's mainnet estimate of an onchain answer (icchat.chat.onchain, in Pyodide: this module is
stdlib-only and ships in the page's wheel; the deploy writes `page_prices()` into config.json and
the page passes that table to `update_cycles`).

Source. The published table: https://internetcomputer.org/docs/references/cycles-cost-formulas,
i.e. dfinity/portal docs/references/cycles-cost-formulas.mdx at commit
1f742569d5f5e6c4d3bff065989e38f72550fab2, read on 2026-12-01 (USD figures at the XDR rate of
2025-05-22). The same values and the formulas' shape (integer arithmetic, what is charged when)
are dfinity/ic rs/config/src/subnet_config.rs (CyclesAccountManagerConfig::application_subnet:
update_message_execution_fee 5M, ten_update_instructions_execution_fee 10, ingress 1.2M + 2,000
per byte, gib_storage_per_second_fee 127,000, compute 10M per percent-second) and
rs/cycles_account_manager (execution_cost, ingress_induction_cost_from_bytes, memory_cost,
idle_cycles_burned_rate, freeze_threshold_cycles).

Newer dfinity/ic main (after PR #10292, merged 2026-05-22) adds a base fee of 10,000 cycles per
second for every canister with memory and raises storage to 317,500 per GiB-second; the published
table above does not list them yet. `gib_storage_per_second_cycles` and
`canister_base_cycles_per_second` below are the two numbers to change when it does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

GiB = 1 << 30
SECONDS_PER_DAY = 86_400

IC_PRICES = {
    "source": "https://internetcomputer.org/docs/references/cycles-cost-formulas "
              "(dfinity/portal docs/references/cycles-cost-formulas.mdx @ 1f742569d5f5e6c4d3bff065989e38f72550fab2)",
    "read_on": "2026-12-01",
    "usd_rate_date": "2025-05-22",
    "subnet": "13-node application subnet",
    "update_message_execution_cycles": 5_000_000,
    "cycles_per_instruction": 1,  # "1B executed instructions: 1_000_000_000 cycles"
    "ingress_message_reception_cycles": 1_200_000,
    "ingress_byte_reception_cycles": 2_000,
    "query_call_cycles": 0,  # "Query call: Free"
    "gib_storage_per_second_cycles": 127_000,  # "GiB storage per second"
    "canister_base_cycles_per_second": 0,  # not in the published table (see the module docstring)
    "compute_percent_allocated_per_second_cycles": 10_000_000,
    "xnet_call_cycles": 260_000,  # "Xnet call": sending an inter-canister call (and its response)
    "xnet_byte_transmission_cycles": 1_000,  # "Xnet byte transmission": per byte of a request or response
    "canister_creation_cycles": 500_000_000_000,
    "cycles_per_xdr": 1_000_000_000_000,
    "usd_per_xdr": 1.354820,
}

# What the page needs for its estimate of an onchain answer (config.json "ic_prices").
PAGE_KEYS = ("source", "read_on", "subnet", "update_message_execution_cycles", "cycles_per_instruction",
             "ingress_message_reception_cycles", "ingress_byte_reception_cycles", "query_call_cycles",
             "cycles_per_xdr", "usd_per_xdr", "usd_rate_date")
Prices = Mapping[str, Any]


def page_prices() -> dict[str, Any]:
    """The part of the table the page reads, with its source and date."""
    return {key: IC_PRICES[key] for key in PAGE_KEYS}


def ingress_induction_cycles(message_bytes: int, table: Prices = IC_PRICES) -> int:
    """Charged to the receiving canister when an ingress message is inducted (before it runs,
    whatever its outcome). On the IC `message_bytes` is the whole signed HTTP request body."""
    return table["ingress_message_reception_cycles"] + table["ingress_byte_reception_cycles"] * message_bytes


def update_execution_cycles(instructions: int, table: Prices = IC_PRICES) -> int:
    """One execution (update, replicated query, heartbeat, timer, install_code): the base fee plus
    the instructions. The IC prepays this for the message's instruction limit and refunds the
    part for instructions not executed."""
    return table["update_message_execution_cycles"] + instructions_cycles(instructions, table)


def instructions_cycles(instructions: int, table: Prices = IC_PRICES) -> int:
    """The per-instruction part alone (what a refund of unused instructions gives back). The IC
    keeps this fee per 10 instructions so that it can be below 1 cycle."""
    return 10 * table["cycles_per_instruction"] * instructions // 10


def update_cycles(instructions: int, ingress_bytes: int, table: Prices = IC_PRICES) -> int:
    """Mainnet cycles of one ingress update: reception + execution (the reply is not charged;
    queries are free)."""
    return ingress_induction_cycles(ingress_bytes, table) + update_execution_cycles(instructions, table)


def call_transmission_cycles(request_bytes: int) -> int:
    """Sending an inter-canister call of `request_bytes` (method name + argument): the xnet call
    fee and its bytes (rs/cycles_account_manager xnet_total_transmission_fee)."""
    return IC_PRICES["xnet_call_cycles"] + IC_PRICES["xnet_byte_transmission_cycles"] * request_bytes


def response_transmission_cycles(response_bytes: int) -> int:
    """Transmitting a response of `response_bytes` (the reply, or the reject's message)."""
    return IC_PRICES["xnet_byte_transmission_cycles"] * response_bytes


def storage_cycles(memory_bytes: int, seconds: int) -> int:
    """What holding `memory_bytes` for `seconds` costs (the IC's memory_cost plus its per-canister
    base fee, which applies to any canister with memory)."""
    cycles = memory_bytes * IC_PRICES["gib_storage_per_second_cycles"] * seconds // GiB
    if memory_bytes > 0:
        cycles += IC_PRICES["canister_base_cycles_per_second"] * seconds
    return cycles


def idle_cycles_per_day(memory_bytes: int, compute_allocation: int = 0, memory_allocation: int = 0) -> int:
    """The idle burn rate (canister_status's idle_cycles_burned_per_day): storage of
    max(memory_allocation, usage) when an allocation is set, else of the usage, plus the compute
    allocation (percent)."""
    memory = max(memory_allocation, memory_bytes) if memory_allocation else memory_bytes
    compute = IC_PRICES["compute_percent_allocated_per_second_cycles"] * SECONDS_PER_DAY * compute_allocation
    return storage_cycles(memory, SECONDS_PER_DAY) + compute


def freezing_threshold_cycles(freezing_threshold_seconds: int, memory_bytes: int, compute_allocation: int = 0,
                              memory_allocation: int = 0) -> int:
    """The reserve a canister keeps: the idle burn over its freezing threshold. Ingress, execution
    prepayments and installs are refused if they would take the balance below it, and a
    canister whose balance is below it is frozen (its queries are refused too)."""
    per_day = idle_cycles_per_day(memory_bytes, compute_allocation, memory_allocation)
    return per_day * freezing_threshold_seconds // SECONDS_PER_DAY


def usd(cycles: int) -> float:
    return cycles / IC_PRICES["cycles_per_xdr"] * IC_PRICES["usd_per_xdr"]


# HTTPS outcalls: the same page's "HTTPS outcalls" formula, per node of a subnet of n nodes
# (dfinity/ic CyclesAccountManagerConfig: http_request_linear_baseline_fee,
# http_request_quadratic_baseline_fee, http_request_per_byte_fee, http_response_per_byte_fee).
HTTP_OUTCALL_PRICES = {
    "linear_baseline_cycles": 3_000_000,
    "quadratic_baseline_cycles": 60_000,
    "request_byte_cycles": 400,
    "response_byte_cycles": 800,
}


def http_outcall_cycles(request_bytes: int, max_response_bytes: int, subnet_size: int = 13) -> int:
    """What the IC takes for one `http_request`: `(3_000_000 + 60_000 * n) * n` plus
    `(400 * request_bytes + 800 * max_response_bytes) * n`. `request_bytes` counts the URL, the
    header names and values, the body and the transform's method name and context; the response
    is charged for its limit (2,000,000 when the canister sets none), not for what comes back."""
    p = HTTP_OUTCALL_PRICES
    per_node = (p["linear_baseline_cycles"] + p["quadratic_baseline_cycles"] * subnet_size
                + p["request_byte_cycles"] * request_bytes + p["response_byte_cycles"] * max_response_bytes)
    return per_node * subnet_size
