"""A stack whose gpt2 canister runs the q8 weights (the shared `stack` runs f32), for comparing
the icchat engine's q8 answers on the device with the canister's, token for token."""

from __future__ import annotations

from replica_stack import ReplicaStack, free_port


class Q8Stack(ReplicaStack):
    def start(self) -> Q8Stack:
        from icchat.stack.up import UpOptions, up

        try:
            self.info = up(UpOptions(model=str(self.bundle), port=free_port(), onchain_dtype="q8",
                                     state_dir=self.state_dir, log=lambda _: None))
        except BaseException:
            self.stop()
            raise
        return self
