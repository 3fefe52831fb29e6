"""Helpers of the certification tests: the certtree probe canister (tests/canisters/certtree_probe.c)
built on canister/assetstore and canister/runtime, and its little-endian argument encodings."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

import cbor2

from icchat.build.canister import compile_c
from icchat.build.gpt2 import runtime_sources
from icchat.ic.hashtree import HashTree, from_cbor_obj
from icchat.ic.principal import Principal
from icchat.paths import BUILD, CANISTER_SRC, REPO
from icchat.replica import Replica

CONTROLLER = Principal.self_authenticating(b"certtree probe controller")
ASSETSTORE = CANISTER_SRC / "assetstore"
CERT_SOURCES = ("cbor.c", "certtree.c", "http_cert.c")  # the certification core, without the asset store

Path = Sequence[bytes]
Op = tuple[str, Path, bytes]  # ("put", path, value) or ("remove", path, b"")


def build_probe():
    sources = [REPO / "tests" / "canisters" / "certtree_probe.c", *(ASSETSTORE / n for n in CERT_SOURCES), *runtime_sources()]
    return compile_c(sources, BUILD / "test-canisters" / "certtree_probe.wasm", include_dirs=[ASSETSTORE],
                     extra_flags=["-Wall", "-Wextra", "-Werror"])


def u32(n: int) -> bytes:
    return struct.pack("<I", n)


def blob(data: bytes | str) -> bytes:
    data = data.encode() if isinstance(data, str) else data
    return u32(len(data)) + data


def path_arg(path: Path) -> bytes:
    return u32(len(path)) + b"".join(blob(label) for label in path)


def ops_arg(ops: Sequence[Op]) -> bytes:
    out = [u32(len(ops))]
    for kind, path, value in ops:
        out.append((b"\0" + path_arg(path) + blob(value)) if kind == "put" else (b"\1" + path_arg(path)))
    return b"".join(out)


def read_labels(data: bytes) -> list[bytes]:
    (depth,), at, labels = struct.unpack_from("<I", data), 4, []
    for _ in range(depth):
        (size,) = struct.unpack_from("<I", data, at)
        labels.append(data[at + 4:at + 4 + size])
        at += 4 + size
    assert at == len(data)
    return labels


@dataclass
class Applied:
    root: bytes
    op_instructions: int
    hash_instructions: int
    live_bytes: int


@dataclass
class Probe:
    replica: Replica
    canister_id: Principal

    def query(self, method: str, arg: bytes = b"") -> bytes:
        return self.replica.query(self.canister_id, method, arg, sender=CONTROLLER)

    def update(self, method: str, arg: bytes = b"") -> bytes:
        return self.replica.update(self.canister_id, method, arg, sender=CONTROLLER)

    def apply(self, ops: Sequence[Op]) -> Applied:
        reply = self.update("apply", ops_arg(ops))
        return Applied(reply[:32], *struct.unpack("<QQQ", reply[32:]))

    def clear(self) -> Applied:
        return self.apply([("remove", [], b"")])

    def root(self) -> bytes:
        return self.query("root")

    def lookup(self, path: Path) -> tuple[bool, bytes | None]:
        reply = self.query("lookup", path_arg(path))
        return bool(reply[0]), (reply[2:] if reply[1] else None)

    def witness(self, paths: Sequence[Path]) -> tuple[bytes, int]:
        """The witness's CBOR bytes and the instructions ct_witness took."""
        reply = self.query("witness", u32(len(paths)) + b"".join(path_arg(p) for p in paths))
        return reply[8:], struct.unpack_from("<Q", reply)[0]

    def witness_tree(self, paths: Sequence[Path]) -> HashTree:
        data, _ = self.witness(paths)
        assert data[:3] == b"\xd9\xd9\xf7", data[:3]  # self-describing CBOR tag
        return from_cbor_obj(cbor2.loads(data[3:]))


def install_probe(replica: Replica) -> Probe:
    wasm = build_probe()
    canister_id = replica.create_canister(controllers=[CONTROLLER], sender=CONTROLLER)
    replica.install_code(canister_id, wasm.read_bytes(), sender=CONTROLLER)
    return Probe(replica, canister_id)
