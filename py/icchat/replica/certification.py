"""The replica's certification: what its root key signs for the canisters it runs.

The replica loads its keys itself (icchat.replica.keys: persisted in the state directory, fresh
in memory); the data certificates handed to canisters in queries (`ic0.data_certificate_copy`)
and the HTTP layer's certificates (read_state, synchronous calls) are signed with the same key.
"""

from __future__ import annotations

from icchat.ic.certificate import sign_certificate, state_tree
from icchat.ic.principal import Principal
from icchat.replica.keys import ReplicaKeys


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
