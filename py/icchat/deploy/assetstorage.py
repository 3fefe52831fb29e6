"""A typed client of the asset canister interface (dfinity/sdk's assetstorage.did), over
`icchat.ic.agent.Agent`: the methods an uploader needs, with exactly the official types.

Replies are decoded with only the fields we read, so canisters that add fields (e.g. the
standard canister's `modified`) decode the same.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from icchat.ic import candid
from icchat.ic.agent import Agent
from icchat.ic.principal import Principal

_DID = """
type BatchId = nat;
type ChunkId = nat;
type Key = text;
type HeaderField = record { text; text; };
type CreateAssetArguments = record {
  key: Key;
  content_type: text;
  max_age: opt nat64;
  headers: opt vec HeaderField;
  enable_aliasing: opt bool;
  allow_raw_access: opt bool;
};
type SetAssetContentArguments = record {
  key: Key;
  content_encoding: text;
  chunk_ids: vec ChunkId;
  sha256: opt blob;
};
type UnsetAssetContentArguments = record { key: Key; content_encoding: text; };
type DeleteAssetArguments = record { key: Key; };
type ClearArguments = record {};
type SetAssetPropertiesArguments = record {
  key: Key;
  max_age: opt opt nat64;
  headers: opt opt vec HeaderField;
  allow_raw_access: opt opt bool;
  is_aliased: opt opt bool;
};
type BatchOperationKind = variant {
  CreateAsset: CreateAssetArguments;
  SetAssetContent: SetAssetContentArguments;
  SetAssetProperties: SetAssetPropertiesArguments;
  UnsetAssetContent: UnsetAssetContentArguments;
  DeleteAsset: DeleteAssetArguments;
  Clear: ClearArguments;
};
type CommitBatchArguments = record { batch_id: BatchId; operations: vec BatchOperationKind };
type ListEntry = record {
  key: Key;
  content_type: text;
  encodings: vec record { content_encoding: text; sha256: opt blob; length: nat; };
};
type AssetProperties = record {
  max_age: opt nat64;
  headers: opt vec HeaderField;
  allow_raw_access: opt bool;
  is_aliased: opt bool;
};
service : {}
"""
_TYPES = candid.parse_did(_DID).types
_EMPTY_RECORD = candid.Record({})


def _t(name: str) -> candid.Type:
    return _TYPES[name]


@dataclass(frozen=True)
class RemoteEncoding:
    content_encoding: str
    sha256: bytes | None
    length: int


@dataclass(frozen=True)
class RemoteAsset:
    key: str
    content_type: str
    encodings: Mapping[str, RemoteEncoding]


@dataclass(frozen=True)
class AssetProperties:
    max_age: int | None
    headers: tuple[tuple[str, str], ...] | None
    allow_raw_access: bool | None
    is_aliased: bool | None


class AssetStorage:
    """One asset canister, reached through `agent` (whose identity must be allowed to write)."""

    def __init__(self, agent: Agent, canister_id: Principal) -> None:
        self.agent = agent
        self.canister_id = canister_id

    def _query(self, method: str, args: Sequence[candid.Type], values: Sequence[Any],
               rets: Sequence[candid.Type]) -> list[Any]:
        return candid.decode(self.agent.query(self.canister_id, method, candid.encode(list(args), list(values))), rets)

    def _update(self, method: str, args: Sequence[candid.Type], values: Sequence[Any],
                rets: Sequence[candid.Type] = ()) -> list[Any]:
        return candid.decode(self.agent.update(self.canister_id, method, candid.encode(list(args), list(values))), rets)

    def list(self) -> dict[str, RemoteAsset]:
        (entries,) = self._query("list", [_EMPTY_RECORD], [{}], [candid.Vec(_t("ListEntry"))])
        assets = {}
        for entry in entries:
            encodings = {e["content_encoding"]: RemoteEncoding(e["content_encoding"], e["sha256"], e["length"])
                         for e in entry["encodings"]}
            assets[entry["key"]] = RemoteAsset(entry["key"], entry["content_type"], encodings)
        return assets

    def get_asset_properties(self, key: str) -> AssetProperties:
        (props,) = self._query("get_asset_properties", [candid.Text], [key], [_t("AssetProperties")])
        headers = props["headers"]
        return AssetProperties(props["max_age"], None if headers is None else tuple(map(tuple, headers)),
                               props["allow_raw_access"], props["is_aliased"])

    def create_batch(self) -> int:
        (reply,) = self._update("create_batch", [_EMPTY_RECORD], [{}],
                                [candid.Record({"batch_id": candid.Nat})])
        return reply["batch_id"]

    def create_chunk(self, batch_id: int, content: bytes) -> int:
        (reply,) = self._update("create_chunk", [candid.Record({"batch_id": candid.Nat, "content": candid.Blob})],
                                [{"batch_id": batch_id, "content": content}],
                                [candid.Record({"chunk_id": candid.Nat})])
        return reply["chunk_id"]

    def create_chunks(self, batch_id: int, contents: Sequence[bytes]) -> list[int]:
        (reply,) = self._update("create_chunks", [candid.Record({"batch_id": candid.Nat, "content": candid.Vec(candid.Blob)})],
                                [{"batch_id": batch_id, "content": list(contents)}],
                                [candid.Record({"chunk_ids": candid.Vec(candid.Nat)})])
        if len(reply["chunk_ids"]) != len(contents):
            raise ValueError(f"create_chunks answered {len(reply['chunk_ids'])} ids for {len(contents)} chunks")
        return reply["chunk_ids"]

    def commit_batch(self, batch_id: int, operations: Sequence[Mapping[str, Any]]) -> None:
        self._update("commit_batch", [_t("CommitBatchArguments")],
                     [{"batch_id": batch_id, "operations": list(operations)}])

    def api_version(self) -> int:
        (version,) = self._query("api_version", [], [], [candid.Nat16])
        return version

    def authorize(self, principal: Principal) -> None:
        self._update("authorize", [candid.PrincipalT], [principal])

    def list_authorized(self) -> list[Principal]:
        (principals,) = candid.decode(self.agent.update(self.canister_id, "list_authorized",
                                                        candid.encode([], [])), [candid.Vec(candid.PrincipalT)])
        return principals


# --- batch operations, as `commit_batch` takes them ----------------------------------------------


def create_asset(key: str, content_type: str, *, max_age: int | None, headers: Sequence[tuple[str, str]] | None,
                 enable_aliasing: bool | None = None, allow_raw_access: bool | None = None) -> dict[str, Any]:
    return {"CreateAsset": {"key": key, "content_type": content_type, "max_age": max_age,
                            "headers": None if headers is None else [tuple(h) for h in headers],
                            "enable_aliasing": enable_aliasing, "allow_raw_access": allow_raw_access}}


def set_asset_content(key: str, content_encoding: str, chunk_ids: Sequence[int], sha256: bytes) -> dict[str, Any]:
    return {"SetAssetContent": {"key": key, "content_encoding": content_encoding,
                                "chunk_ids": list(chunk_ids), "sha256": sha256}}


def unset_asset_content(key: str, content_encoding: str) -> dict[str, Any]:
    return {"UnsetAssetContent": {"key": key, "content_encoding": content_encoding}}


def delete_asset(key: str) -> dict[str, Any]:
    return {"DeleteAsset": {"key": key}}


def set_asset_properties(key: str, *, max_age: int | None, headers: Sequence[tuple[str, str]] | None,
                         allow_raw_access: bool | None, is_aliased: bool | None) -> dict[str, Any]:
    """Sets every property (None clears it): `opt opt T` = Some(value or None)."""
    return {"SetAssetProperties": {
        "key": key, "max_age": candid.Some(max_age),
        "headers": candid.Some(None if headers is None else [tuple(h) for h in headers]),
        "allow_raw_access": candid.Some(allow_raw_access), "is_aliased": candid.Some(is_aliased)}}
