"""The canister settings the app sets on its canisters, locally and on mainnet alike.

- freezing_threshold: the IC freezes a canister (it refuses calls but keeps its state) once its
  balance would not pay this many seconds of idle storage; 90 days instead of the default 30
  leaves an owner time to notice a low balance before the canister is deleted.
- wasm_memory_limit: a heap past it traps the message instead of growing towards wasm32's 4 GiB,
  where an upgrade could no longer run. The gpt2 canister needs its weight file, the q8 model's
  widened weights and 768 MiB of prefix-cache slots (about 1.3 GiB for GPT-2 124M q8).
"""

from __future__ import annotations

from typing import Any

from icchat.ic import management
from icchat.ic.principal import Principal

DAY_S = 86_400
GiB = 1 << 30

SETTINGS: dict[str, dict[str, int]] = {
    "gpt2": {"freezing_threshold": 90 * DAY_S, "wasm_memory_limit": 3 * GiB},
    "frontend": {"freezing_threshold": 90 * DAY_S, "wasm_memory_limit": 2 * GiB},
    # the LLM service's route holds a route, a policy and the requests in flight: a small heap
    "llm_route": {"freezing_threshold": 90 * DAY_S, "wasm_memory_limit": 1 * GiB},
}
# `icchat up`'s stand-in of the LLM canister ("llm", local only) runs the same module as llm_route
WITH_LOCAL = {**SETTINGS, "llm": SETTINGS["llm_route"]}


def describe(name: str) -> str:
    s = WITH_LOCAL[name]
    return (f"update_settings: freezing_threshold {s['freezing_threshold'] // DAY_S} days, "
            f"wasm_memory_limit {s['wasm_memory_limit'] / GiB:g} GiB")


def ensure(agent: Any, name: str, canister_id: Principal) -> bool:
    """Set `name`'s settings on the canister unless it has them already; True if it changed."""
    status = management.canister_status(agent, canister_id)
    have = status.get("settings", {})
    want = WITH_LOCAL[name]
    if all(have.get(key) == value for key, value in want.items()):
        return False
    management.update_settings(agent, canister_id, **want)
    return True
