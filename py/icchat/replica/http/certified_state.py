"""The replica's certified state: the state tree agents read, signed with the root key.

Signed with the replica's own keys (`replica.certification`, the key that also signs the data
certificates canisters get in queries). The tree holds, as the interface spec lays it out:

    /time
    /subnet/<subnet id>/public_key | canister_ranges | node/<node id>/public_key
    /canister_ranges/<subnet id>/<lowest canister id>       (the newer, sharded form)
    /canister/<canister id>/certified_data | module_hash | controllers
    /request_status/<request id>/status | reply | reject_code | reject_message | error_code

It is rebuilt for each certificate from a consistent snapshot of the canisters; request
statuses are included for the requests asked about (every other request id is then certified
absent, which is true of this snapshot as far as the reader may know: a request's status is
only ever readable by its sender).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import cbor2

from icchat.ic.certificate import SELF_DESCRIBE_TAG, sign_certificate
from icchat.ic.hashtree import from_dict, prune
from icchat.ic.principal import Principal
from icchat.replica.http.request_status import RequestStatusStore

Path = Sequence[bytes]


def _self_describing(value: Any) -> bytes:
    return cbor2.dumps(cbor2.CBORTag(SELF_DESCRIBE_TAG, value))


class CertifiedState:
    def __init__(self, replica: Any) -> None:
        self.replica = replica
        self.keys = replica.certification.keys
        self.requests = RequestStatusStore()

    def root_key_der(self) -> bytes:
        return self.keys.root_key_der

    @property
    def subnet_id(self) -> Principal:
        return self.keys.subnet_id

    def certificate(self, paths: Iterable[Path], request_ids: Iterable[bytes] = ()) -> bytes:
        """A certificate revealing `paths` (and always `/time`)."""
        now = self.replica.time_ns()
        tree = from_dict(self._entries(now, request_ids))
        return sign_certificate(prune(tree, [*paths, [b"time"]]), self.keys.root)

    def _entries(self, now: int, request_ids: Iterable[bytes]) -> dict[bytes | str, Any]:
        ranges = _self_describing([[lo.raw, hi.raw] for lo, hi in self.replica.canister_ranges])
        # One shard holding every range, labelled by its lowest canister id.
        shards = {self.replica.canister_ranges[0][0].raw: ranges}
        subnet = {
            "public_key": self.keys.root_key_der,
            "canister_ranges": ranges,
            "node": {self.keys.node_id.raw: {"public_key": self.keys.node_key_der}},
        }
        canisters: dict[bytes | str, Any] = {}
        for info in self.replica.certified_state():
            entry: dict[str, Any] = {
                "certified_data": info.certified_data,
                "controllers": _self_describing([c.raw for c in info.controllers]),
            }
            if info.module_hash is not None:
                entry["module_hash"] = info.module_hash
            canisters[info.canister_id.raw] = entry
        statuses: dict[bytes | str, Any] = {}
        for request_id in request_ids:
            status = self.requests.get(request_id)
            if status is not None:
                statuses[request_id] = status.tree()
        entries: dict[bytes | str, Any] = {
            "subnet": {self.subnet_id.raw: subnet},
            "canister_ranges": {self.subnet_id.raw: shards},
            "canister": canisters,
            "time": now,
        }
        if statuses:
            entries["request_status"] = statuses
        return entries
