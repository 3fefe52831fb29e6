"""What a deploy costs on mainnet, with the IC's cycles prices and formulas (icchat.ic.prices).

Upload instructions are our asset canister's (docs/asset-canister.md: a 1.9 MB create_chunk costs
143 M); the standard asset canister's differ, but the ingress byte fee dominates either way.
"""

from __future__ import annotations

from icchat.ic import prices

CREATE_CHUNK_INSTRUCTIONS_PER_BYTE = 143_000_000 / 1_900_000
MONTH_S = 30 * 86_400


def upload_cycles(total_bytes: int, messages: int) -> int:
    """Ingress reception + execution of `messages` create_chunk calls carrying `total_bytes`."""
    per_message = prices.update_cycles(0, 0)  # the fees every message pays, whatever it carries
    carried = prices.update_cycles(round(total_bytes * CREATE_CHUNK_INSTRUCTIONS_PER_BYTE), total_bytes) - per_message
    return messages * per_message + carried


def storage_cycles_per_month(total_bytes: int) -> int:
    return prices.storage_cycles(total_bytes, MONTH_S)


def describe(cycles: int) -> str:
    return (f"{cycles / 1e12:.3f} T cycles (${prices.usd(cycles):.2f} at the "
            f"{prices.IC_PRICES['usd_rate_date']} XDR rate)")
