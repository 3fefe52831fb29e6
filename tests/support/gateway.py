"""One GET through the local replica's HTTP gateway, which verifies the canister's certification
before it answers: what every test that reads a canister's pages over HTTP does."""

from __future__ import annotations

import http.client


def gateway_get(port: int, host: str, path: str, timeout: float = 60) -> tuple[int, dict[str, str], bytes]:
    """(status, headers with lower-case names, body) of GET `path` from the gateway on 127.0.0.1:`port`
    as `host` (e.g. "<canister id>.localhost": the gateway picks the canister from it)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path, headers={"Host": f"{host}:{port}"})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()
