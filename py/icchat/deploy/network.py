"""Where a deploy goes: mainnet (`ic`), the local replica (`local`) or any replica URL.

A network is its API URL, whether its root key is built in (mainnet: never fetched) or fetched
(a replica's own key), and the URL its HTTP gateway serves a canister at.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass

from icchat.errors import UserError
from icchat.ic.agent import Agent, is_mainnet
from icchat.ic.identity import Identity
from icchat.ic.principal import Principal

MAINNET_API = "https://icp-api.io"
MAINNET_GATEWAY_DOMAIN = "icp0.io"
LOCAL_PORT = 4943


@dataclass(frozen=True)
class Network:
    """Where the app goes: its API URL, how its root key is trusted, and its gateway URLs."""
    key: str  # the network's name in canister_ids.json: "ic", "local" or the URL
    url: str
    mainnet: bool

    @classmethod
    def parse(cls, spec: str) -> Network:
        """`ic`, `local` (the local replica on its default port) or an http(s)://host[:port] URL."""
        if spec == "ic":
            return cls("ic", MAINNET_API, True)
        if spec == "local":
            return cls.local(LOCAL_PORT)
        if re.match(r"^https?://[^/]+/?$", spec):
            url = spec.rstrip("/")
            return cls("ic" if is_mainnet(url) else url, url, is_mainnet(url))
        raise UserError(f"--network must be ic, local or an http(s)://host[:port] URL, not {spec!r}")

    @classmethod
    def local(cls, port: int) -> Network:
        """The local replica (`icchat up`'s) on `port`."""
        return cls("local", f"http://127.0.0.1:{port}", False)

    def gateway(self, canister: Principal | str) -> str:
        """https://<id>.icp0.io on mainnet; scheme://<id>.<host>[:port] on a replica (our
        replica's gateway answers <id>.localhost for 127.0.0.1)."""
        if self.mainnet:
            return f"https://{canister}.{MAINNET_GATEWAY_DOMAIN}"
        parts = urllib.parse.urlsplit(self.url)
        host = parts.hostname or ""
        host = "localhost" if host in ("127.0.0.1", "::1", "localhost") else host
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{canister}.{host}{port}"

    def agent(self, identity: Identity) -> Agent:
        """An agent signing as `identity`: mainnet's root key is built in, a replica's is fetched."""
        agent = Agent(self.url, identity)
        if not self.mainnet:
            agent.fetch_root_key()  # a replica's own key; never done for mainnet hosts
        return agent
