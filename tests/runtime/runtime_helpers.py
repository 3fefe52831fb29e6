"""Helpers of the C runtime tests: the probe canister's principals and a small client for it."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from icchat.ic.principal import Principal
from icchat.replica import Reject, Replica

CONTROLLER = Principal.self_authenticating(b"runtime probe controller")
STRANGER = Principal.self_authenticating(b"runtime probe stranger")
CANISTER_REJECT = 4  # a reject the canister chose (ic0.msg_reject); traps and WASM errors are 5


@dataclass
class Probe:
    replica: Replica
    canister_id: Principal

    def query(self, method: str, arg: bytes = b"", *, sender: Principal = CONTROLLER) -> bytes:
        return self.replica.query(self.canister_id, method, arg, sender=sender)

    def update(self, method: str, arg: bytes = b"") -> bytes:
        return self.replica.update(self.canister_id, method, arg, sender=CONTROLLER)

    def reject(self, method: str, arg: bytes = b"", *, update: bool = False) -> Reject:
        """Run a call that must fail; return its Reject."""
        with pytest.raises(Reject) as failure:
            (self.update if update else self.query)(method, arg)
        return failure.value

    def trap_message(self, method: str, arg: bytes = b"", *, update: bool = False) -> str:
        """The text a call that must trap passed to ic0.trap."""
        failure = self.reject(method, arg, update=update)
        assert failure.code == 5 and failure.error_code == "IC0503", failure
        return failure.message.split("with message: '", 1)[1].rsplit("'.", 1)[0]
