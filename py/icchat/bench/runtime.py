"""`icchat bench runtime`: IC instructions of the C canister runtime (canister/runtime), measured
with ic0.performance_counter inside the probe canister (canister/probes/runtime_probe.c):
SHA-256 per byte, and `rt_arg` + `cd_read_begin` per byte for 2 MiB Candid arguments."""

from __future__ import annotations

import argparse
import struct
from typing import Any

MiB = 1024 * 1024


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mib", type=int, default=2, help="message and hash size in MiB (at most 2 for arguments)")


def _probe_wasm() -> bytes:
    from icchat.build.canister import compile_c
    from icchat.build.gpt2 import runtime_sources
    from icchat.paths import BUILD, REPO

    sources = [REPO / "canister" / "probes" / "runtime_probe.c", *runtime_sources()]
    return compile_c(sources, BUILD / "probes" / "runtime_probe.wasm").read_bytes()


def run(args: argparse.Namespace) -> dict[str, Any]:
    from icchat.ic import candid
    from icchat.replica import Replica

    size = args.mib * MiB
    body = size - 64  # room for the Candid header within the ingress limit
    arguments = {
        "blob": ([candid.Blob], [bytes(body)]),
        "vec_nat32": ([candid.Vec(candid.Nat32)], [list(range(body // 4))]),
        "text_ascii": ([candid.Text], ["a" * body]),
        "text_cjk": ([candid.Text], ["長" * (body // 3)]),
        "vec_nat_1_byte": ([candid.Vec(candid.Nat)], [[5] * (body - 8)]),
        "vec_text_1_char": ([candid.Vec(candid.Text)], [["x"] * (body // 2 - 8)]),
    }
    with Replica() as replica:
        canister = replica.create_canister()
        replica.install_code(canister, _probe_wasm())
        reply = replica.query(canister, "sha256_cost", struct.pack("<I", size))
        sha_instructions = struct.unpack("<Q", reply[32:40])[0]
        decoding = {}
        for name, (types, values) in arguments.items():
            data = candid.encode(types, values)
            length, arg_copy, validation = struct.unpack("<3Q", replica.query(canister, "decode_cost", data)[:24])
            decoding[name] = {"bytes": length, "rt_arg_per_byte": arg_copy / length,
                              "cd_read_begin": validation, "cd_read_begin_per_byte": validation / length}
    return {
        "sha256": {"bytes": size, "instructions": sha_instructions, "per_byte": sha_instructions / size},
        "decode": decoding,
    }
