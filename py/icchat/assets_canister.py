"""A Python client of the asset canister (canister/assets.did, the official assetstorage interface)
over the local replica's Python API — for tests and benchmarks; `icchat deploy` talks HTTP.

    canister = AssetsCanister.install(replica, build_assets_wasm().read_bytes())
    canister.upload({"/index.html": Upload(b"<html>...", "text/html")})   # one batch, chunked
    canister.http_request("/index.html")["status_code"]                     # 200

Rejects from the canister surface as `icchat.replica.Reject` with the canister's one-line reason.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from icchat.ic import candid
from icchat.ic.principal import Principal
from icchat.paths import CANISTER_SRC

CHUNK_BYTES = 1_900_000  # under the 2 MiB ingress limit with room for the envelope
DID = candid.parse_did((CANISTER_SRC / "assets.did").read_text())
CONTROLLER = Principal.self_authenticating(b"icchat assets canister controller")


def _types(text: str) -> list[Any]:
    return candid.parse_types(text, DID)


@dataclass
class Upload:
    """One asset of a batch: its content per encoding ("identity" first), type and properties."""

    content: bytes | Callable[[], Iterable[bytes]]  # bytes, or a function yielding the bytes in pieces
    content_type: str
    encoding: str = "identity"
    max_age: int | None = None
    headers: list[tuple[str, str]] | None = None
    extra: dict[str, bytes] = field(default_factory=dict)  # more encodings, e.g. {"gzip": gz}


def _pieces(content: bytes | Callable[[], Iterable[bytes]], size: int) -> Iterator[bytes]:
    """The content cut into chunks of `size` bytes (the last may be shorter)."""
    if isinstance(content, bytes):
        for at in range(0, len(content), size):
            yield content[at:at + size]
        return
    pending = bytearray()
    for piece in content():
        pending += piece
        while len(pending) >= size:
            yield bytes(pending[:size])
            del pending[:size]
    if pending:
        yield bytes(pending)


class AssetsCanister:
    """`inspect=False` sends updates without running canister_inspect_message first, as an
    inter-canister call (or a node that skips it) would: what the methods' own checks answer."""

    def __init__(self, replica: Any, canister_id: Principal, sender: Principal = CONTROLLER, *, inspect: bool = True) -> None:
        self.replica, self.id, self.sender, self.inspect = replica, canister_id, sender, inspect

    @classmethod
    def install(cls, replica: Any, wasm: bytes, controller: Principal = CONTROLLER) -> AssetsCanister:
        canister_id = replica.create_canister(controllers=[controller])
        replica.install_code(canister_id, wasm, sender=controller)
        return cls(replica, canister_id, controller)

    def as_caller(self, sender: Principal, *, inspect: bool = True) -> AssetsCanister:
        return AssetsCanister(self.replica, self.id, sender, inspect=inspect)

    # --- raw calls ---

    def call(self, method: str, arg_types: str, args: list[Any], result_types: str, *, query: bool = False) -> Any:
        arg = candid.encode(_types(arg_types), args)
        if query:
            reply = self.replica.query(self.id, method, arg, sender=self.sender)
        else:
            reply = self.replica.update(self.id, method, arg, sender=self.sender, inspect=self.inspect)
        values = candid.decode(reply, _types(result_types))
        return values[0] if values else None

    # --- batches ---

    def create_batch(self) -> int:
        return self.call("create_batch", "(record {})", [{}], "(record { batch_id: BatchId })")["batch_id"]

    def create_chunk(self, batch_id: int, content: bytes) -> int:
        return self.call("create_chunk", "(record { batch_id: BatchId; content: blob })",
                         [{"batch_id": batch_id, "content": content}], "(record { chunk_id: ChunkId })")["chunk_id"]

    def create_chunks(self, batch_id: int, contents: Sequence[bytes]) -> list[int]:
        return self.call("create_chunks", "(record { batch_id: BatchId; content: vec blob })",
                         [{"batch_id": batch_id, "content": list(contents)}],
                         "(record { chunk_ids: vec ChunkId })")["chunk_ids"]

    def commit_batch(self, batch_id: int, operations: list[dict[str, Any]]) -> None:
        self.call("commit_batch", "(CommitBatchArguments)", [{"batch_id": batch_id, "operations": operations}], "()")

    def delete_batch(self, batch_id: int) -> None:
        self.call("delete_batch", "(DeleteBatchArguments)", [{"batch_id": batch_id}], "()")

    def upload_content(self, batch_id: int, content: bytes | Callable[[], Iterable[bytes]],
                       chunk_bytes: int = CHUNK_BYTES, progress: Callable[[int], None] | None = None
                       ) -> tuple[list[int], bytes]:
        """Chunks of one content, in order (so the canister hashes them as they arrive)."""
        ids, digest, sent = [], hashlib.sha256(), 0
        for piece in _pieces(content, chunk_bytes):
            ids.append(self.create_chunk(batch_id, piece))
            digest.update(piece)
            sent += len(piece)
            if progress:
                progress(sent)
        return ids, digest.digest()

    def upload(self, assets: Mapping[str, Upload], *, delete: Iterable[str] = (), chunk_bytes: int = CHUNK_BYTES,
               existing: bool = False) -> int:
        """Upload `assets` (key -> Upload) in one batch and commit it; returns the batch id.
        Assets already present are deleted first in the same batch (unless `existing` is False
        and they are absent: then only CreateAsset)."""
        batch_id = self.create_batch()
        present = {entry["key"] for entry in self.list()} if existing else set()
        operations: list[dict[str, Any]] = [{"DeleteAsset": {"key": key}} for key in delete]
        for key, upload in assets.items():
            if key in present:
                operations.append({"DeleteAsset": {"key": key}})
            operations.append({"CreateAsset": {"key": key, "content_type": upload.content_type,
                                               "max_age": upload.max_age, "headers": upload.headers,
                                               "enable_aliasing": None, "allow_raw_access": None}})
            for encoding, content in [(upload.encoding, upload.content), *upload.extra.items()]:
                ids, digest = self.upload_content(batch_id, content, chunk_bytes)
                operations.append({"SetAssetContent": {"key": key, "content_encoding": encoding, "chunk_ids": ids,
                                                       "last_chunk": None, "sha256": digest}})
        self.commit_batch(batch_id, operations)
        return batch_id

    # --- single calls ---

    def store(self, key: str, content: bytes, content_type: str, encoding: str = "identity",
              sha256: bytes | None = None) -> None:
        self.call("store", "(record { key: Key; content_type: text; content_encoding: text; content: blob; sha256: opt blob })",
                  [{"key": key, "content_type": content_type, "content_encoding": encoding, "content": content,
                    "sha256": sha256}], "()")

    def delete_asset(self, key: str) -> None:
        self.call("delete_asset", "(DeleteAssetArguments)", [{"key": key}], "()")

    def clear(self) -> None:
        self.call("clear", "(ClearArguments)", [{}], "()")

    def set_asset_properties(self, key: str, **properties: Any) -> None:
        """max_age / headers / allow_raw_access / is_aliased: candid.Some(None) unsets, a value sets."""
        arg = {"key": key, "max_age": None, "headers": None, "allow_raw_access": None, "is_aliased": None}
        arg.update(properties)
        self.call("set_asset_properties", "(SetAssetPropertiesArguments)", [arg], "()")

    def get_asset_properties(self, key: str) -> dict[str, Any]:
        return self.call("get_asset_properties", "(Key)", [key],
                         "(record { max_age: opt nat64; headers: opt vec HeaderField; allow_raw_access: opt bool; is_aliased: opt bool })",
                         query=True)

    def authorize(self, principal: Principal) -> None:
        self.call("authorize", "(principal)", [principal], "()")

    def deauthorize(self, principal: Principal) -> None:
        self.call("deauthorize", "(principal)", [principal], "()")

    def list_authorized(self) -> list[Principal]:
        return self.call("list_authorized", "()", [], "(vec principal)")

    def api_version(self) -> int:
        return self.call("api_version", "()", [], "(nat16)", query=True)

    # --- reads ---

    def list(self) -> list[dict[str, Any]]:
        return self.call("list", "(record { start: opt nat; length: opt nat })", [{"start": None, "length": None}],
                         "(vec record { key: Key; content_type: text; encodings: vec record { content_encoding: text; "
                         "sha256: opt blob; length: nat; modified: Time }; max_age: opt nat64; headers: opt vec HeaderField; "
                         "allow_raw_access: opt bool; is_aliased: opt bool })", query=True)

    def get(self, key: str, accept_encodings: Sequence[str] = ("identity",)) -> dict[str, Any]:
        return self.call("get", "(record { key: Key; accept_encodings: vec text })",
                         [{"key": key, "accept_encodings": list(accept_encodings)}],
                         "(record { content: blob; content_type: text; content_encoding: text; sha256: opt blob; total_length: nat })",
                         query=True)

    def get_chunk(self, key: str, encoding: str, index: int, sha256: bytes | None = None) -> bytes:
        return self.call("get_chunk", "(record { key: Key; content_encoding: text; index: nat; sha256: opt blob })",
                         [{"key": key, "content_encoding": encoding, "index": index, "sha256": sha256}],
                         "(record { content: blob })", query=True)["content"]

    def content(self, key: str, accept_encodings: Sequence[str] = ("identity",)) -> bytes:
        """The whole content through get + get_chunk."""
        first = self.get(key, accept_encodings)
        out = bytearray(first["content"])
        index = 1
        while len(out) < first["total_length"]:
            out += self.get_chunk(key, first["content_encoding"], index, first["sha256"])
            index += 1
        return bytes(out)

    def http_request(self, url: str, headers: Sequence[tuple[str, str]] = (), *, certificate_version: int | None = 2,
                     method: str = "GET") -> dict[str, Any]:
        request = {"method": method, "url": url, "headers": list(headers), "body": b"",
                   "certificate_version": certificate_version}
        return self.call("http_request", "(HttpRequest)", [request], "(HttpResponse)", query=True)

    def streaming_callback(self, token: dict[str, Any]) -> dict[str, Any] | None:
        return self.call("http_request_streaming_callback", "(StreamingCallbackToken)", [token],
                         "(opt StreamingCallbackHttpResponse)", query=True)

    def http_body(self, response: dict[str, Any]) -> Iterator[bytes]:
        """The response's body pieces, following its streaming callback."""
        yield response["body"]
        strategy = response.get("streaming_strategy")
        token = strategy["Callback"]["token"] if strategy else None
        while token is not None:
            answer = self.streaming_callback(token)
            assert answer is not None
            yield answer["body"]
            token = answer["token"]
