"""What a deploy costs on mainnet, from the IC's published cycles cost table (13-node subnet).

Prices and formulas: icchat.ic.prices (dfinity/portal docs/references/cycles-cost-formulas.mdx @
1f742569, read 2026-12-01).
Upload instructions are our asset canister's (docs/asset-canister.md: a 1.9 MB create_chunk costs
143 M); the standard asset canister's differ, but the ingress byte fee dominates either way.
"""

from __future__ import annotations

from icchat.ic import prices
from icchat.ic.prices import IC_PRICES

CREATE_CHUNK_INSTRUCTIONS_PER_BYTE = 143_000_000 / 1_900_000
MONTH_S = 30 * 86_400


def upload_cycles(total_bytes: int, messages: int) -> int:
    """Ingress reception + execution of `messages` create_chunk(s) calls carrying `total_bytes`."""
    per_message = prices.ingress_induction_cycles(0) + prices.update_execution_cycles(0)
    per_byte = IC_PRICES["ingress_byte_reception_cycles"] + IC_PRICES["cycles_per_instruction"] * CREATE_CHUNK_INSTRUCTIONS_PER_BYTE
    return round(messages * per_message + total_bytes * per_byte)


def storage_cycles_per_month(total_bytes: int) -> int:
    return prices.storage_cycles(total_bytes, MONTH_S)


def usd(cycles: int) -> float:
    return prices.usd(cycles)


def describe(cycles: int) -> str:
    return f"{cycles / 1e12:.3f} T cycles (${usd(cycles):.2f} at the {IC_PRICES['usd_rate_date']} XDR rate)"
