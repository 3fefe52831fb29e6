"""What a deploy costs on mainnet, from the IC's published cycles cost table (13-node subnet).

Prices: icchat.bench.gpt2.IC_PRICES (dfinity/portal docs/references/cycles-cost-formulas.mdx @
1f742569, read 2026-12-01) plus, from the same table, storage and canister creation below.
Upload instructions are our asset canister's (docs/asset-canister.md: a 1.9 MB create_chunk costs
143 M); the standard asset canister's differ, but the ingress byte fee dominates either way.
"""

from __future__ import annotations

from icchat.bench.gpt2 import IC_PRICES

STORAGE_CYCLES_PER_GIB_SECOND = 127_000  # "GiB storage per second", 13-node subnets
CANISTER_CREATION_CYCLES = 500_000_000_000
CREATE_CHUNK_INSTRUCTIONS_PER_BYTE = 143_000_000 / 1_900_000
MONTH_S = 30 * 86_400


def upload_cycles(total_bytes: int, messages: int) -> int:
    """Ingress reception + execution of `messages` create_chunk(s) calls carrying `total_bytes`."""
    p = IC_PRICES
    per_message = p["ingress_message_reception_cycles"] + p["update_message_execution_cycles"]
    per_byte = p["ingress_byte_reception_cycles"] + p["cycles_per_instruction"] * CREATE_CHUNK_INSTRUCTIONS_PER_BYTE
    return round(messages * per_message + total_bytes * per_byte)


def storage_cycles_per_month(total_bytes: int) -> int:
    return round(total_bytes / 2**30 * STORAGE_CYCLES_PER_GIB_SECOND * MONTH_S)


def usd(cycles: int) -> float:
    return cycles / IC_PRICES["cycles_per_xdr"] * IC_PRICES["usd_per_xdr"]


def describe(cycles: int) -> str:
    return f"{cycles / 1e12:.3f} T cycles (${usd(cycles):.2f} at the {IC_PRICES['usd_rate_date']} XDR rate)"
