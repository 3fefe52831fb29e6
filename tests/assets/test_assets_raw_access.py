"""allow_raw_access as the official asset canister honours it: on a raw domain (`<id>.raw.icp0.io`,
`<id>.raw.ic0.app`, the local gateway's `<id>.raw.localhost:<port>`), where the gateway does not
verify the certificate, an asset whose allow_raw_access is false is answered with a 308 redirect to
the same path and query on the certified domain. Absent (as for an asset dfx or an old deploy
created without it) means allowed, the official default since dfx 0.15."""

from __future__ import annotations

from icchat.assets_canister import AssetsCanister, Upload
from icchat.ic.candid import Some

PAGE = b"<!doctype html><title>certified only</title>\n"


def site(assets: AssetsCanister) -> None:
    """/index.html and /app.js certified-only, /open.txt allowed raw, /plain.txt left unset."""
    assets.upload({"/index.html": Upload(PAGE, "text/html"), "/app.js": Upload(b"console.log(1)\n", "text/javascript"),
                   "/open.txt": Upload(b"open\n", "text/plain"), "/plain.txt": Upload(b"plain\n", "text/plain")})
    for key in ("/index.html", "/app.js"):
        assets.set_asset_properties(key, allow_raw_access=Some(False))
    assets.set_asset_properties("/open.txt", allow_raw_access=Some(True))


def test_the_gateway_passes_the_redirect_from_the_raw_domain_to_the_browser(gateway, assets):
    site(assets)
    certified = f"http://{assets.id}.localhost:{gateway.port}"
    for path in ("/index.html", "/app.js?v=3&x=%20y", "/chat/settings", "/"):
        status, headers, body = gateway.fetch(assets, path, raw=True)
        assert (status, headers["location"], body) == (308, certified + path, b""), path
    status, _, body = gateway.fetch(assets, "/index.html")  # where the redirect leads: served, verified
    assert (status, body) == (200, PAGE)


def test_assets_allowed_raw_or_left_unset_are_served_on_the_raw_domain(gateway, assets):
    site(assets)
    assert gateway.fetch(assets, "/open.txt", raw=True)[::2] == (200, b"open\n")
    assert gateway.fetch(assets, "/plain.txt", raw=True)[::2] == (200, b"plain\n")
    assets.set_asset_properties("/index.html", allow_raw_access=Some(None))  # unset again: allowed
    assert gateway.fetch(assets, "/index.html", raw=True)[::2] == (200, PAGE)


def test_the_ic_raw_domains_redirect_to_their_certified_domains(assets):
    site(assets)
    for host, location in [(f"{assets.id}.raw.icp0.io", f"https://{assets.id}.icp0.io/app.js?v=1"),
                           (f"{assets.id}.RAW.ic0.app", f"https://{assets.id}.ic0.app/app.js?v=1")]:
        response = assets.http_request("/app.js?v=1", [("Host", host)])
        assert response["status_code"] == 308 and dict(response["headers"])["location"] == location
        assert response["body"] == b""
    for host in (f"{assets.id}.icp0.io", "example.com", f"{assets.id}.raw.example.com", "raw.icp0.io"):
        assert assets.http_request("/app.js", [("Host", host)])["status_code"] == 200, host
    assert assets.http_request("/app.js")["status_code"] == 200  # no Host at all


def test_a_location_stays_one_printable_line(assets):
    site(assets)
    response = assets.http_request("/a b\u00e9\x7f", [("Host", f"{assets.id}.raw.icp0.io")])
    assert dict(response["headers"])["location"] == f"https://{assets.id}.icp0.io/a%20b%C3%A9%7F"
