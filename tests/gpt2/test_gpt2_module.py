"""The gpt2 canister installs in one ingress message: its module (no debug sections, no
zero-filled data) and the gzipped module the build writes beside it are far under 2 MiB, and
install_code through the management canister's ingress path takes the gzipped one."""

from __future__ import annotations

import gzip

from icchat.build.gpt2 import build_gpt2_wasm, build_gpt2_wasm_gz
from icchat.gpt2_canister import CONTROLLER, Gpt2Canister
from icchat.ic import candid
from icchat.ic.principal import Principal
from icchat.replica import Replica
from icchat.replica.limits import MAX_INGRESS_PAYLOAD
from icchat.replica.management import METHODS


def sections(module: bytes) -> dict[str, int]:
    """Section sizes by id (custom sections by name)."""
    sizes: dict[str, int] = {}
    i = 8
    while i < len(module):
        section, i = module[i], i + 1
        size = shift = 0
        while True:
            byte, i = module[i], i + 1
            size |= (byte & 127) << shift
            shift += 7
            if byte < 128:
                break
        name = str(section)
        if section == 0:
            name = module[i + 1:i + 1 + module[i]].decode()
        sizes[name] = sizes.get(name, 0) + size
        i += size
    return sizes


def test_the_module_is_small_and_its_gzip_installs_through_ingress(tiny_q8):
    raw, packed = build_gpt2_wasm().read_bytes(), build_gpt2_wasm_gz().read_bytes()
    assert packed[:3] == b"\x1f\x8b\x08" and gzip.decompress(packed) == raw
    assert len(raw) < MAX_INGRESS_PAYLOAD // 4 and len(packed) < len(raw) // 2
    found = sections(raw)
    assert not any(name.startswith(".debug") for name in found)
    assert found.get("11", 0) < 64 * 1024  # the data section: constants only, no zero-filled buffers
    with Replica() as replica:
        canister_id = replica.create_canister(controllers=[CONTROLLER])
        install = candid.encode(METHODS["install_code"].args,
                                [{"mode": {"install": None}, "canister_id": canister_id, "wasm_module": packed, "arg": b""}])
        replica.update(Principal.management(), "install_code", install, sender=CONTROLLER)
        canister = Gpt2Canister(replica, canister_id)
        canister.upload(tiny_q8)
        assert len(canister.generate([464, 3290], max_new_tokens=3, stop=[])["tokens"]) == 3
