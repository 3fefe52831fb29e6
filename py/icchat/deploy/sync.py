"""Sync a folder to an asset canister in one atomic batch, uploading only what changed.

    report = sync_folder(agent, canister_id, Path("build/web"), progress=TerminalProgress(),
                         journal=Path(".state/deploy/<id>.jsonl"))

1. Hash the folder (scan.py) and ask the canister what it has (`list`: keys, encodings, sha256;
   `get_asset_properties` for headers and max_age where the canister has it).
2. Plan: new keys -> CreateAsset; changed encodings -> upload + SetAssetContent; encodings no
   longer wanted -> UnsetAssetContent; a changed content type -> DeleteAsset + CreateAsset; keys
   under the prefix that are gone -> DeleteAsset; changed settings -> SetAssetProperties.
3. Upload chunks (<= CHUNK_BYTES each) into one batch: small encodings packed into
   `create_chunks` calls (PARALLEL in flight; `create_chunk` where the canister lacks it),
   multi-chunk ones one after another with their chunks in order, so each file's chunks get
   consecutive ids (the canister hashes consecutive full-size chunks as they arrive). Each chunk
   is journalled; a re-run within the batch's lifetime reuses the batch and its chunks.
4. commit_batch with every operation; the journal is deleted. Nothing changed: no batch at all.
"""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import icchat.deploy.assetstorage as ops
from icchat.deploy.assetstorage import AssetProperties, AssetStorage, RemoteAsset, RemoteEncoding
from icchat.deploy.config import ConfigError
from icchat.deploy.journal import ChunkKey, Journal
from icchat.deploy.progress import SyncProgress
from icchat.deploy.scan import LocalAsset, LocalEncoding, normalize_prefix, scan_folder
from icchat.ic.agent import Agent, CanisterReject
from icchat.ic.principal import Principal

CHUNK_BYTES = 1_900_000  # as the official uploader; one create_chunk stays under the 2 MiB ingress limit
PARALLEL = 3
PROPERTY_QUERIES = 8
PACK_MAX_CHUNKS = 256  # small chunks per create_chunks call (their bytes together <= CHUNK_BYTES)

ProgressCallback = Callable[[SyncProgress], None]


class DeployError(Exception):
    """The deploy could not be done; the message says why (a canister's reason included)."""

    def __init__(self, message: str, reject: CanisterReject | None = None) -> None:
        super().__init__(message)
        self.reject = reject  # the canister's (or the system's) reject, if that was the cause


@dataclass
class SyncReport:
    canister_id: str
    files: int  # local files considered
    files_uploaded: int
    files_deleted: int
    chunks_uploaded: int
    chunks_reused: int  # from an interrupted run's batch
    chunk_calls: int  # create_chunk(s) calls made
    bytes_uploaded: int
    operations: int
    batch_id: int | None
    resumed: bool
    seconds: float
    operation_kinds: dict[str, int] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return self.operations > 0

    def summary(self) -> str:
        """One line for a terminal: what changed and how fast."""
        if not self.changed:
            return f"{self.files} files, all up to date (nothing uploaded)"
        resumed = f", {self.chunks_reused} chunks reused from the interrupted run" if self.chunks_reused else ""
        return (f"{self.files} files: {self.files_uploaded} uploaded, {self.files_deleted} deleted, "
                f"{self.bytes_uploaded / 1e6:.1f} MB in {self.seconds:.1f} s{resumed}")


@dataclass
class _Upload:
    asset: LocalAsset
    encoding: LocalEncoding
    chunk_ids: list[int] = field(default_factory=list)

    @property
    def chunks(self) -> int:
        return -(-self.encoding.length // CHUNK_BYTES)


@dataclass
class _Plan:
    uploads: list[_Upload] = field(default_factory=list)
    deletes: list[str] = field(default_factory=list)
    creates: list[LocalAsset] = field(default_factory=list)
    unsets: list[tuple[str, str]] = field(default_factory=list)
    properties: list[LocalAsset] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.uploads or self.deletes or self.creates or self.unsets or self.properties)


def sync_folder(agent: Agent, canister_id: Principal, folder: Path, *, prefix: str = "/",
                progress: ProgressCallback | None = None, journal: Path | None = None,
                delete_missing: bool = True, parallel: int = PARALLEL) -> SyncReport:
    """Make the canister's assets under `prefix` equal to `folder`'s files (see the module doc).

    `progress` is called from this thread after every chunk (an exception it raises stops the
    run; the journal keeps what was uploaded). `journal` is the resume file (None: no resume).
    """
    started = time.monotonic()
    prefix = normalize_prefix(prefix)
    try:
        local = scan_folder(Path(folder), prefix)
    except ConfigError as exc:
        raise DeployError(str(exc)) from None
    except OSError as exc:
        raise DeployError(f"cannot read {folder}: {exc.strerror or exc}") from None
    store = AssetStorage(agent, canister_id)
    remote = {k: v for k, v in _call(store, store.list, "list").items() if k.startswith(prefix)}
    plan = _plan(local, remote, _remote_properties(store, local, remote), delete_missing)
    local_keys = {a.key for a in local}
    report = SyncReport(canister_id=str(canister_id), files=len(local),
                        files_uploaded=len({u.asset.key for u in plan.uploads}),
                        files_deleted=len([k for k in plan.deletes if k not in local_keys]),
                        chunks_uploaded=0, chunks_reused=0, chunk_calls=0, bytes_uploaded=0, operations=0,
                        batch_id=None, resumed=False, seconds=0.0)
    if plan.empty and journal is not None:
        journal.unlink(missing_ok=True)  # a run interrupted after its commit went through
    if not plan.empty:
        previous = Journal.load(journal, str(canister_id), prefix) if journal else None
        try:
            _run(store, plan, report, prefix, previous, journal, progress, parallel)
        except _StaleBatch:
            # The interrupted run's batch is gone (expired, or committed): start a new one.
            for upload in plan.uploads:
                upload.chunk_ids.clear()
            report.chunks_reused = report.chunks_uploaded = report.bytes_uploaded = report.chunk_calls = 0
            _run(store, plan, report, prefix, None, journal, progress, parallel)
    report.seconds = time.monotonic() - started
    return report


class _StaleBatch(Exception):
    pass


class _ChunkRejected(Exception):
    def __init__(self, reject: CanisterReject) -> None:
        super().__init__(reject.message)
        self.reject = reject


def _run(store: AssetStorage, plan: _Plan, report: SyncReport, prefix: str, previous: Journal | None,
         journal_path: Path | None, progress: ProgressCallback | None, parallel: int) -> None:
    if previous is not None:
        batch_id, journal = previous.batch_id, previous
    else:
        batch_id = _call(store, store.create_batch, "create_batch")
        journal = Journal.start(journal_path, report.canister_id, prefix, batch_id) if journal_path else None
    report.batch_id, report.resumed = batch_id, previous is not None
    tracker = _Tracker(plan, progress, time.monotonic())  # rates count upload time only
    try:
        _upload_all(store, plan, batch_id, journal, tracker, report, parallel)
    except _ChunkRejected as exc:
        if previous is not None:
            raise _StaleBatch() from None
        raise DeployError(f"create_chunk rejected by {report.canister_id}: {exc.reject.reason}", exc.reject) from None
    operations = _operations(plan)
    tracker.emit("committing")
    try:
        store.commit_batch(batch_id, operations)
    except CanisterReject as reject:
        if previous is not None:
            raise _StaleBatch() from None
        raise DeployError(f"commit_batch rejected by {report.canister_id}: {reject.reason}", reject) from None
    if journal is not None:
        journal.remove()
    report.operations = len(operations)
    report.operation_kinds = {}
    for op in operations:
        kind = next(iter(op))
        report.operation_kinds[kind] = report.operation_kinds.get(kind, 0) + 1
    tracker.emit("done")


# --- planning -----------------------------------------------------------------------------------


def _desired_properties(asset: LocalAsset) -> AssetProperties:
    headers = asset.headers
    return AssetProperties(asset.config.max_age, None if headers is None else tuple(headers),
                           asset.config.allow_raw_access, asset.config.enable_aliasing)


def _same_properties(want: AssetProperties, have: AssetProperties | None) -> bool:
    if have is None:
        return False  # the canister cannot tell us: set them
    def norm(headers: tuple[tuple[str, str], ...] | None) -> list[tuple[str, str]]:
        return sorted((k.lower(), v) for k, v in headers or ())
    return (want.max_age == have.max_age and norm(want.headers) == norm(have.headers)
            and (want.allow_raw_access is None or want.allow_raw_access == have.allow_raw_access)
            and (want.is_aliased is None or want.is_aliased == have.is_aliased))


def _remote_properties(store: AssetStorage, local: list[LocalAsset],
                       remote: dict[str, RemoteAsset]) -> dict[str, AssetProperties | None]:
    """Properties of the assets both sides have (queried PROPERTY_QUERIES at a time); None
    where the canister has no get_asset_properties, which makes the plan set them every time."""
    keys = [a.key for a in local if a.key in remote and remote[a.key].content_type == a.content_type]
    if not keys:
        return {}
    try:
        first = store.get_asset_properties(keys[0])
    except CanisterReject:
        return dict.fromkeys(keys)
    with concurrent.futures.ThreadPoolExecutor(max_workers=PROPERTY_QUERIES) as pool:
        rest = list(pool.map(store.get_asset_properties, keys[1:]))
    return dict(zip(keys, [first, *rest], strict=True))


def _plan(local: list[LocalAsset], remote: dict[str, RemoteAsset],
          properties: dict[str, AssetProperties | None], delete_missing: bool) -> _Plan:
    plan = _Plan()
    for asset in local:
        have = remote.get(asset.key)
        if have is not None and have.content_type != asset.content_type:
            plan.deletes.append(asset.key)
            have = None
        if have is None:
            asset.gzip()
            plan.creates.append(asset)
            plan.uploads.extend(_Upload(asset, enc) for enc in asset.encodings.values())
            continue
        kept: set[str] = set()
        if _keeps_remote_gzip(asset, have):
            kept.add("gzip")  # made from the same bytes by an earlier deploy: no need to recompress
        else:
            asset.gzip()
        for name, enc in asset.encodings.items():
            if not _same(enc, have.encodings.get(name)):
                plan.uploads.append(_Upload(asset, enc))
        plan.unsets.extend((asset.key, name) for name in have.encodings
                           if name not in asset.encodings and name not in kept)
        if not _same_properties(_desired_properties(asset), properties.get(asset.key)):
            plan.properties.append(asset)
    if delete_missing:
        local_keys = {a.key for a in local}
        plan.deletes.extend(key for key in sorted(remote) if key not in local_keys)
    return plan


def _keeps_remote_gzip(asset: LocalAsset, have: RemoteAsset | None) -> bool:
    identity = asset.encodings.get("identity")
    return (have is not None and have.content_type == asset.content_type and asset.gzip_mode == "auto"
            and "gzip" in have.encodings and identity is not None and _same(identity, have.encodings.get("identity")))


def _same(local: LocalEncoding, remote: RemoteEncoding | None) -> bool:
    return remote is not None and remote.sha256 == local.sha256 and remote.length == local.length


def _operations(plan: _Plan) -> list[dict[str, Any]]:
    operations: list[dict[str, Any]] = [ops.delete_asset(key) for key in plan.deletes]
    for asset in plan.creates:
        operations.append(ops.create_asset(asset.key, asset.content_type, max_age=asset.config.max_age,
                                           headers=asset.headers, enable_aliasing=asset.config.enable_aliasing,
                                           allow_raw_access=asset.config.allow_raw_access))
    for upload in plan.uploads:
        operations.append(ops.set_asset_content(upload.asset.key, upload.encoding.name, upload.chunk_ids,
                                                upload.encoding.sha256))
    operations.extend(ops.unset_asset_content(key, name) for key, name in plan.unsets)
    for asset in plan.properties:
        operations.append(ops.set_asset_properties(asset.key, max_age=asset.config.max_age, headers=asset.headers,
                                                   allow_raw_access=asset.config.allow_raw_access,
                                                   is_aliased=asset.config.enable_aliasing))
    return operations


# --- uploading ----------------------------------------------------------------------------------


class _Tracker:
    """Counts what is done and hands snapshots to the progress callback (from the main thread)."""

    def __init__(self, plan: _Plan, callback: ProgressCallback | None, started: float) -> None:
        self.callback = callback
        self.started = started
        self.files_total = len({u.asset.key for u in plan.uploads})
        self.bytes_total = sum(u.encoding.length for u in plan.uploads)
        self.chunks_total = sum(u.chunks for u in plan.uploads)
        self.pending_per_file: dict[str, int] = {}
        for upload in plan.uploads:
            self.pending_per_file[upload.asset.key] = self.pending_per_file.get(upload.asset.key, 0) + max(upload.chunks, 1)
        self.files_done = self.bytes_done = self.bytes_sent = self.chunks_done = 0

    def chunk_done(self, key: str, length: int, sent: bool, *, counts_chunk: bool = True) -> None:
        self.bytes_done += length
        self.bytes_sent += length if sent else 0
        self.chunks_done += 1 if counts_chunk else 0
        self.pending_per_file[key] -= 1
        if self.pending_per_file[key] == 0:
            self.files_done += 1
        self.emit("uploading")

    def emit(self, phase: str) -> None:
        if self.callback is not None:
            self.callback(SyncProgress(phase, self.files_done, self.files_total, self.bytes_done, self.bytes_total,
                                       self.bytes_sent, self.chunks_done, self.chunks_total,
                                       time.monotonic() - self.started))


def _upload_all(store: AssetStorage, plan: _Plan, batch_id: int, journal: Journal | None,
                tracker: _Tracker, report: SyncReport, parallel: int) -> None:
    tracker.emit("uploading")
    singles = [u for u in plan.uploads if u.chunks <= 1]
    multis = [u for u in plan.uploads if u.chunks > 1]
    packing = {"create_chunks": True}  # off once the canister turns out not to have it

    def key_of(upload: _Upload, offset: int) -> ChunkKey:
        length = min(CHUNK_BYTES, upload.encoding.length - offset)
        return (upload.asset.key, upload.encoding.name, upload.encoding.sha256.hex(), offset, length)

    def create(contents: list[bytes]) -> list[int]:
        report.chunk_calls += 1
        try:
            if len(contents) > 1 and packing["create_chunks"]:
                try:
                    return store.create_chunks(batch_id, contents)
                except CanisterReject as reject:
                    if reject.code != 3:  # 3: no such method (older asset canisters)
                        raise
                    packing["create_chunks"] = False
            return [store.create_chunk(batch_id, content) for content in contents]
        except CanisterReject as reject:
            raise _ChunkRejected(reject) from None

    def send(pack: list[tuple[_Upload, int]]) -> list[tuple[_Upload, int, int, bool]]:
        """(upload, offset, chunk id, whether it was sent now) for each chunk of the pack."""
        done, todo = [], []
        for upload, offset in pack:
            chunk_id = journal.lookup(key_of(upload, offset)) if journal is not None else None
            if chunk_id is None:
                todo.append((upload, offset))
            else:
                done.append((upload, offset, chunk_id, False))
        if todo:
            contents = [u.encoding.read(offset, key_of(u, offset)[4]) for u, offset in todo]
            for (upload, offset), chunk_id in zip(todo, create(contents), strict=True):
                if journal is not None:
                    journal.record(key_of(upload, offset), chunk_id)
                done.append((upload, offset, chunk_id, True))
        return done

    def account(upload: _Upload, offset: int, sent: bool) -> None:
        length = key_of(upload, offset)[4]
        report.chunks_uploaded += sent
        report.chunks_reused += not sent
        report.bytes_uploaded += length if sent else 0
        tracker.chunk_done(upload.asset.key, length, sent)

    # Empty files have no chunks at all.
    for upload in singles:
        if upload.encoding.length == 0:
            tracker.chunk_done(upload.asset.key, 0, False, counts_chunk=False)
    singles = [u for u in singles if u.encoding.length > 0]
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        try:
            futures = [pool.submit(send, pack) for pack in _packs(singles)]
            for future in concurrent.futures.as_completed(futures):
                for upload, offset, chunk_id, sent in future.result():
                    upload.chunk_ids[:] = [chunk_id]
                    account(upload, offset, sent)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    for upload in multis:  # one file at a time, its chunks in order: consecutive chunk ids
        for offset in range(0, upload.encoding.length, CHUNK_BYTES):
            ((_, _, chunk_id, sent),) = send([(upload, offset)])
            upload.chunk_ids.append(chunk_id)
            account(upload, offset, sent)


def _packs(singles: list[_Upload]) -> list[list[tuple[_Upload, int]]]:
    """Small encodings grouped into create_chunks calls of at most CHUNK_BYTES together."""
    packs: list[list[tuple[_Upload, int]]] = []
    size = 0
    for upload in sorted(singles, key=lambda u: u.encoding.length):
        if not packs or size + upload.encoding.length > CHUNK_BYTES or len(packs[-1]) >= PACK_MAX_CHUNKS:
            packs.append([])
            size = 0
        packs[-1].append((upload, 0))
        size += upload.encoding.length
    return packs


def _call(store: AssetStorage, method: Callable[[], Any], name: str) -> Any:
    try:
        return method()
    except CanisterReject as reject:
        raise DeployError(f"{name} rejected by {store.canister_id}: {reject.reason}", reject) from None
