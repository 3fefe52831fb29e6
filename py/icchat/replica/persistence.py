"""Crash-safe, incremental persistence of every canister under `--state-dir`.

Layout of a state directory:

    MANIFEST                the one commit point: JSON naming every file that makes up the state
    LOCK                    held (flock) by the replica using the directory
    blobs/<sha256>          WASM modules and chunk-store chunks (immutable, content-addressed)
    canisters/<id>/…        per canister: meta.<gen>.json, heap.<gen>.{base,delta},
                            stable.<gen>.{base,delta}

A checkpoint writes new files only (named by the new generation), fsyncs them and their
directories, then atomically replaces MANIFEST (write temp, fsync, rename, fsync directory).
Files the new manifest no longer names are deleted afterwards. A crash at any point leaves the
previous MANIFEST and every file it names intact, so a restart sees the last checkpoint whole.

Heaps and stable memories are written incrementally: a *delta* holds only the pages committed
since the previous checkpoint (the heap's dirty-page record, stable memory's journal), so a
canister holding 0.5 GB of weights is not rewritten per message. When the deltas outgrow the
base (or a canister got new code) a full *base* image is written instead (zero pages as holes).
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import hashlib
import json
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from icchat.errors import UserError
from icchat.ic.principal import Principal
from icchat.replica.dirty_pages import PAGE as HEAP_PAGE
from icchat.replica.heap import is_zero
from icchat.replica.module import CanisterModule, ModuleCache
from icchat.replica.stable_memory import PAGE as STABLE_PAGE
from icchat.replica.stable_memory import StableMemory
from icchat.replica.state import CanisterState, Settings, Status, SystemState

if TYPE_CHECKING:
    from icchat.replica.heap import Shadow

FORMAT = 1
MAGIC_BASE = b"ICHB0001"
MAGIC_DELTA = b"ICHD0001"
RECORD = struct.Struct("<QI")  # first page, page count; then count * page bytes
ZERO_FLAG = 1 << 31  # in a heap delta's page count: the pages are zero, no data follows
ZERO_RUN_PAGES = 16  # heap delta granularity for detecting zero runs (64 KiB)
MAX_DELTAS = 32
MIN_COMPACTION_BYTES = 64 << 20
ZERO_BLOCK = 1 << 20  # heap base images: all-zero MiB blocks become file holes


# Recreates a canister's instance from its module, heap size, heap filler and globals (the
# execution environment's `restore`).
Restore = Callable[[CanisterState, CanisterModule, int, Callable[[Any], None], list[Any]], None]


class StateError(UserError):
    """The state directory cannot be used (locked, corrupt, or from a newer format)."""


# --- JSON with principals and bytes -----------------------------------------------------------------


def to_json(value: Any) -> Any:
    if isinstance(value, Principal):
        return {"$p": value.to_text()}
    if isinstance(value, (bytes, bytearray)):
        return {"$b": bytes(value).hex()}
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    return value


def from_json(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$p"}:
            return Principal.from_text(value["$p"])
        if set(value) == {"$b"}:
            return bytes.fromhex(value["$b"])
        return {k: from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_json(v) for v in value]
    return value


# --- files ---------------------------------------------------------------------------------------------


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    """Replace `path` with `data` so that a crash leaves either the old or the new file."""
    _write_new(path, [data])
    _fsync_dir(path.parent)


def _write_new(path: Path, chunks: Any) -> int:
    """Write a new file (temp + fsync + rename); returns its size."""
    tmp = path.with_name(path.name + ".tmp")
    size = 0
    try:
        with open(tmp, "wb") as f:
            for chunk in chunks:
                if isinstance(chunk, int):  # a hole of this many zero bytes
                    f.seek(chunk, os.SEEK_CUR)
                    size += chunk
                else:
                    f.write(chunk)
                    size += len(chunk)
            f.truncate(f.tell())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a full disk: give the space back
        raise
    return size




@dataclass
class MemoryFiles:
    files: list[str] = field(default_factory=list)  # base first, then deltas in order
    base_bytes: int = 0
    delta_bytes: int = 0

    def as_json(self) -> dict[str, Any]:
        return {"files": self.files, "base_bytes": self.base_bytes, "delta_bytes": self.delta_bytes}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MemoryFiles:
        return cls(list(data["files"]), data["base_bytes"], data["delta_bytes"])

    def wants_base(self) -> bool:
        return not self.files or len(self.files) > MAX_DELTAS or self.delta_bytes > max(self.base_bytes, MIN_COMPACTION_BYTES)


# --- the store ------------------------------------------------------------------------------------------


class StateStore:
    def __init__(self, root: Path, *, clean: bool = False) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock_file = open(self.root / "LOCK", "a+")  # noqa: SIM115 (held for the store's life)
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_file.close()
            raise StateError(f"state directory {self.root} is in use by another replica") from None
        if clean:
            self._wipe()
        (self.root / "blobs").mkdir(exist_ok=True)
        (self.root / "canisters").mkdir(exist_ok=True)
        self.manifest = self._read_manifest()
        self._known_blobs: set[str] = {p.name for p in (self.root / "blobs").iterdir()}

    def close(self) -> None:
        with contextlib.suppress(OSError):
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
        self._lock_file.close()

    @property
    def empty(self) -> bool:
        return not self.manifest

    def _wipe(self) -> None:
        for child in self.root.iterdir():
            if child.name == "LOCK":
                continue
            if child.is_dir():
                for path in sorted(child.rglob("*"), reverse=True):
                    path.rmdir() if path.is_dir() else path.unlink()
                child.rmdir()
            else:
                child.unlink()

    def _read_manifest(self) -> dict[str, Any]:
        path = self.root / "MANIFEST"
        if not path.exists():
            return {}
        try:
            manifest = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise StateError(f"{path} is unreadable ({exc}); start with --clean to discard the state") from None
        if manifest.get("format") != FORMAT:
            raise StateError(f"{path} has format {manifest.get('format')!r}, this replica reads format {FORMAT}")
        return manifest

    # --- blobs ---------------------------------------------------------------------------------------

    def put_blob(self, data: bytes) -> str:
        name = hashlib.sha256(data).hexdigest()
        if name not in self._known_blobs:
            _write_new(self.root / "blobs" / name, [data])
            self._known_blobs.add(name)
        return name

    def get_blob(self, name: str) -> bytes:
        data = (self.root / "blobs" / name).read_bytes()
        if hashlib.sha256(data).hexdigest() != name:
            raise StateError(f"blob {name} in {self.root} is corrupt")
        return data

    # --- checkpoint ----------------------------------------------------------------------------------

    def checkpoint(self, replica_meta: dict[str, Any], canisters: list[CanisterState]) -> None:
        """Write everything changed since the last checkpoint, then switch the manifest. If a
        write fails (a full disk) the previous checkpoint stays the state on disk, the canisters
        this attempt wrote are written in full next time (it consumed their dirty-page records),
        and the error says so in one line. `replica_meta` is the replica's own persistent fields."""
        attempted: list[CanisterState] = []
        try:
            self._checkpoint(replica_meta, canisters, attempted)
        except BaseException as exc:
            for canister in attempted:
                _rewrite_fully(canister)
            if not isinstance(exc, OSError):
                raise
            where = f" ({exc.filename})" if exc.filename else ""
            raise StateError(f"cannot write a checkpoint of the replica state in {self.root}: "
                             f"{exc.strerror or exc}{where}; the last complete checkpoint (generation "
                             f"{self.manifest.get('generation', 0)}) is kept") from exc

    def _checkpoint(self, replica_meta: dict[str, Any], canisters: list[CanisterState], attempted: list[CanisterState]) -> None:
        generation = self.manifest.get("generation", 0) + 1
        previous = self.manifest.get("canisters", {})
        entries: dict[str, Any] = {}
        wrote_blobs = False
        directories: set[Path] = set()
        for canister in canisters:
            key = canister.id.to_text()
            old = previous.get(key)
            if old is not None and not _changed(canister):
                entries[key] = old
                continue
            attempted.append(canister)
            try:
                entries[key], blobs = self._write_canister(canister, old, generation)
            except BaseException:
                _rewrite_fully(canister)  # the dirty records were consumed
                raise
            wrote_blobs |= blobs
            directories.add(self._dir(canister.id))
        for directory in directories:
            _fsync_dir(directory)
        if wrote_blobs:
            _fsync_dir(self.root / "blobs")
        manifest = {
            "format": FORMAT,
            "generation": generation,
            "replica": replica_meta,
            "canisters": entries,
        }
        _write_new(self.root / "MANIFEST", [json.dumps(manifest, indent=1).encode()])
        _fsync_dir(self.root)
        self.manifest = manifest
        self._collect_garbage()

    def _dir(self, canister_id: Principal) -> Path:
        path = self.root / "canisters" / canister_id.to_text()
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _write_canister(self, canister: CanisterState, old: dict[str, Any] | None, generation: int) -> tuple[dict[str, Any], bool]:
        directory = self._dir(canister.id)
        blobs_before = len(self._known_blobs)
        code, system = canister.execution_state, canister.system
        full = code.code_replaced or old is None
        heap_files = MemoryFiles() if full or old is None else MemoryFiles.from_json(old["heap"])
        stable_files = MemoryFiles() if full or old is None else MemoryFiles.from_json(old["stable"])
        globals_values: list[Any] = []
        heap_size = 0
        if code.instance is not None:
            heap = code.instance.heap
            heap_size = heap.size
            ranges, _ = heap.take_dirty()
            if full or heap_files.wants_base():
                name = f"heap.{generation}.base"
                heap_files = MemoryFiles([name], _write_new(directory / name, _heap_base(heap.shadow)))
            elif ranges:
                name = f"heap.{generation}.delta"
                heap_files.files.append(name)
                heap_files.delta_bytes += _write_new(directory / name, _heap_delta(heap.shadow, ranges))
            globals_values = code.instance.snapshot_globals()
        stable_dirty, _ = code.stable.take_dirty()
        if full or stable_files.wants_base():
            name = f"stable.{generation}.base"
            stable_files = MemoryFiles([name], _write_new(directory / name, _stable_records(code.stable, None, MAGIC_BASE)))
        elif stable_dirty:
            name = f"stable.{generation}.delta"
            stable_files.files.append(name)
            stable_files.delta_bytes += _write_new(directory / name, _stable_records(code.stable, stable_dirty, MAGIC_DELTA))
        module_blob = self.put_blob(code.module.wasm) if code.module is not None else None
        chunk_blobs = [self.put_blob(chunk) for chunk in system.chunks.values()]
        meta = {
            "settings": vars(system.settings),
            "cycles": system.cycles,
            "status": system.status.name,
            "version": system.version,
            "certified_data": system.certified_data,
            "global_timer": system.global_timer,
            "module": module_blob,
            "heap_size": heap_size,
            "globals": globals_values,
            "stable_pages": code.stable.size_pages,
            "chunks": chunk_blobs,
            "history": system.history,
            "history_total": system.history_total,
        }
        meta_name = f"meta.{generation}.json"
        _write_new(directory / meta_name, [json.dumps(to_json(meta)).encode()])
        system.meta_dirty = False
        code.code_replaced = False
        entry = {"meta": meta_name, "heap": heap_files.as_json(), "stable": stable_files.as_json()}
        return entry, len(self._known_blobs) != blobs_before

    def _collect_garbage(self) -> None:
        canisters = self.manifest.get("canisters", {})
        referenced_blobs: set[str] = set()
        for key, entry in canisters.items():
            keep = {entry["meta"], *entry["heap"]["files"], *entry["stable"]["files"]}
            directory = self.root / "canisters" / key
            for path in directory.iterdir():
                if path.name not in keep:
                    path.unlink(missing_ok=True)
            meta = json.loads((directory / entry["meta"]).read_text())
            if meta.get("module"):
                referenced_blobs.add(meta["module"])
            referenced_blobs.update(meta.get("chunks", []))
        for directory in (self.root / "canisters").iterdir():
            if directory.name not in canisters:
                for path in directory.iterdir():
                    path.unlink(missing_ok=True)
                directory.rmdir()
        for path in (self.root / "blobs").iterdir():
            if path.name not in referenced_blobs:
                path.unlink(missing_ok=True)
                self._known_blobs.discard(path.name)
        for path in self.root.glob("*.tmp"):  # left by a crash mid-write
            path.unlink(missing_ok=True)

    # --- loading --------------------------------------------------------------------------------------

    def load(self, modules: ModuleCache, restore: Restore) -> list[CanisterState]:
        """The canisters of the last checkpoint, their instances recreated with `restore`."""
        canisters = []
        for key, entry in self.manifest.get("canisters", {}).items():
            canister_id = Principal.from_text(key)
            directory = self.root / "canisters" / key
            try:
                meta = from_json(json.loads((directory / entry["meta"]).read_text()))
            except (OSError, ValueError) as exc:
                raise StateError(f"canister {key}: unreadable metadata ({exc})") from None
            system = SystemState(
                id=canister_id,
                settings=Settings(**meta["settings"]),
                cycles=meta["cycles"],
                status=Status[meta["status"]],
                version=meta["version"],
                certified_data=meta["certified_data"],
                global_timer=meta["global_timer"],
                chunks={hashlib.sha256(c).digest(): c for c in (self.get_blob(name) for name in meta["chunks"])},
                history=meta["history"],
                history_total=meta["history_total"],
                meta_dirty=False,
            )
            canister = CanisterState(system)
            stable = canister.execution_state.stable
            stable.size_pages = meta["stable_pages"]
            for name in entry["stable"]["files"]:
                _load_stable(directory / name, stable)
            stable.take_dirty()
            if meta["module"] is not None:
                module = modules.load(self.get_blob(meta["module"]))
                files = [directory / name for name in entry["heap"]["files"]]
                restore(canister, module, meta["heap_size"], lambda shadow, files=files: _load_heap(files, shadow), meta["globals"])
                assert canister.execution_state.instance is not None
                canister.execution_state.instance.heap.take_dirty()
            canisters.append(canister)
        return canisters


def _changed(canister: CanisterState) -> bool:
    # Every committed execution and management change calls CanisterState.touch().
    return canister.system.meta_dirty or canister.execution_state.code_replaced


def _rewrite_fully(canister: CanisterState) -> None:
    canister.system.meta_dirty = canister.execution_state.code_replaced = True


# --- memory image formats -------------------------------------------------------------------------------


def _heap_base(shadow: Shadow) -> Any:
    """A raw image of the heap; all-zero MiB blocks become holes."""
    block = ZERO_BLOCK
    for start in range(0, shadow.size, block):
        size = min(block, shadow.size - start)
        if is_zero(shadow.address + start, size):
            yield size
        else:
            yield shadow.view(start, start + size)


def _heap_delta(shadow: Shadow, ranges: list[tuple[int, int]]) -> Any:
    """Records of changed pages; runs of zero pages (fresh heap growth) are stored without data."""
    yield MAGIC_DELTA
    step = ZERO_RUN_PAGES
    for first, end in ranges:
        for start in range(first, end, step):
            stop = min(start + step, end)
            if is_zero(shadow.address + start * HEAP_PAGE, (stop - start) * HEAP_PAGE):
                yield RECORD.pack(start, (stop - start) | ZERO_FLAG)
            else:
                yield RECORD.pack(start, stop - start)
                yield shadow.view(start * HEAP_PAGE, stop * HEAP_PAGE)


def _load_heap(files: list[Path], shadow: Shadow) -> None:
    for path in files:
        with open(path, "rb") as f:
            if path.name.endswith(".base"):
                size = min(os.fstat(f.fileno()).st_size, shadow.size)
                f.readinto(shadow.view(0, size))
                continue
            if f.read(len(MAGIC_DELTA)) != MAGIC_DELTA:
                raise StateError(f"{path} is not a heap delta")
            while header := f.read(RECORD.size):
                first, count = RECORD.unpack(header)
                zero, count = bool(count & ZERO_FLAG), count & ~ZERO_FLAG
                start, end = first * HEAP_PAGE, (first + count) * HEAP_PAGE
                if end > shadow.size:
                    raise StateError(f"{path} does not fit the heap")
                if zero:
                    ctypes.memset(shadow.address + start, 0, end - start)
                elif f.readinto(shadow.view(start, end)) != end - start:
                    raise StateError(f"{path} is truncated")


def _stable_records(stable: StableMemory, pages: set[int] | None, magic: bytes) -> Any:
    yield magic
    indices = sorted(pages) if pages is not None else [index for index, _ in stable.pages()]
    for index in indices:
        data = stable.page(index)
        yield RECORD.pack(index, 0 if data is None else 1)
        if data is not None:
            yield data


def _load_stable(path: Path, stable: StableMemory) -> None:
    with open(path, "rb") as f:
        if f.read(len(MAGIC_BASE)) not in (MAGIC_BASE, MAGIC_DELTA):
            raise StateError(f"{path} is not a stable memory image")
        while header := f.read(RECORD.size):
            index, present = RECORD.unpack(header)
            data = f.read(STABLE_PAGE) if present else None
            if present and (data is None or len(data) != STABLE_PAGE):
                raise StateError(f"{path} is truncated")
            stable.load_page(index, data)
