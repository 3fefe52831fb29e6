"""A Python client of the gpt2 canister (canister/gpt2.did) over the local replica's Python API.

    canister = Gpt2Canister.install(replica, build_gpt2_wasm().read_bytes())
    canister.upload(Path("gpt2-f32.bin"), progress=print)        # as a controller, hash-checked
    canister.generate([464, 3290], max_new_tokens=8)["tokens"]

Rejects from the canister surface as `icchat.replica.Reject` with the canister's one-line reason.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from icchat.ic import candid
from icchat.ic.principal import Principal
from icchat.paths import CANISTER_SRC

CHUNK_BYTES = 1_900_000  # under the 2 MiB ingress limit with room for the envelope
DID = candid.parse_did((CANISTER_SRC / "gpt2.did").read_text())
CONTROLLER = Principal.self_authenticating(b"icchat gpt2 canister controller")


def _types(text: str) -> list[Any]:
    return candid.parse_types(text, DID)


class Gpt2Canister:
    def __init__(self, replica: Any, canister_id: Principal, sender: Principal = CONTROLLER) -> None:
        self.replica, self.id, self.sender = replica, canister_id, sender

    @classmethod
    def install(cls, replica: Any, wasm: bytes, controller: Principal = CONTROLLER) -> Gpt2Canister:
        canister_id = replica.create_canister(controllers=[controller])
        replica.install_code(canister_id, wasm, sender=controller)
        return cls(replica, canister_id, controller)

    def _update(self, method: str, arg_types: str, args: list[Any], result_types: str) -> Any:
        reply = self.replica.update(self.id, method, candid.encode(_types(arg_types), args), sender=self.sender)
        return candid.decode(reply, _types(result_types))[0]

    def _query(self, method: str, arg_types: str, args: list[Any], result_types: str) -> Any:
        reply = self.replica.query(self.id, method, candid.encode(_types(arg_types), args), sender=self.sender)
        return candid.decode(reply, _types(result_types))[0]

    def upload(self, path: Path, progress: Callable[[int, int], None] | None = None,
               chunk_bytes: int = CHUNK_BYTES) -> dict[str, Any]:
        """Upload a weight file in order; returns the ModelInfo the canister reports."""
        size = path.stat().st_size
        digest = hashlib.sha256()
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 24), b""):
                digest.update(block)
        self._update("upload_begin", "(UploadBegin)", [{"size": size, "sha256": digest.digest()}], "(UploadProgress)")
        with path.open("rb") as f:
            offset = 0
            while chunk := f.read(chunk_bytes):
                state = self.upload_chunk(offset, chunk)
                offset = state["received"]
                if progress:
                    progress(offset, size)
        return self._update("upload_commit", "()", [], "(ModelInfo)")

    def upload_chunk(self, offset: int, data: bytes) -> dict[str, int]:
        return self._update("upload_chunk", "(nat64, blob)", [offset, data], "(UploadProgress)")

    def upload_progress(self) -> dict[str, int]:
        return self._query("upload_progress", "()", [], "(UploadProgress)")

    def model_info(self) -> dict[str, Any] | None:
        return self._query("model_info", "()", [], "(opt ModelInfo)")

    def generate(self, prompt: Sequence[int], *, max_new_tokens: int | None = None, temperature: float | None = None,
                 top_k: int | None = None, seed: int | None = None, stop: Sequence[int] | None = None) -> dict[str, Any]:
        request = {"prompt": list(prompt), "max_new_tokens": max_new_tokens, "temperature": temperature,
                   "top_k": top_k, "seed": seed, "stop": None if stop is None else list(stop)}
        return self._update("generate", "(GenerateRequest)", [request], "(GenerateReply)")

    def logits(self, tokens: Sequence[int]) -> list[float]:
        return self._query("logits", "(vec nat32)", [list(tokens)], "(vec float32)")
