"""The local development stack behind `icchat up | down | status` (host-only).

    from icchat.stack import up, down, status
    info = up(UpOptions(model="tiny"))      # build, start the replica, deploy; idempotent
    print(info.page_url)

One module per concern: `replica_process` (the background replica), `state` (what is deployed,
in .state/local.json), `canisters` (create / install / upgrade through the management canister),
`models` (which bundle runs), `site` (the page folder with its deploy-time config), `up` (the
orchestration). The local replica is for development only; production is mainnet (dfx/icp-cli).
"""

from __future__ import annotations

from icchat.stack.up import StackInfo, UpOptions, down, status, up

__all__ = ["StackInfo", "UpOptions", "down", "status", "up"]
