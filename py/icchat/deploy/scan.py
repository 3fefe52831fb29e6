"""The folder as assets: key, content type, settings, and each encoding's SHA-256 and length.

Identity content is read from disk chunk by chunk (files of any size). gzip content is made in
memory (text-like files up to content.GZIP_MAX_INPUT), and only when asked (`LocalAsset.gzip()`):
a deploy whose identity content is unchanged keeps the canister's gzip without recompressing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import icchat.deploy.content as content
from icchat.deploy.config import CONFIG_NAMES, AssetConfig, config_for, load_rules

READ_BLOCK = 4 * 1024 * 1024


@dataclass
class LocalEncoding:
    name: str  # "identity" or "gzip"
    sha256: bytes
    length: int
    path: Path | None = None  # identity: read from the file
    data: bytes | None = None  # gzip: made in memory

    def read(self, offset: int, size: int) -> bytes:
        if self.data is not None:
            return self.data[offset:offset + size]
        assert self.path is not None
        with self.path.open("rb") as file:
            file.seek(offset)
            return file.read(size)


@dataclass
class LocalAsset:
    key: str
    relpath: str
    content_type: str
    config: AssetConfig
    path: Path
    gzip_mode: str = "no"  # "no", "auto" (if it pays), "explicit" (the config asks for it)
    encodings: dict[str, LocalEncoding] = field(default_factory=dict)
    _gzip_done: bool = False

    def gzip(self) -> LocalEncoding | None:
        """Compress now (once): the gzip encoding, or None if it is not wanted or does not pay."""
        if not self._gzip_done:
            self._gzip_done = True
            if self.gzip_mode != "no":
                data = self.path.read_bytes()
                packed = content.gzip_bytes(data) if data else b""
                if packed and (self.gzip_mode == "explicit" or content.worth_gzip(len(data), len(packed))):
                    self.encodings["gzip"] = LocalEncoding("gzip", hashlib.sha256(packed).digest(),
                                                           len(packed), data=packed)
        return self.encodings.get("gzip")

    @property
    def headers(self) -> list[tuple[str, str]] | None:
        return sorted(self.config.headers.items()) or None


def normalize_prefix(prefix: str) -> str:
    """'/model' -> '/model/'; keys are prefix + the file's path relative to the folder."""
    prefix = "/" + prefix.strip("/")
    return prefix if prefix == "/" else prefix + "/"


def scan_folder(folder: Path, prefix: str = "/") -> list[LocalAsset]:
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder")
    prefix = normalize_prefix(prefix)
    rules = load_rules(folder)
    assets = []
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or path.name in CONFIG_NAMES:
            continue
        rel = PurePosixPath(path.relative_to(folder).as_posix())
        config = config_for(rel, rules)
        hidden = any(part.startswith(".") for part in rel.parts)
        if config.ignore or (hidden and config.ignore is None):
            continue
        mime = content.content_type(path.name)
        asset = LocalAsset(prefix + str(rel), str(rel), mime, config, path)
        _add_encodings(asset, path)
        assets.append(asset)
    return assets


def _add_encodings(asset: LocalAsset, path: Path) -> None:
    wanted = asset.config.encodings
    if path.stat().st_size <= content.GZIP_MAX_INPUT:
        if wanted is not None and "gzip" in wanted:
            asset.gzip_mode = "explicit"
        elif wanted is None and content.compressible(asset.content_type):
            asset.gzip_mode = "auto"
    if wanted is None or "identity" in wanted:
        digest, length = hashlib.sha256(), 0
        with path.open("rb") as file:
            while block := file.read(READ_BLOCK):
                digest.update(block)
                length += len(block)
        asset.encodings["identity"] = LocalEncoding("identity", digest.digest(), length, path=path)
    elif asset.gzip_mode == "explicit":
        asset.gzip()
