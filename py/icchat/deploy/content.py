"""Content-Type by file extension, and which files are worth a gzip encoding.

Every asset keeps its identity encoding; text-like types (and .wasm) also get gzip when it is
at most GZIP_MAX_RATIO of the original: the canister then serves gzip to clients that accept it.
Compression is deterministic (mtime 0, fixed level), so an unchanged file hashes the same.
"""

from __future__ import annotations

import gzip
import mimetypes

GZIP_LEVEL = 9
GZIP_MAX_RATIO = 0.9  # keep gzip only if it saves at least 10%
GZIP_MAX_INPUT = 64 * 1024 * 1024  # larger files stay identity-only (compressed in memory)

CONTENT_TYPES = {
    ".html": "text/html", ".htm": "text/html", ".js": "text/javascript", ".mjs": "text/javascript",
    ".cjs": "text/javascript", ".css": "text/css", ".json": "application/json",
    ".map": "application/json", ".webmanifest": "application/manifest+json",
    ".txt": "text/plain", ".md": "text/markdown", ".csv": "text/csv", ".xml": "application/xml",
    ".svg": "image/svg+xml", ".wasm": "application/wasm", ".png": "image/png", ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg", ".gif": "image/gif", ".webp": "image/webp", ".ico": "image/x-icon",
    ".woff": "font/woff", ".woff2": "font/woff2", ".ttf": "font/ttf", ".otf": "font/otf",
    ".pdf": "application/pdf", ".zip": "application/zip", ".gz": "application/gzip",
    ".whl": "application/octet-stream", ".onnx": "application/octet-stream",
    ".bin": "application/octet-stream", ".safetensors": "application/octet-stream",
    ".tiktoken": "text/plain", ".py": "text/x-python", ".did": "text/plain",
}
_COMPRESSIBLE_TYPES = ("text/", "application/json", "application/manifest+json", "application/xml",
                       "image/svg+xml", "application/wasm", "text/x-python")


def content_type(name: str) -> str:
    dot = name.rfind(".")
    ext = name[dot:].lower() if dot > 0 else ""
    if ext in CONTENT_TYPES:
        return CONTENT_TYPES[ext]
    guessed, _ = mimetypes.guess_type(name, strict=False)
    return guessed or "application/octet-stream"


def compressible(mime: str) -> bool:
    return mime.startswith(_COMPRESSIBLE_TYPES)


def gzip_bytes(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0)


def worth_gzip(original: int, compressed: int) -> bool:
    return compressed <= original * GZIP_MAX_RATIO
