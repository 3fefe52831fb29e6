"""The modules that go to the IC: each canister's WASM with its public metadata, gzipped.

dfx and icp-cli embed a canister's Candid interface as the custom section
`icp:public candid:service` (with `ic-wasm <in> -o <out> metadata candid:service -f <did> -v
public`), so that `dfx canister metadata <id> candid:service`, the dashboard and Candid UI can read
it from the running canister (read_state `canister/<id>/metadata/candid:service`). We do the same
with the npm build of ic-wasm, plus `icchat:canister` (which of our canisters a module is: the app
deploy only upgrades canisters that run one of ours), and gzip the result deterministically:

    build/canisters/gpt2.ic.wasm.gz     gpt2.wasm + candid:service (canister/gpt2.did)
    build/canisters/assets.ic.wasm.gz   assets.wasm + candid:service (canister/assets.did)
    build/canisters/llm.ic.wasm.gz      llm.wasm + candid:service (canister/llm.did)

These are the modules every deploy installs: `icchat up` on the local replica and `icchat deploy
--app` on mainnet (icchat.stack.app), dfx.json and icp.yaml alike.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import tempfile
from pathlib import Path

from icchat.errors import UserError
from icchat.paths import BUILD, NODE_MODULES

IC_WASM = NODE_MODULES / "@icp-sdk" / "ic-wasm-linux-x64" / "bin" / "ic-wasm"
CANISTERS_OUT = BUILD / "canisters"
CANDID_SECTION = "candid:service"
KIND_SECTION = "icchat:canister"
PUBLIC_PREFIX = "icp:public "
PRIVATE_PREFIX = "icp:private "


def ic_module_path(name: str) -> Path:
    """build/canisters/<name>.ic.wasm.gz: the module the IC gets for canister `name`."""
    return CANISTERS_OUT / f"{name}.ic.wasm.gz"


def _ic_wasm(*args: str) -> None:
    if not IC_WASM.is_file():
        raise UserError(f"{IC_WASM} is missing: run ./dev up (npm package @icp-sdk/ic-wasm-linux-x64)")
    done = subprocess.run([str(IC_WASM), *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise UserError(f"ic-wasm {' '.join(args[:4])}: {done.stderr.strip() or done.stdout.strip()}")


def with_metadata(wasm: Path, did: Path, kind: str, out: Path) -> Path:
    """`out` (.wasm.gz) = `wasm` with public candid:service (`did`'s text) and icchat:canister
    (`kind`) sections, gzipped with no name and mtime 0 (same input, same bytes, same module hash)."""
    with tempfile.TemporaryDirectory(prefix="icchat-ic-wasm-") as tmp:
        staged = Path(tmp) / "module.wasm"
        _ic_wasm(str(wasm), "-o", str(staged), "metadata", CANDID_SECTION, "-f", str(did),
                 "-v", "public", "--keep-name-section")
        _ic_wasm(str(staged), "-o", str(staged), "metadata", KIND_SECTION, "-d", kind,
                 "-v", "public", "--keep-name-section")
        packed = gzip.compress(staged.read_bytes(), compresslevel=9, mtime=0)
    if not (out.is_file() and out.read_bytes() == packed):
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp_out = out.with_name(f"{out.name}.{os.getpid()}.tmp")
        tmp_out.write_bytes(packed)
        os.replace(tmp_out, out)
    return out


def build_ic_modules() -> Path:
    """Every IC module (after the canisters are built); returns the gpt2 one."""
    from icchat.build.assets import ASSETS_DID, ASSETS_WASM
    from icchat.build.gpt2 import GPT2_DID, GPT2_WASM
    from icchat.build.llm import LLM_DID, LLM_WASM

    with_metadata(ASSETS_WASM, ASSETS_DID, "assets", ic_module_path("assets"))
    with_metadata(LLM_WASM, LLM_DID, "llm", ic_module_path("llm"))
    return with_metadata(GPT2_WASM, GPT2_DID, "gpt2", ic_module_path("gpt2"))


# --- reading custom sections back (tests, and the deploy's dry run) -----------------------------

def _uleb(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated LEB128 in the module")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def custom_sections(module: bytes) -> dict[str, bytes]:
    """Every custom section of a WASM module (gzipped or not): name -> contents."""
    if module[:2] == b"\x1f\x8b":
        module = gzip.decompress(module)
    if module[:8] != b"\x00asm\x01\x00\x00\x00":
        raise ValueError("not a WebAssembly 1.0 module")
    sections: dict[str, bytes] = {}
    pos = 8
    while pos < len(module):
        section_id = module[pos]
        size, body = _uleb(module, pos + 1)
        end = body + size
        if end > len(module):
            raise ValueError("a section runs past the end of the module")
        if section_id == 0:
            name_len, name_at = _uleb(module, body)
            name = module[name_at:name_at + name_len].decode("utf-8")
            sections[name] = module[name_at + name_len:end]
        pos = end
    return sections


def public_metadata(module: bytes) -> dict[str, bytes]:
    """The public metadata of a module (what read_state `canister/<id>/metadata/<name>` reveals)."""
    return {name[len(PUBLIC_PREFIX):]: data for name, data in custom_sections(module).items()
            if name.startswith(PUBLIC_PREFIX)}
