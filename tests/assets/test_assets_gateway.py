"""The asset canister through the replica's HTTP gateway (which verifies certification v2 and v1)
and through the official verifier @dfinity/response-verification: a folder with small files and a
5 MB file, byte-identical; gzip negotiated; ETag → 304; per-asset headers; app routes get
/index.html; a missing file with an extension gets a certified 404."""

from __future__ import annotations

import gzip
import json
import subprocess

import pytest

from icchat.assets_canister import AssetsCanister, Upload
from icchat.paths import REPO

COOP = [("Cross-Origin-Opener-Policy", "same-origin"), ("Cross-Origin-Embedder-Policy", "require-corp"),
        ("Cross-Origin-Resource-Policy", "same-origin"), ("Content-Security-Policy", "default-src 'self'")]
TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".bin": "application/octet-stream"}


def deploy(canister: AssetsCanister, folder) -> dict[str, bytes]:
    """Upload every file (text files also gzipped); returns key -> bytes."""
    files, uploads = {}, {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        key = "/" + path.relative_to(folder).as_posix()
        data = files[key] = path.read_bytes()
        text = path.suffix != ".bin"
        uploads[key] = Upload(data, TYPES[path.suffix], max_age=0 if key == "/index.html" else 31536000,
                              headers=COOP if key == "/index.html" else [COOP[2]],
                              extra={"gzip": gzip.compress(data, mtime=0)} if text else {})
    canister.upload(uploads)
    return files


def test_every_file_comes_back_byte_identical_and_verified(gateway, assets, site_dir):
    files = deploy(assets, site_dir)
    for key, data in files.items():
        status, headers, body = gateway.fetch(assets, key)
        assert status == 200, (key, body[:200])
        assert body == data, key
        assert headers["content-type"] == TYPES[key[key.rindex("."):]]
        assert "ic-certificate" in headers and "ic-certificateexpression" in headers  # v2 passed the gateway
    assert assets.content("/model.bin") == files["/model.bin"]  # get + get_chunk


def test_gzip_is_served_when_accepted(gateway, assets, site_dir):
    files = deploy(assets, site_dir)
    status, headers, body = gateway.fetch(assets, "/js/app.js", {"Accept-Encoding": "gzip, deflate"})
    assert status == 200 and headers["content-encoding"] == "gzip"
    assert gzip.decompress(body) == files["/js/app.js"] and len(body) < len(files["/js/app.js"]) // 10
    status, headers, body = gateway.fetch(assets, "/js/app.js", {"Accept-Encoding": "gzip;q=0, identity"})
    assert status == 200 and "content-encoding" not in headers and body == files["/js/app.js"]


def test_matching_etag_gets_304_per_encoding(gateway, assets, site_dir):
    deploy(assets, site_dir)
    _, plain, _ = gateway.fetch(assets, "/style.css")
    _, zipped, _ = gateway.fetch(assets, "/style.css", {"Accept-Encoding": "gzip"})
    assert plain["etag"] != zipped["etag"]  # different representations, different tags
    status, headers, body = gateway.fetch(assets, "/style.css", {"If-None-Match": plain["etag"]})
    assert (status, body) == (304, b"") and headers["etag"] == plain["etag"]
    status, _, body = gateway.fetch(assets, "/style.css", {"If-None-Match": f'W/{zipped["etag"]}', "Accept-Encoding": "gzip"})
    assert (status, body) == (304, b"")
    status, _, body = gateway.fetch(assets, "/style.css", {"If-None-Match": '"not-it"'})
    assert status == 200 and body


def test_per_asset_headers_and_cache_control(gateway, assets, site_dir):
    deploy(assets, site_dir)
    _, headers, _ = gateway.fetch(assets, "/index.html")
    for name, value in COOP:
        assert headers[name.lower()] == value
    assert headers["cache-control"] == "max-age=0"
    _, headers, _ = gateway.fetch(assets, "/js/app.js")
    assert headers["cache-control"] == "max-age=31536000"
    assert headers["cross-origin-resource-policy"] == "same-origin" and "cross-origin-opener-policy" not in headers


def test_app_routes_get_index_html_and_missing_files_404(gateway, assets, site_dir):
    files = deploy(assets, site_dir)
    for route in ("/", "/chat", "/chat/settings/", "/a/b/c"):
        status, headers, body = gateway.fetch(assets, route)
        assert (status, body) == (200, files["/index.html"]), route
        assert headers["cross-origin-opener-policy"] == "same-origin"
    for missing in ("/missing.js", "/js/nope.mjs", "/x/y.wasm"):
        status, headers, body = gateway.fetch(assets, missing)
        assert (status, body) == (404, b"404 Not Found\n"), missing
        assert "ic-certificate" in headers


def test_empty_canister_answers_certified_404(gateway, assets):
    status, _, body = gateway.fetch(assets, "/anything")
    assert (status, body) == (404, b"404 Not Found\n")


def _canister_answer(canister: AssetsCanister, url: str, headers: list[tuple[str, str]], version: int) -> dict:
    response = canister.http_request(url, headers, certificate_version=version)
    body = b"".join(canister.http_body(response))
    return {"url": url, "request_headers": [[k.lower(), v] for k, v in headers], "version": version,
            "status": response["status_code"], "headers": response["headers"], "body_hex": body.hex(),
            "canister_hex": canister.id.raw.hex(), "now": str(canister.replica.time_ns()),
            "root_key_hex": canister.replica.root_key_der().hex()}


@pytest.mark.parametrize("version", [1, 2])
def test_official_verifier_accepts_every_answer(gateway, assets, site_dir, version):
    deploy(assets, site_dir)
    _, plain, _ = gateway.fetch(assets, "/style.css")
    requests = [("/index.html", []), ("/js/app.js", [("Accept-Encoding", "gzip")]), ("/model.bin", []),
                ("/chat/settings", []), ("/", []), ("/style.css", [("If-None-Match", plain["etag"])])]
    if version == 2:
        requests.append(("/missing.js", []))
    cases = [_canister_answer(assets, url, headers, version) for url, headers in requests]
    process = subprocess.run(["node", str(REPO / "tests" / "assets" / "js" / "verify.mjs")], input=json.dumps(cases),
                             capture_output=True, text=True, timeout=120, cwd=REPO)
    assert process.returncode == 0, process.stderr
    verdicts = json.loads(process.stdout)
    for (url, _), case, verdict in zip(requests, cases, verdicts, strict=True):
        assert verdict["ok"], (url, verdict)
        assert verdict["version"] == version, (url, verdict)
        if version == 2:
            assert verdict["status"] == case["status"], url
    statuses = {url: case["status"] for (url, _), case in zip(requests, cases, strict=True)}
    assert statuses["/style.css"] == (304 if version == 2 else 200)  # v1 cannot certify a 304


def test_official_verifier_refuses_a_tampered_body(assets, site_dir):
    deploy(assets, site_dir)
    case = _canister_answer(assets, "/js/app.js", [], 2)
    case["body_hex"] = (b"tampered" + bytes.fromhex(case["body_hex"])[8:]).hex()
    process = subprocess.run(["node", str(REPO / "tests" / "assets" / "js" / "verify.mjs")], input=json.dumps([case]),
                             capture_output=True, text=True, timeout=120, cwd=REPO)
    assert not json.loads(process.stdout)[0]["ok"]
