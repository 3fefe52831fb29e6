"""What the hostile tests' asset canister holds (tests/hostile/conftest.py uploads it)."""

from __future__ import annotations

from icchat.assets_canister import Upload

# Distinct bytes per asset, so a test can tell whose bytes it was given.
PAGE = b"<!doctype html><title>kept</title><p>the page</p>\n"
SECRET = b"secret asset bytes that no other key may return\n" * 3
BIG = bytes((i * 131 + 7) & 255 for i in range(5_000_000))  # more than one 2 MB window: streamed
ASSETS = {
    "/index.html": Upload(PAGE, "text/html"),
    "/secret.txt": Upload(SECRET, "text/plain"),
    "/big.bin": Upload(BIG, "application/octet-stream"),
    "/dir/a b.txt": Upload(b"spaced name", "text/plain"),
    "/\u00fcnic\u00f8de/\u2603.txt": Upload(b"unicode name", "text/plain"),
}
