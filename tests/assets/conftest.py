"""The asset canister built once, a replica with its HTTP server (API + gateway) per session, and a
fresh asset canister per test (`assets`), with helpers to fetch through the gateway."""

from __future__ import annotations

import http.client
from dataclasses import dataclass
from pathlib import Path

import pytest

from icchat.assets_canister import AssetsCanister
from icchat.build.assets import build_assets_wasm
from icchat.replica import Replica
from icchat.replica.http import HttpServer


@pytest.fixture(scope="session")
def assets_wasm() -> bytes:
    return build_assets_wasm().read_bytes()


@dataclass
class Gateway:
    replica: Replica
    server: HttpServer

    @property
    def port(self) -> int:
        return self.server.port

    def fetch(self, canister: AssetsCanister, path: str, headers: dict[str, str] | None = None, *,
              raw: bool = False) -> tuple[int, dict[str, str], bytes]:
        """GET through the gateway, Host `<id>.localhost` (verified) or `<id>.raw.localhost`."""
        host = f"{canister.id}.{'raw.' if raw else ''}localhost:{self.port}"
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            connection.request("GET", path, headers={"Host": host, **(headers or {})})
            response = connection.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        finally:
            connection.close()


@pytest.fixture(scope="session")
def gateway(tmp_path_factory) -> Gateway:
    with Replica(tmp_path_factory.mktemp("assets-replica")) as replica, HttpServer(replica, port=0) as server:
        yield Gateway(replica, server)


@pytest.fixture
def assets(gateway, assets_wasm) -> AssetsCanister:
    return AssetsCanister.install(gateway.replica, assets_wasm)


@pytest.fixture
def site_dir(tmp_path) -> Path:
    """A folder like the chat page's: small text files, a nested one, and a 5 MB binary."""
    root = tmp_path / "site"
    (root / "js").mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html><title>icchat</title><script src=/js/app.js></script>\n" * 20)
    (root / "js" / "app.js").write_text("console.log('hello from the asset canister');\n" * 200)
    (root / "style.css").write_text("body { margin: 0 }\n")
    (root / "model.bin").write_bytes(bytes((i * 7919 + (i >> 8)) & 255 for i in range(5_000_000)))
    return root
