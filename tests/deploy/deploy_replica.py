"""A replica with its HTTP server, and agents for it that trust its root key."""

from __future__ import annotations

from dataclasses import dataclass

from icchat.ic.agent import Agent
from icchat.ic.identity import Identity
from icchat.replica import Replica
from icchat.replica.http import HttpServer


@dataclass
class HttpReplica:
    replica: Replica
    server: HttpServer

    @property
    def url(self) -> str:
        return self.server.url

    def agent(self, identity: Identity | None = None, **options) -> Agent:
        agent = Agent(self.url, identity, **options)
        agent.fetch_root_key()
        return agent
