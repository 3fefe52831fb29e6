"""The folder scan: `.ic-assets.json5` rules (dfx's format, JSON5 syntax), globs, hidden files,
content types and the gzip decision."""

from __future__ import annotations

import gzip
import random

import pytest

from icchat.deploy.config import ConfigError, glob_regex
from icchat.deploy.json5 import JSON5Error, loads
from icchat.deploy.scan import normalize_prefix, scan_folder


def test_json5_syntax():
    text = """// dfx writes comments
    [
      { match: '**/*', "headers": { 'X-A': "a\\"b", }, cache: { max_age: 0x10 }, /* inline */ },
      { "match": "*.js", "ignore": false, n: [1, -2.5, +.5, 1e3,], },
    ]"""
    assert loads(text) == [
        {"match": "**/*", "headers": {"X-A": 'a"b'}, "cache": {"max_age": 16}},
        {"match": "*.js", "ignore": False, "n": [1, -2.5, 0.5, 1000.0]},
    ]
    for bad in ("[1, 2", "{a: }", "[1] x", "{'a' 1}", "'unterminated", "/* open"):
        with pytest.raises(JSON5Error, match="line 1"):
            loads(bad)


@pytest.mark.parametrize(("pattern", "yes", "no"), [
    ("**/*", ["a", "a/b/c.js"], []),
    ("*.js", ["app.js"], ["lib/app.js", "app.jsx"]),
    ("**/*.js", ["app.js", "lib/x/app.js"], ["app.css"]),
    ("assets/**", ["assets/a", "assets/b/c"], ["other/a"]),
    ("*.{js,mjs}", ["a.js", "a.mjs"], ["a.cjs"]),
    ("file?.txt", ["file1.txt"], ["file10.txt", "file/.txt"]),
    ("[ab].txt", ["a.txt"], ["c.txt"]),
])
def test_globs(pattern, yes, no):
    regex = glob_regex(pattern)
    assert all(regex.fullmatch(p) for p in yes)
    assert not any(regex.fullmatch(p) for p in no)


def test_rules_headers_cache_ignore_and_hidden_files(tmp_path):
    (tmp_path / "index.html").write_text("<!doctype html><title>t</title>" * 20)
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "app.mjs").write_text("export const x = 1;\n" * 50)
    (tmp_path / "lib" / "skip.map").write_text("{}")
    (tmp_path / ".secret").write_text("no")
    (tmp_path / ".well-known").mkdir()
    (tmp_path / ".well-known" / "ic-domains").write_text("example.org")
    (tmp_path / ".ic-assets.json5").write_text("""[
      { match: "**/*", headers: { "Cross-Origin-Opener-Policy": "same-origin", "X-Gone": "1" } },
      { match: "**/*.mjs", cache: { max_age: 31536000 }, headers: { "x-gone": null } },
      { match: ".well-known/**", ignore: false },
    ]""")
    (tmp_path / "lib" / ".ic-assets.json5").write_text('[{ "match": "*.map", "ignore": true }]')
    assets = {a.key: a for a in scan_folder(tmp_path, "/")}
    assert sorted(assets) == ["/.well-known/ic-domains", "/index.html", "/lib/app.mjs"]
    app = assets["/lib/app.mjs"]
    assert app.content_type == "text/javascript"
    assert app.config.max_age == 31536000
    assert app.headers == [("Cross-Origin-Opener-Policy", "same-origin")]
    assert assets["/index.html"].config.max_age is None
    assert assets["/index.html"].headers == [("Cross-Origin-Opener-Policy", "same-origin"), ("X-Gone", "1")]


def test_encodings_identity_always_gzip_when_worth_it(tmp_path):
    text = "hello, gzip " * 1000
    (tmp_path / "a.js").write_text(text)
    (tmp_path / "noise.json").write_bytes(random.Random(1).randbytes(5000))  # incompressible
    (tmp_path / "w.wasm").write_bytes(b"\0asm" + bytes(20000))
    (tmp_path / "m.bin").write_bytes(bytes(20000))  # compressible but not a text type
    assets = {a.key: a for a in scan_folder(tmp_path, "/model")}
    for asset in assets.values():
        asset.gzip()  # made on demand: a deploy only compresses what it may upload
    js = assets["/model/a.js"]
    assert set(js.encodings) == {"identity", "gzip"}
    assert gzip.decompress(js.encodings["gzip"].read(0, 10**9)) == text.encode()
    assert js.encodings["identity"].read(6, 4) == text.encode()[6:10]
    assert set(assets["/model/noise.json"].encodings) == {"identity"}
    assert set(assets["/model/w.wasm"].encodings) == {"identity", "gzip"}
    assert assets["/model/w.wasm"].content_type == "application/wasm"
    assert set(assets["/model/m.bin"].encodings) == {"identity"}
    again = {a.key: a for a in scan_folder(tmp_path, "/model/")}
    assert "gzip" not in again["/model/a.js"].encodings
    assert again["/model/a.js"].gzip().sha256 == js.encodings["gzip"].sha256  # deterministic


def test_bad_config_is_one_clear_error(tmp_path):
    (tmp_path / ".ic-assets.json5").write_text('[{ "match": "*", "cache": { "max_age": -1 } }]')
    with pytest.raises(ConfigError, match=r"\.ic-assets\.json5 rule 1: `cache`"):
        scan_folder(tmp_path)
    (tmp_path / ".ic-assets.json5").write_text('[{ "match": "*", "colour": "red" }]')
    with pytest.raises(ConfigError, match="unknown field"):
        scan_folder(tmp_path)
    (tmp_path / ".ic-assets.json5").write_text('[{ "match": "*", }')
    with pytest.raises(ConfigError, match="line 1"):
        scan_folder(tmp_path)


def test_prefix_normalization():
    assert [normalize_prefix(p) for p in ("/", "", "model", "/model/", "a/b")] == ["/", "/", "/model/", "/model/", "/a/b/"]
