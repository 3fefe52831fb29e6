"""A Python client of the gpt2 canister (canister/gpt2.did) over the local replica's Python API.

    canister = Gpt2Canister.install(replica, build_gpt2_wasm().read_bytes())
    canister.upload(Path("gpt2-f32.bin"))                # a one-file bundle, as a controller
    canister.upload_bundle({"canister/gpt2-q8.bin": (path, "canister-weights"), ...})
    canister.generate([464, 3290], max_new_tokens=8)["tokens"]
    for step in canister.chat(conversation, max_new_tokens=200, mode="fast"):  # call by call
        print(step.method, step.reply["tokens"])

Rejects from the canister surface as `icchat.replica.Reject` with the canister's one-line reason;
a call `canister_inspect_message` refused carries that line inside the IC's trap text
(`icchat.ic.reject.canister_line` gives the line either way).

    canister = Gpt2Canister.install(replica, wasm, policy={"access": "allow_list", "window_instructions": 10**11})
    canister.allow([friend]); canister.usage()["window_spent"]
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from icchat.assets_canister import AssetsCanister, Upload
from icchat.ic import candid
from icchat.ic.principal import Principal
from icchat.paths import CANISTER_SRC

CHUNK_BYTES = 1_900_000  # under the 2 MiB ingress limit with room for the envelope
DID = candid.parse_did((CANISTER_SRC / "gpt2.did").read_text())
CONTROLLER = Principal.self_authenticating(b"icchat gpt2 canister controller")


MODES = ("verified", "fast")
MODEL_PREFIX = "/model/"  # where the bundle lives in the canister's asset store
ACCESS = ("open", "allow_list", "controllers")
POLICY_FIELDS = ("access", "window_seconds", "window_instructions", "caller_instructions")
# What the canister adds to its budget for each inference update besides the instructions its
# counter reads (canister/access/policy.h; tests/gpt2/test_gpt2_policy.py checks they agree).
MESSAGE_FEE_INSTRUCTIONS = 6_200_000
INGRESS_BYTE_INSTRUCTIONS = 2_000
ENVELOPE_ALLOWANCE_BYTES = 1_024
TAIL_ALLOWANCE_INSTRUCTIONS = 10_000


def inference_overhead(arg_size: int) -> int:
    """The message's fees and allowances a generate/prefill with this argument is counted for."""
    ingress_bytes = arg_size + len("generate") + ENVELOPE_ALLOWANCE_BYTES
    return MESSAGE_FEE_INSTRUCTIONS + INGRESS_BYTE_INSTRUCTIONS * ingress_bytes + TAIL_ALLOWANCE_INSTRUCTIONS


def policy_record(policy: Mapping[str, Any] | None) -> dict[str, Any]:
    """An InferencePolicy record from {field: value} (absent fields: none; access by name)."""
    policy = dict(policy or {})
    unknown = set(policy) - set(POLICY_FIELDS)
    if unknown:
        raise ValueError(f"unknown InferencePolicy fields: {sorted(unknown)} (known: {POLICY_FIELDS})")
    record: dict[str, Any] = {name: policy.get(name) for name in POLICY_FIELDS}
    if record["access"] is not None:
        if record["access"] not in ACCESS:
            raise ValueError(f"access must be one of {ACCESS}, got {record['access']!r}")
        record["access"] = {record["access"]: None}
    return record


def install_arg(policy: Mapping[str, Any] | None) -> bytes:
    """The service argument `opt InferencePolicy` (none when policy is None: every default)."""
    value = None if policy is None else policy_record(policy)
    return candid.encode(_types("(opt InferencePolicy)"), [value])


def _types(text: str) -> list[Any]:
    return candid.parse_types(text, DID)


@dataclass(frozen=True)
class ChatStep:
    """One call of a chat turn: `method` ("generate", "generate_query" or "prefill") and its reply."""

    method: str
    reply: dict[str, Any]
    arg_bytes: int = 0  # the Candid argument's size (ingress bytes are charged on the IC)


class Gpt2Canister:
    def __init__(self, replica: Any, canister_id: Principal, sender: Principal = CONTROLLER) -> None:
        self.replica, self.id, self.sender = replica, canister_id, sender
        self.last_arg_bytes = 0

    @classmethod
    def install(cls, replica: Any, wasm: bytes, controller: Principal = CONTROLLER, *,
                policy: Mapping[str, Any] | None = None, raw_arg: bytes | None = None) -> Gpt2Canister:
        """Create and install; `policy` is the init argument's InferencePolicy fields (None: no
        argument at all, every default, as `dfx deploy` without --argument); `raw_arg` sends
        exactly those bytes instead."""
        canister_id = replica.create_canister(controllers=[controller])
        arg = raw_arg if raw_arg is not None else (b"" if policy is None else install_arg(policy))
        replica.install_code(canister_id, wasm, arg, sender=controller)
        return cls(replica, canister_id, controller)

    def upgrade(self, wasm: bytes, policy: Mapping[str, Any] | None = None) -> None:
        """Upgrade to `wasm`; the fields `policy` names replace the kept ones (None: keep all)."""
        arg = b"" if policy is None else install_arg(policy)
        self.replica.install_code(self.id, wasm, arg, mode="upgrade", sender=self.sender)

    def as_caller(self, principal: Principal) -> Gpt2Canister:
        """The same canister called by `principal`."""
        return Gpt2Canister(self.replica, self.id, principal)

    def _update(self, method: str, arg_types: str, args: list[Any], result_types: str) -> Any:
        arg = candid.encode(_types(arg_types), args)
        self.last_arg_bytes = len(arg)
        reply = self.replica.update(self.id, method, arg, sender=self.sender)
        values = candid.decode(reply, _types(result_types))
        return values[0] if values else None

    def _query(self, method: str, arg_types: str, args: list[Any], result_types: str) -> Any:
        arg = candid.encode(_types(arg_types), args)
        self.last_arg_bytes = len(arg)
        reply = self.replica.query(self.id, method, arg, sender=self.sender)
        values = candid.decode(reply, _types(result_types))
        return values[0] if values else None

    @property
    def assets(self) -> AssetsCanister:
        """The asset store's methods (canister/assets.did) on this canister, as the same caller."""
        return AssetsCanister(self.replica, self.id, self.sender)

    def upload(self, path: Path, progress: Callable[[int, int], None] | None = None,
               chunk_bytes: int = CHUNK_BYTES) -> dict[str, Any]:
        """Serve the weight file at `path`: a bundle of just that file (manifest.json and the
        file under /model/canister/), committed in one batch; returns the ModelInfo."""
        info = self.upload_bundle({f"canister/{path.name}": (path, "canister-weights")}, chunk_bytes=chunk_bytes)
        if progress:
            progress(path.stat().st_size, path.stat().st_size)
        return info

    def upload_bundle(self, files: Mapping[str, tuple[Path | bytes, str]], *,
                      manifest: dict[str, Any] | None = None, chunk_bytes: int = CHUNK_BYTES) -> dict[str, Any]:
        """Upload a bundle (relative path -> (content, role)) under /model/ with a manifest listing
        exactly those files (`manifest` adds fields), replacing whatever /model/ held, in one
        batch; returns the ModelInfo of the model it switched to."""
        listed, uploads = [], {}
        for relative, (content, role) in files.items():
            data = content.read_bytes() if isinstance(content, Path) else content
            listed.append({"path": relative, "size": len(data), "sha256": hashlib.sha256(data).hexdigest(), "role": role})
            uploads[MODEL_PREFIX + relative] = Upload(data, "application/octet-stream")
        text = json.dumps({**(manifest or {}), "files": listed}, indent=2).encode()
        uploads[MODEL_PREFIX + "manifest.json"] = Upload(text, "application/json")
        gone = [a["key"] for a in self.assets.list() if a["key"].startswith(MODEL_PREFIX)]
        self.assets.upload(uploads, delete=gone, chunk_bytes=chunk_bytes)
        info = self.model_info()
        assert info is not None, "a committed bundle always serves a model"
        return info

    def model_certificate(self) -> dict[str, bytes]:
        return self._query("model_certificate", "()", [], "(ModelCertificate)")

    def model_info(self) -> dict[str, Any] | None:
        return self._query("model_info", "()", [], "(opt ModelInfo)")

    def _request(self, prompt: Sequence[int], max_new_tokens: int | None, temperature: float | None, top_k: int | None,
                 top_p: float | None, seed: int | None, stop: Sequence[int] | None) -> dict[str, Any]:
        return {"prompt": list(prompt), "max_new_tokens": max_new_tokens, "temperature": temperature, "top_k": top_k,
                "top_p": top_p, "seed": seed, "stop": None if stop is None else list(stop)}

    def generate(self, prompt: Sequence[int], *, max_new_tokens: int | None = None, temperature: float | None = None,
                 top_k: int | None = None, top_p: float | None = None, seed: int | None = None,
                 stop: Sequence[int] | None = None) -> dict[str, Any]:
        """One `generate` update (verified); it may stop early with stop_reason "budget"."""
        request = self._request(prompt, max_new_tokens, temperature, top_k, top_p, seed, stop)
        return self._update("generate", "(GenerateRequest)", [request], "(GenerateReply)")

    def generate_query(self, prompt: Sequence[int], *, max_new_tokens: int | None = None, temperature: float | None = None,
                       top_k: int | None = None, top_p: float | None = None, seed: int | None = None,
                       stop: Sequence[int] | None = None) -> dict[str, Any]:
        """One `generate_query` query (fast): the same tokens as `generate`, nothing kept."""
        request = self._request(prompt, max_new_tokens, temperature, top_k, top_p, seed, stop)
        return self._query("generate_query", "(GenerateRequest)", [request], "(GenerateReply)")

    def prefill(self, prompt: Sequence[int]) -> dict[str, Any]:
        """One `prefill` update: feeds what fits of `prompt` into this caller's prefix cache."""
        return self._update("prefill", "(PrefillRequest)", [{"prompt": list(prompt)}], "(GenerateReply)")

    def prefill_all(self, prompt: Sequence[int]) -> Iterator[ChatStep]:
        """`prefill` until the whole prompt is cached (a long f32 prompt takes several updates)."""
        while True:
            reply = self.prefill(prompt)
            yield ChatStep("prefill", reply, self.last_arg_bytes)
            if reply["stop_reason"] != "budget":
                return
            if reply["fed"] == 0:  # the canister rejects this case; never loop on it
                raise RuntimeError(f"prefill made no progress: {reply}")

    def chat(self, prompt: Sequence[int], max_new_tokens: int, *, mode: str = "verified",
             prefill_every: int | None = None, **sampling: Any) -> Iterator[ChatStep]:
        """Answer `prompt` with up to max_new_tokens tokens, call by call (each step's reply carries
        its new tokens): the tokens are the same in both modes and however the calls split.

        verified: `generate` updates, each continuing with prompt + the tokens so far.
        fast: `prefill` updates feed the prompt into this caller's cache, then `generate_query`
        queries generate from it. A query cannot keep what it feeds, so each one recomputes the
        tokens produced since the last prefill; a further prefill commits them once they reach
        `prefill_every` tokens (default None: after every query that stopped at its budget, so each
        query starts from a cache holding everything before it), or when a query could not feed them.
        The anonymous principal has no cache: its queries feed everything themselves.
        `sampling`: temperature, top_k, top_p, seed, stop as for `generate`."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        prompt, tokens = list(prompt), []
        anonymous = self.sender == Principal.anonymous()
        committed = len(prompt)
        if mode == "fast" and not anonymous:
            yield from self.prefill_all(prompt)
        while len(tokens) < max_new_tokens:
            context, wanted = prompt + tokens, max_new_tokens - len(tokens)
            if mode == "verified":
                reply, method = self.generate(context, max_new_tokens=wanted, **sampling), "generate"
            else:
                reply, method = self.generate_query(context, max_new_tokens=wanted, **sampling), "generate_query"
            step = ChatStep(method, reply, self.last_arg_bytes)
            yield step
            reply = step.reply
            tokens += reply["tokens"]
            if reply["stop_reason"] != "budget":
                return
            if mode == "fast" and not anonymous:
                uncommitted = len(prompt) + len(tokens) - committed
                if not reply["tokens"] or prefill_every is None or uncommitted >= prefill_every:
                    yield from self.prefill_all(prompt + tokens)
                    committed = len(prompt) + len(tokens)
            elif not reply["tokens"] and reply["fed"] == 0:
                raise RuntimeError(f"{step.method} made no progress: {reply}")

    def logits(self, tokens: Sequence[int]) -> list[float]:
        return self._query("logits", "(vec nat32)", [list(tokens)], "(vec float32)")

    # ---- the inference policy ----

    def usage(self) -> dict[str, Any]:
        """The policy, the current window and what was spent (ns times; access by name)."""
        usage = self._query("usage", "()", [], "(Usage)")
        return {**usage, "access": next(iter(usage["access"]))}

    def set_inference_policy(self, **fields: Any) -> None:
        """Controllers only: the fields named replace the current ones."""
        self._update("set_inference_policy", "(InferencePolicy)", [policy_record(fields)], "()")

    def allow(self, principals: Sequence[Principal]) -> None:
        self._update("allow_inference", "(vec principal)", [list(principals)], "()")

    def disallow(self, principals: Sequence[Principal]) -> None:
        self._update("disallow_inference", "(vec principal)", [list(principals)], "()")

    def allowed(self) -> list[Principal]:
        return self._query("list_allowed_inference", "()", [], "(vec principal)")

    def forget_conversations(self) -> None:
        """This caller's prefix-cache slots emptied."""
        self._update("forget_conversations", "()", [], "()")


def answer(steps: Iterator[ChatStep]) -> tuple[list[int], list[ChatStep]]:
    """Run a chat turn to its end: (the answer's tokens, every call made)."""
    made = list(steps)
    return [t for step in made if step.method != "prefill" for t in step.reply["tokens"]], made
