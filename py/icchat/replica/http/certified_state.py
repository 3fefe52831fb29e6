"""What the HTTP layer certifies: the replica's state tree with the statuses of its requests.

The tree and the keys are the replica's (icchat.replica.certification); request statuses are
the HTTP interface's own, and are included for the requests asked about (every other request id
is then certified absent, which is true of this snapshot as far as the reader may know: a
request's status is only ever readable by its sender).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from icchat.ic.principal import Principal
from icchat.replica.certification import TreePath
from icchat.replica.http.request_status import RequestStatusStore


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

    def certificate(self, paths: Iterable[TreePath], request_ids: Iterable[bytes] = ()) -> bytes:
        """A certificate revealing `paths` (and always `/time`)."""
        statuses = {}
        for request_id in request_ids:
            status = self.requests.get(request_id)
            if status is not None:
                statuses[request_id] = status.tree()
        return self.replica.certificate(paths, statuses)
