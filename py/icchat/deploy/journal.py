"""The resume journal of one deploy: the open batch and the chunks already created in it.

JSON lines, append-only, flushed and fsynced per chunk, so a run killed at any point leaves a
journal whose every complete line is true (a torn last line is ignored):

    {"journal": 1, "canister": "<id>", "prefix": "/", "batch_id": 7}
    {"key": "/big.bin", "encoding": "identity", "sha256": "<hex>", "offset": 0, "length": 1900000, "chunk_id": 3}

A chunk is reused only for the same asset key, encoding, content hash, offset and length. The
journal is deleted once its batch commits.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

ChunkKey = tuple[str, str, str, int, int]  # key, encoding, sha256 hex, offset, length


class Journal:
    def __init__(self, path: Path, canister: str, prefix: str, batch_id: int,
                 chunks: dict[ChunkKey, int] | None = None) -> None:
        self.path = path
        self.canister = canister
        self.prefix = prefix
        self.batch_id = batch_id
        self.chunks: dict[ChunkKey, int] = dict(chunks or {})
        self._lock = threading.Lock()

    @classmethod
    def load(cls, path: Path, canister: str, prefix: str) -> Journal | None:
        """The journal left by an interrupted run for this canister and prefix, if any."""
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            return None
        try:
            header = json.loads(lines[0]) if lines else None
        except json.JSONDecodeError:
            return None
        if (not isinstance(header, dict) or header.get("journal") != 1 or header.get("canister") != canister
                or header.get("prefix") != prefix or not isinstance(header.get("batch_id"), int)):
            return None
        chunks: dict[ChunkKey, int] = {}
        for line in lines[1:]:
            try:
                entry = json.loads(line)
                chunks[(entry["key"], entry["encoding"], entry["sha256"], int(entry["offset"]),
                        int(entry["length"]))] = int(entry["chunk_id"])
            except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                break  # a torn last line: everything before it holds
        return cls(path, canister, prefix, header["batch_id"], chunks)

    @classmethod
    def start(cls, path: Path, canister: str, prefix: str, batch_id: int) -> Journal:
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(path.name + ".tmp")
        header = {"journal": 1, "canister": canister, "prefix": prefix, "batch_id": batch_id}
        with temp.open("w", encoding="utf-8") as file:
            file.write(json.dumps(header) + "\n")
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
        return cls(path, canister, prefix, batch_id)

    def lookup(self, key: ChunkKey) -> int | None:
        with self._lock:
            return self.chunks.get(key)

    def record(self, key: ChunkKey, chunk_id: int) -> None:
        name, encoding, sha, offset, length = key
        line = json.dumps({"key": name, "encoding": encoding, "sha256": sha, "offset": offset,
                           "length": length, "chunk_id": chunk_id})
        with self._lock:
            self.chunks[key] = chunk_id
            with self.path.open("a", encoding="utf-8") as file:
                file.write(line + "\n")
                file.flush()
                os.fsync(file.fileno())

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
