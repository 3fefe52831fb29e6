"""The replica's keys: the BLS root key that signs certificates and the Ed25519 key of its one
node that signs query responses. Both derive from one seed kept in the state directory, so the
root key stays the same across restarts (agents that fetched it keep working) and `--clean`
makes a new one, as with dfx."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from icchat.errors import UserError
from icchat.ic.certificate import BlsKey
from icchat.ic.principal import Principal
from icchat.replica.persistence import write_atomic

SEED_FILE = "root_key.seed"
SEED_BYTES = 32


@dataclass(frozen=True)
class ReplicaKeys:
    root: BlsKey
    node: Ed25519PrivateKey

    @classmethod
    def from_seed(cls, seed: bytes) -> ReplicaKeys:
        node_secret = hashlib.sha256(b"icchat-node-key\0" + seed).digest()
        return cls(BlsKey.generate(seed), Ed25519PrivateKey.from_private_bytes(node_secret))

    @classmethod
    def load_or_create(cls, state_dir: Path | None) -> ReplicaKeys:
        """The keys persisted in `state_dir` (created on first use); fresh ones when in memory."""
        if state_dir is None:
            return cls.from_seed(os.urandom(SEED_BYTES))
        path = Path(state_dir) / SEED_FILE
        if path.exists():
            seed = path.read_bytes()
            if len(seed) == SEED_BYTES:
                return cls.from_seed(seed)
            raise UserError(f"{path} is damaged ({len(seed)} bytes, expected {SEED_BYTES}); start with --clean for a new root key")
        seed = os.urandom(SEED_BYTES)
        write_atomic(path, seed)
        return cls.from_seed(seed)

    @property
    def root_key_der(self) -> bytes:
        return self.root.public_key_der

    @property
    def subnet_id(self) -> Principal:
        # Agents take a certificate without delegation to come from the root subnet, whose id is
        # the self-authenticating principal of the root key.
        return Principal.self_authenticating(self.root_key_der)

    @property
    def node_key_der(self) -> bytes:
        return self.node.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)

    @property
    def node_id(self) -> Principal:
        return Principal.self_authenticating(self.node_key_der)

    def sign_response(self, message: bytes) -> bytes:
        return self.node.sign(message)
