"""The replica's certification: its state tree and what its root key signs.

The replica loads its keys itself (icchat.replica.keys: persisted in the state directory, fresh
in memory). The data certificates handed to canisters in queries (`ic0.data_certificate_copy`)
and the certificates of the HTTP layer (read_state, synchronous calls) are signed with the same
key. The state tree holds, as the interface spec lays it out:

    /time
    /subnet/<subnet id>/public_key | canister_ranges | node/<node id>/public_key
    /canister_ranges/<subnet id>/<lowest canister id>       (the newer, sharded form)
    /canister/<canister id>/certified_data | module_hash | controllers
    /request_status/<request id>/...                          (given by the HTTP layer)

It is rebuilt for each certificate from a consistent snapshot of the canisters.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import cbor2

from icchat.ic.certificate import SELF_DESCRIBE_TAG, sign_certificate, state_tree
from icchat.ic.hashtree import from_dict, prune
from icchat.ic.principal import Principal
from icchat.replica.keys import ReplicaKeys

TreePath = Sequence[bytes]  # labels from the root of the state tree


@dataclass(frozen=True)
class CanisterInfo:
    """A consistent snapshot of what the state tree certifies about one canister."""

    canister_id: Principal
    status: str
    controllers: tuple[Principal, ...]
    module_hash: bytes | None
    certified_data: bytes
    cycles: int
    version: int


def _self_describing(value: Any) -> bytes:
    return cbor2.dumps(cbor2.CBORTag(SELF_DESCRIBE_TAG, value))


class Certification:
    def __init__(self, keys: ReplicaKeys) -> None:
        self.keys = keys

    def root_key_der(self) -> bytes:
        return self.keys.root_key_der

    @property
    def subnet_id(self) -> Principal:
        return self.keys.subnet_id

    def data_certificate(self, canister_id: Principal, certified_data: bytes, time_ns: int) -> bytes:
        tree = state_tree({"canister": {canister_id.raw: {"certified_data": certified_data}}}, time_ns)
        return sign_certificate(tree, self.keys.root)

    def certificate(
        self, paths: Iterable[TreePath], now: int, canisters: Iterable[CanisterInfo], ranges: list[tuple[Principal, Principal]],
        request_statuses: dict[bytes, Any],
    ) -> bytes:
        """A certificate of the state tree revealing `paths` (and always `/time`)."""
        tree = from_dict(self._entries(now, canisters, ranges, request_statuses))
        return sign_certificate(prune(tree, [*paths, [b"time"]]), self.keys.root)

    def _entries(
        self, now: int, canisters: Iterable[CanisterInfo], ranges: list[tuple[Principal, Principal]],
        request_statuses: dict[bytes, Any],
    ) -> dict[bytes | str, Any]:
        encoded_ranges = _self_describing([[lo.raw, hi.raw] for lo, hi in ranges])
        # One shard holding every range, labelled by its lowest canister id.
        shards = {ranges[0][0].raw: encoded_ranges}
        subnet = {
            "public_key": self.keys.root_key_der,
            "canister_ranges": encoded_ranges,
            "node": {self.keys.node_id.raw: {"public_key": self.keys.node_key_der}},
        }
        tree_canisters: dict[bytes | str, Any] = {}
        for info in canisters:
            entry: dict[str, Any] = {
                "certified_data": info.certified_data,
                "controllers": _self_describing([c.raw for c in info.controllers]),
            }
            if info.module_hash is not None:
                entry["module_hash"] = info.module_hash
            tree_canisters[info.canister_id.raw] = entry
        entries: dict[bytes | str, Any] = {
            "subnet": {self.subnet_id.raw: subnet},
            "canister_ranges": {self.subnet_id.raw: shards},
            "canister": tree_canisters,
            "time": now,
        }
        if request_statuses:
            entries["request_status"] = dict(request_statuses)
        return entries
