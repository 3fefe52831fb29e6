"""Fault scenarios 2-4 on the gpt2 canister (tiny seeded model) in a real replica process: SIGKILL
in the middle of a model-bundle upload, SIGKILL while a verified chat's update executes, and
upgrades (same module, other module bytes) between the calls of a streaming chat."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from live_replica import (
    LiveReplica,
    ScenarioRecord,
    canister_get,
    create_and_install,
    deploy_args,
    icchat,
    identity_pem,
    journal_chunks,
    one_line_error,
    sha256,
)

from icchat.bench._host import free_port, tiny_bundle
from icchat.gpt2_canister import Gpt2Canister
from icchat.ic.principal import Principal


class AgentReplica:
    """The `update`/`query` seam icchat.gpt2_canister.Gpt2Canister calls, over the IC HTTP
    interface (an agent) instead of the in-process replica; `sender` is the agent's identity."""

    def __init__(self, agent: Any) -> None:
        self.agent = agent

    def update(self, canister_id: Principal, method: str, arg: bytes, *, sender: Any = None, inspect: bool = True) -> bytes:
        return self.agent.update(canister_id, method, arg)  # over HTTP, canister_inspect_message always runs

    def query(self, canister_id: Principal, method: str, arg: bytes, *, sender: Any = None) -> bytes:
        return self.agent.query(canister_id, method, arg)


def _gpt2_modules() -> tuple[bytes, bytes]:
    """(the gzipped module icchat up installs, the same code uncompressed: other module bytes)."""
    from icchat.build.gpt2 import build_gpt2_wasm_gz

    gz = build_gpt2_wasm_gz()
    return gz.read_bytes(), gz.with_name(gz.name.removesuffix(".gz")).read_bytes()


def _gpt2(replica: LiveReplica, identity: Any, canister_id: Principal) -> Gpt2Canister:
    return Gpt2Canister(AgentReplica(replica.agent(identity)), canister_id, identity.principal)


def _serve_weights(replica: LiveReplica, identity: Any, canister_id: Principal) -> None:
    """Just the tiny model's q8 weight file (a one-file bundle, 7.6 MB) for the chat scenarios."""
    _gpt2(replica, identity, canister_id).upload(tiny_bundle() / "canister" / "gpt2-q8.bin")


def _model_deploy(replica: LiveReplica, canister_id: Principal, pem: Path, journal: Path, bundle: Path,
                  dtype: str, cwd: Path) -> Any:
    return icchat("deploy", "--model", str(bundle), "--onchain-dtype", dtype,
                  *deploy_args(replica, canister_id, pem, journal), cwd=cwd)


def bundle_consistent(replica: LiveReplica, canister_id: Principal, manifest_text: bytes) -> tuple[bool, str]:
    """The served manifest is `manifest_text`, every file it lists is served with its size and
    SHA-256, and the model the canister runs is the manifest's weight file."""
    status, _, served = canister_get(replica.port, canister_id, "/model/manifest.json")
    if status != 200 or served != manifest_text:
        return False, f"manifest: status {status}, the expected one: {served == manifest_text}"
    manifest = json.loads(manifest_text)
    for entry in manifest["files"]:
        status, _, body = canister_get(replica.port, canister_id, "/model/" + entry["path"])
        if status != 200 or len(body) != entry["size"] or sha256(body) != entry["sha256"]:
            return False, f"{entry['path']}: status {status}, {len(body)} bytes, hash matches: {sha256(body) == entry['sha256']}"
    weights = next(e for e in manifest["files"] if e["role"] == "canister-weights")
    model = Gpt2Canister(AgentReplica(replica.agent()), canister_id).model_info()
    if model is None or model["sha256"].hex() != weights["sha256"]:
        return False, f"the canister runs {model and model['sha256'].hex()[:12]}, the manifest lists {weights['sha256'][:12]}"
    return True, f"{len(manifest['files'])} files and the model match the manifest"


# --- 2. SIGKILL in the middle of a model-bundle upload ----------------------------------------------


def sigkill_mid_model_upload(root: Path) -> ScenarioRecord:
    record = ScenarioRecord("sigkill_mid_model_upload",
                            "replica SIGKILLed while `icchat deploy --model` switches the gpt2 canister's "
                            "bundle (q8 -> f32 weight file, 28 MB in 15 chunks)")
    identity, pem = identity_pem(root)
    bundle = tiny_bundle()
    replica = LiveReplica(root / "stack", free_port())
    try:
        replica.start()
        canister_id = create_and_install(replica, identity, _gpt2_modules()[0])
        journal = root / "model.jsonl"
        folder = root / ".state" / "upload" / f"model-{canister_id}"
        first = _model_deploy(replica, canister_id, pem, journal, bundle, "q8", root)
        record.check("the q8 bundle uploads", first.returncode == 0,
                     None if first.returncode == 0 else one_line_error(first.stderr))
        old_manifest = (folder / "manifest.json").read_bytes()
        prompt = [464, 3290, 318]
        before = _gpt2(replica, identity, canister_id).generate_query(prompt, max_new_tokens=6)["tokens"]
        killed = replica.kill_when(lambda: journal_chunks(journal) >= 4)
        interrupted = _model_deploy(replica, canister_id, pem, journal, bundle, "f32", root)
        record.check("the replica was killed mid-upload", killed.wait(10))
        record.figures["chunks_accepted_before_kill"] = journal_chunks(journal)
        message = one_line_error(interrupted.stderr)
        record.check("the interrupted upload fails with a clear one-line error",
                     interrupted.returncode != 0 and ("cannot reach" in message or "lost" in message), message)
        t0 = time.monotonic()
        replica.start()
        ok, why = bundle_consistent(replica, canister_id, old_manifest)
        record.figures["recover_s"] = round(time.monotonic() - t0, 2)
        record.check("after restart the old bundle is served whole: manifest, files and model agree", ok, why)
        status, _, _ = canister_get(replica.port, canister_id, "/model/canister/gpt2-f32.bin")
        record.check("nothing of the new weight file is visible", status == 404, f"status {status}")
        after = _gpt2(replica, identity, canister_id).generate_query(prompt, max_new_tokens=6)["tokens"]
        record.check("the old model answers as before", after == before, {"before": before, "after": after})
        t0 = time.monotonic()
        resumed = _model_deploy(replica, canister_id, pem, journal, bundle, "f32", root)
        record.figures["resume_upload_s"] = round(time.monotonic() - t0, 2)
        record.check("the rerun completes", resumed.returncode == 0,
                     None if resumed.returncode == 0 else one_line_error(resumed.stderr))
        record.check("the rerun resumes the interrupted batch (reuses its chunks)", "reused" in resumed.stdout,
                     resumed.stdout.strip().splitlines()[-1:])
        ok, why = bundle_consistent(replica, canister_id, (folder / "manifest.json").read_bytes())
        record.check("the new bundle is served whole and the canister runs its weights", ok, why)
    finally:
        replica.stop()
    return record.done()


# --- 3. SIGKILL during a verified (update) chat -----------------------------------------------------


def _cpu_seconds(pid: int | None) -> float:
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def sigkill_mid_verified_chat(root: Path) -> ScenarioRecord:
    from icchat.ic.agent import AgentError

    record = ScenarioRecord("sigkill_mid_verified_chat",
                            "replica SIGKILLed while it executes a `generate` update (verified onchain chat)")
    identity, _ = identity_pem(root)
    replica = LiveReplica(root / "stack", free_port())
    try:
        replica.start()
        canister_id = create_and_install(replica, identity, _gpt2_modules()[0])
        _serve_weights(replica, identity, canister_id)
        prompt, request = [464, 3290, 318, 257], {"max_new_tokens": 300, "temperature": 0.9, "seed": 7}
        t0 = time.monotonic()
        reference = _gpt2(replica, identity, canister_id).generate(prompt, **request)
        record.figures["call_s"] = round(time.monotonic() - t0, 2)
        # Another caller (its own empty prefix cache: the call computes everything again) is
        # killed once the replica has spent 0.1 s of CPU on its call: it is executing it.
        from icchat.ic.identity import Ed25519Identity

        caller = Ed25519Identity.from_seed(b"icchat fault: interrupted caller".ljust(32, b"."))
        busy_from = _cpu_seconds(replica.pid)
        killed = replica.kill_when(lambda: _cpu_seconds(replica.pid) - busy_from >= 0.1)
        try:
            got: Any = _gpt2(replica, caller, canister_id).generate(prompt, **request)
        except AgentError as error:
            got = error
        record.check("the replica was killed during the call", killed.wait(10), None if killed.is_set() else repr(got)[:300])
        record.check("the interrupted call gets a clear error, not tokens", isinstance(got, AgentError),
                     str(got)[:200] if isinstance(got, AgentError) else "it answered")
        t0 = time.monotonic()
        replica.start()
        retry = _gpt2(replica, caller, canister_id).generate(prompt, **request)
        record.figures["recover_s"] = round(time.monotonic() - t0, 2)
        record.check("after restart the retry answers with exactly the uninterrupted run's tokens",
                     retry["tokens"] == reference["tokens"], len(reference["tokens"]))
    finally:
        replica.stop()
    return record.done()


# --- 4. Upgrade while a chat streams ----------------------------------------------------------------


def upgrade_mid_chat(root: Path) -> ScenarioRecord:
    from icchat.ic.agent import AgentError
    from icchat.stack.install import install as install_module

    record = ScenarioRecord("upgrade_mid_chat",
                            "the gpt2 canister upgraded (same module, then other module bytes) between the "
                            "calls of a streaming onchain chat, verified and fast")
    identity, _ = identity_pem(root)
    replica = LiveReplica(root / "stack", free_port())
    same, other = _gpt2_modules()
    try:
        replica.start()
        canister_id = create_and_install(replica, identity, same)
        _serve_weights(replica, identity, canister_id)
        prompt, sampling = [464, 3290, 318, 257], {"temperature": 0.9, "seed": 11}
        step, steps = 6, 5

        def chat(mode: str, upgrade_after: dict[int, bytes]) -> tuple[list[int], list[str]]:
            """`steps` calls of `step` tokens each, as the page streams; upgrades between calls."""
            gpt2 = _gpt2(replica, identity, canister_id)
            tokens: list[int] = []
            errors: list[str] = []
            for call in range(steps):
                if call in upgrade_after:
                    install_module(replica.agent(identity), canister_id, upgrade_after[call], "upgrade")
                try:
                    if mode == "verified":
                        reply = gpt2.generate(prompt + tokens, max_new_tokens=step, **sampling)
                    else:
                        if call == 0:  # as the page: prefill once; the queries feed what an upgrade emptied
                            gpt2.prefill(prompt + tokens)
                        reply = gpt2.generate_query(prompt + tokens, max_new_tokens=step, **sampling)
                except AgentError as error:
                    errors.append(str(error)[:200])
                    break
                tokens += reply["tokens"]
                if reply["stop_reason"] == "stop_token":
                    break
            return tokens, errors

        for mode in ("verified", "fast"):
            reference, _ = chat(mode, {})
            record.check(f"{mode}: the uninterrupted chat streams {steps} calls", len(reference) >= step * 2,
                         len(reference))
            t0 = time.monotonic()
            tokens, errors = chat(mode, {2: same, 4: other})
            record.figures[f"{mode}_chat_with_two_upgrades_s"] = round(time.monotonic() - t0, 2)
            ok = (not errors and tokens == reference) or (errors and tokens == reference[:len(tokens)])
            record.check(f"{mode}: the chat continues with exactly the uninterrupted tokens (or ends with a "
                         "clear message), never a wrong token", bool(ok),
                         {"tokens": len(tokens), "reference": len(reference), "errors": errors})
            record.check(f"{mode}: it continued", not errors, errors or None)
        model = Gpt2Canister(AgentReplica(replica.agent()), canister_id).model_info()
        record.check("the canister still serves its model after the upgrades", model is not None)
    finally:
        replica.stop()
    return record.done()
