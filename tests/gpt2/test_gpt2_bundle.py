"""The gpt2 canister's model bundle (canister/gpt2/bundle.c, manifest.c): uploaded with the asset
batch API under /model/, served byte-identical over certified HTTP, switched with its model in one
commit; every bundle that does not add up is refused with its reason and the old one keeps
serving; uploads are atomic, resumable and expire; only controllers and authorized principals
write; upgrades keep it; and its manifest's hash is certified (checked in Python and with the
official JS agent, web/verify-manifest.mjs)."""

from __future__ import annotations

import hashlib
import json
import random
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from support.gateway import gateway_get

from icchat.assets_canister import AssetsCanister, Upload
from icchat.gpt2_canister import Gpt2Canister
from icchat.ic import candid, hashtree
from icchat.ic.certificate import BlsKey, CertificateError, verify_certificate
from icchat.ic.principal import Principal
from icchat.ic.reject import canister_line
from icchat.paths import REPO
from icchat.replica import Reject, Replica
from icchat.replica.http import HttpServer

STRANGER = Principal.self_authenticating(b"not a controller of the gpt2 canister")
HELPER = Principal.self_authenticating(b"an authorized bundle uploader")
PROMPT = [464, 3290, 318]
MANIFEST = "/model/manifest.json"
WEIGHTS = "canister/gpt2-q8.bin"
ONNX = "onnx/decoder_model_merged_quantized.onnx"
VOCAB = "vocab.json"

Files = dict[str, tuple[bytes, str]]  # relative path -> (content, role)


# ---- fixtures: one replica with its HTTP server (API + gateway) for the module ----


@dataclass
class Stack:
    replica: Replica
    server: HttpServer

    def fetch(self, canister: Gpt2Canister, path: str) -> tuple[int, dict[str, str], bytes]:
        """GET through the replica's HTTP gateway, which verifies the response's certification."""
        return gateway_get(self.server.port, f"{canister.id}.localhost", path, timeout=120)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with Replica(tmp_path_factory.mktemp("gpt2-bundle")) as replica, HttpServer(replica, port=0) as server:
        yield Stack(replica, server)


@pytest.fixture
def canister(stack, gpt2_wasm) -> Gpt2Canister:
    return Gpt2Canister.install(stack.replica, gpt2_wasm)


@pytest.fixture(scope="session")
def bundle(tiny_q8) -> Files:
    """The canister weights, an "ONNX decoder" (random bytes: the canister only checks its hash) and a vocabulary."""
    vocab = json.dumps({f"token{i}": i for i in range(2000)}).encode()
    return {WEIGHTS: (tiny_q8.read_bytes(), "canister-weights"), ONNX: (random.Random(7).randbytes(300_000), "onnx-decoder"),
            VOCAB: (vocab, "tokenizer")}


@pytest.fixture
def served(canister, bundle) -> Gpt2Canister:
    canister.upload_bundle(bundle, manifest={"name": "tiny-s0", "dimensions": {"n_layer": 2}})
    return canister


# ---- helpers ----


def listing(files: Files) -> list[dict[str, Any]]:
    return [{"path": path, "size": len(data), "sha256": hashlib.sha256(data).hexdigest(), "role": role}
            for path, (data, role) in files.items()]


def manifest_text(entries: list[dict[str, Any]]) -> bytes:
    return json.dumps({"name": "test bundle", "files": entries}, indent=1).encode()


def commit(canister: Gpt2Canister, uploads: dict[str, bytes]) -> None:
    """One batch writing `uploads` (key -> bytes), replacing what is there."""
    canister.assets.upload({key: Upload(data, "application/octet-stream") for key, data in uploads.items()},
                           existing=True, chunk_bytes=1 << 20)


def refused(call, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(Reject) as failure:
        call(*args, **kwargs)
    return failure.value.message


def http_body(canister: Gpt2Canister, key: str) -> tuple[int, bytes]:
    response = canister.assets.http_request(key)
    return response["status_code"], b"".join(canister.assets.http_body(response))


@dataclass(frozen=True)
class Serving:
    """What a canister serves: its model (info read after a generate, so counters show any reload),
    every asset's bytes, and greedy tokens for PROMPT."""

    info: dict[str, Any] | None
    files: dict[str, bytes]
    tokens: list[int]


def serving(canister: Gpt2Canister) -> Serving:
    tokens = canister.generate(PROMPT, max_new_tokens=4, stop=[])["tokens"] if canister.model_info() else []
    files = {}
    for entry in canister.assets.list():
        status, body = http_body(canister, entry["key"])
        assert status == 200, entry["key"]
        files[entry["key"]] = body
    return Serving(canister.model_info(), files, tokens)


def assert_still_serving(canister: Gpt2Canister, before: Serving) -> None:
    assert canister.model_info() == before.info  # the same model, not even reloaded (counters kept)
    now = serving(canister)
    assert (now.files, now.tokens) == (before.files, before.tokens)


# ---- a bundle, served ----


def test_a_bundle_switches_files_and_model_together(stack, served, bundle):
    info = served.model_info()
    weights = bundle[WEIGHTS][0]
    manifest = served.assets.content(MANIFEST)
    assert (info["dtype"], info["bytes"], info["sha256"]) == ("q8", len(weights), hashlib.sha256(weights).digest())
    assert info["manifest_sha256"] == hashlib.sha256(manifest).digest()
    listed = json.loads(manifest)
    assert listed["name"] == "tiny-s0" and listed["files"] == listing(bundle)
    assert sorted(e["key"] for e in served.assets.list()) == sorted([MANIFEST, *(f"/model/{p}" for p in bundle)])
    for path, (data, _) in bundle.items():
        assert http_body(served, f"/model/{path}") == (200, data), path  # through the store, streamed
        status, headers, body = stack.fetch(served, f"/model/{path}")  # through the verifying gateway
        assert status == 200 and "ic-certificate" in headers, (path, body[:200])
        entry = next(f for f in listed["files"] if f["path"] == path)
        assert (len(body), hashlib.sha256(body).hexdigest()) == (entry["size"], entry["sha256"])
    status, _, body = stack.fetch(served, MANIFEST)
    assert (status, body) == (200, manifest)
    assert len(served.generate(PROMPT, max_new_tokens=4, stop=[])["tokens"]) == 4


def test_a_new_bundle_replaces_the_old(served, tiny_f32, bundle):
    before = served.logits(PROMPT)
    info = served.upload_bundle({"canister/gpt2-f32.bin": (tiny_f32, "canister-weights"), VOCAB: bundle[VOCAB]})
    assert info["dtype"] == "f32" and info["sha256"] == hashlib.sha256(tiny_f32.read_bytes()).digest()
    assert info["tokens_generated"] == 0  # a new model starts its counters afresh
    assert sorted(e["key"] for e in served.assets.list()) == sorted([MANIFEST, "/model/canister/gpt2-f32.bin", "/model/vocab.json"])
    assert http_body(served, f"/model/{WEIGHTS}")[0] == 404
    after = served.logits(PROMPT)  # the f32 model the q8 one was quantized from: close, not equal
    assert after != before and max(abs(a - b) for a, b in zip(after, before, strict=True)) < 0.5


def test_files_outside_the_bundle_and_an_unchanged_weight_file_keep_the_model(served, bundle):
    before = serving(served)
    served.assets.store("/index.html", b"<p>page</p>", "text/html")  # not the bundle's: checked, accepted
    vocab = b'{"hello": 0}'
    entries = listing({**bundle, VOCAB: (vocab, "tokenizer")})
    commit(served, {f"/model/{VOCAB}": vocab, MANIFEST: manifest_text(entries)})  # same weights, new manifest
    info = served.model_info()
    assert info["manifest_sha256"] == hashlib.sha256(manifest_text(entries)).digest() != before.info["manifest_sha256"]
    assert info["tokens_generated"] == before.info["tokens_generated"]  # same weight file: not reloaded
    assert http_body(served, f"/model/{VOCAB}") == (200, vocab)
    assert served.generate(PROMPT, max_new_tokens=4, stop=[])["tokens"] == before.tokens


# ---- refused bundles: the reason in the reject, the old bundle serving ----


def _wrong_hash(files: Files) -> tuple[dict[str, bytes], str]:
    other = files[VOCAB][0].replace(b"token1", b"tokenX", 1)
    return ({f"/model/{VOCAB}": other, MANIFEST: manifest_text(listing(files))},
            f"model bundle refused: {VOCAB} has SHA-256 {hashlib.sha256(other).hexdigest()}, "
            f"the manifest says {hashlib.sha256(files[VOCAB][0]).hexdigest()}")


def _missing(files: Files) -> tuple[dict[str, bytes], str]:
    entries = [*listing(files), {"path": "merges.txt", "size": 3, "sha256": hashlib.sha256(b"abc").hexdigest(), "role": "tokenizer"}]
    return {MANIFEST: manifest_text(entries)}, "the manifest lists merges.txt, but /model/merges.txt is not uploaded"


def _size(files: Files) -> tuple[dict[str, bytes], str]:
    entries = listing(files)
    entries[1]["size"] += 1
    return {MANIFEST: manifest_text(entries)}, f"{ONNX} is 300000 bytes, the manifest says 300001"


def _no_weights(files: Files) -> tuple[dict[str, bytes], str]:
    entries = listing(files)
    entries[0]["role"] = "weights"
    return {MANIFEST: manifest_text(entries)}, "the manifest lists no canister-weights file for onchain inference"


def _no_roles(files: Files) -> tuple[dict[str, bytes], str]:
    entries = [{k: v for k, v in e.items() if k != "role"} for e in listing(files)]
    return {MANIFEST: manifest_text(entries)}, "the manifest lists no canister-weights file"


def _two_weights(files: Files) -> tuple[dict[str, bytes], str]:
    weights = files[WEIGHTS][0]
    entries = listing({**files, "canister/copy.bin": (weights, "canister-weights")})
    return ({"/model/canister/copy.bin": weights, MANIFEST: manifest_text(entries)},
            "the manifest lists more than one canister-weights file")


def _corrupt_weights(files: Files) -> tuple[dict[str, bytes], str]:
    corrupt = b"NOTGPT2\0" + files[WEIGHTS][0][8:]
    entries = listing({**files, WEIGHTS: (corrupt, "canister-weights")})
    return ({f"/model/{WEIGHTS}": corrupt, MANIFEST: manifest_text(entries)},
            f"{WEIGHTS} is not a usable weight file: not a gpt2 canister weight file (bad magic)")


def _truncated_weights(files: Files) -> tuple[dict[str, bytes], str]:
    short = files[WEIGHTS][0][:100_000]
    entries = listing({**files, WEIGHTS: (short, "canister-weights")})
    return {f"/model/{WEIGHTS}": short, MANIFEST: manifest_text(entries)}, f"{WEIGHTS} is not a usable weight file: "


def _manifest(text: bytes, reason: str):
    return lambda files: ({MANIFEST: text}, reason)


def _entry_change(reason: str, **change: Any):
    def make(files: Files) -> tuple[dict[str, bytes], str]:
        entries = listing(files)
        entries[2] = {k: v for k, v in {**entries[2], **change}.items() if v is not None}
        return {MANIFEST: manifest_text(entries)}, reason
    return make


REFUSALS = {
    "wrong sha256": _wrong_hash,
    "listed file missing": _missing,
    "size mismatch": _size,
    "no canister-weights file": _no_weights,
    "no roles at all": _no_roles,
    "two canister-weights files": _two_weights,
    "corrupt weight header": _corrupt_weights,
    "truncated weight file": _truncated_weights,
    "not JSON": _manifest(b"files: [weights.bin]", "invalid manifest.json at byte 0: unexpected character"),
    "blank": _manifest(b" \n", "invalid manifest.json at byte 2: unexpected character"),
    "a JSON array": _manifest(b"[]", "invalid manifest.json at byte 0"),
    "no files list": _manifest(b'{"name": "x"}', 'no "files" list'),
    "files twice": _manifest(b'{"files": [], "files": []}', '"files" appears twice'),
    "files not a list": _manifest(b'{"files": {}}', "invalid manifest.json at byte 10: unexpected character"),
    "text after": _manifest(b'{"files": []} {}', "text after the manifest"),
    "unterminated": _manifest(b'{"files": [', "invalid manifest.json"),
    "nested too deeply": _manifest(b'{"x": ' + b"[" * 40 + b"]" * 40 + b', "files": []}', "nested too deeply"),
    "empty files list": _manifest(b'{"files": []}', "no canister-weights file"),
    "missing sha256": _entry_change("every file needs path, size and sha256", sha256=None),
    "missing size": _entry_change("every file needs path, size and sha256", size=None),
    "missing path": _entry_change("every file needs path, size and sha256", path=None),
    "upper-case sha256": _entry_change("sha256 must be lower-case hex", sha256="AB" * 32),
    "short sha256": _entry_change("sha256 must be 64 hex digits", sha256="ab" * 31),
    "negative size": _entry_change("a file size must be a whole number of bytes", size=-1),
    "fractional size": _entry_change("a file size must be a whole number of bytes", size=1.5),
    "size as text": _entry_change("invalid manifest.json", size="7"),
    "escaped path": _entry_change("escapes are not allowed in a file path", path="vocab\u00e9.json"),
    "path out of the bundle": _entry_change("a file path must be relative, without empty, . or .. segments",
                                            path="../index.html"),
    "absolute path": _entry_change("a file path must be relative", path="/model/vocab.json"),
    "empty segment": _entry_change("a file path must be relative", path="onnx//vocab.json"),
    "dot segment": _entry_change("a file path must be relative", path="./vocab.json"),
    "query in path": _entry_change("a file path must not contain ?, # or %", path="vocab.json?v=2"),
    "percent in path": _entry_change("a file path must not contain ?, # or %", path="vocab%2ejson"),
}


@pytest.mark.parametrize("make", REFUSALS.values(), ids=REFUSALS.keys())
def test_a_bundle_that_does_not_add_up_is_refused_and_the_old_one_serves(served, bundle, make):
    before = serving(served)
    uploads, reason = make(bundle)
    message = refused(commit, served, uploads)
    assert "model bundle refused: " in message and reason in message, message
    assert_still_serving(served, before)


def test_breaking_the_served_bundle_file_by_file_is_refused(served, bundle):
    before = serving(served)
    key = f"/model/{VOCAB}"
    assert "/model/vocab.json is not uploaded" in refused(served.assets.delete_asset, key)
    assert "has SHA-256" in refused(served.assets.store, key, b"x" * len(bundle[VOCAB][0]), "application/json")
    assert_still_serving(served, before)


# ---- interrupted, resumed and abandoned uploads ----


def _next_bundle(assets: AssetsCanister, batch: int, tiny_f32: Path, bundle: Files) -> list[dict[str, Any]]:
    """Send a bundle with the f32 weights as chunks of `batch`; returns the commit's operations."""
    files = {"canister/gpt2-f32.bin": (tiny_f32.read_bytes(), "canister-weights"), VOCAB: bundle[VOCAB]}
    contents = {f"/model/{p}": d for p, (d, _) in files.items()} | {MANIFEST: manifest_text(listing(files))}
    operations: list[dict[str, Any]] = [{"DeleteAsset": {"key": k}} for k in (MANIFEST, f"/model/{WEIGHTS}", f"/model/{ONNX}",
                                                                           f"/model/{VOCAB}")]
    for key, data in contents.items():
        ids, digest = assets.upload_content(batch, data, chunk_bytes=1 << 20)
        operations += [{"CreateAsset": {"key": key, "content_type": "application/octet-stream"}},
                       {"SetAssetContent": {"key": key, "content_encoding": "identity", "chunk_ids": ids,
                                            "last_chunk": None, "sha256": digest}}]
    return operations


def test_an_interrupted_upload_is_invisible_and_resumes(served, bundle, tiny_f32):
    before = serving(served)
    batch = served.assets.create_batch()
    operations = _next_bundle(served.assets, batch, tiny_f32, bundle)  # sent, not committed
    assert_still_serving(served, before)
    served.assets.commit_batch(batch, operations)  # later: the same batch switches
    info = served.model_info()
    assert info["dtype"] == "f32" and info["manifest_sha256"] == hashlib.sha256(served.assets.content(MANIFEST)).digest()
    assert http_body(served, "/model/canister/gpt2-f32.bin") == (200, tiny_f32.read_bytes())


def test_a_refused_commit_keeps_its_batch_for_a_corrected_commit(served, bundle, tiny_f32):
    batch = served.assets.create_batch()
    operations = _next_bundle(served.assets, batch, tiny_f32, bundle)
    weights_content = operations[5]  # the f32 file's SetAssetContent: without it the file is empty
    assert weights_content["SetAssetContent"]["key"] == "/model/canister/gpt2-f32.bin"
    message = refused(served.assets.commit_batch, batch, operations[:5] + operations[6:])
    assert ("model bundle refused: the manifest lists canister/gpt2-f32.bin, "
            "but /model/canister/gpt2-f32.bin is not uploaded") in message, message
    assert served.model_info()["dtype"] == "q8"
    served.assets.commit_batch(batch, operations)
    assert served.model_info()["dtype"] == "f32"


def test_an_abandoned_upload_expires(gpt2_wasm, tiny_q8, bundle, tiny_f32):
    with Replica() as replica:  # its own clock: this test moves time
        canister = Gpt2Canister.install(replica, gpt2_wasm)
        canister.upload(tiny_q8)
        before = serving(canister)
        batch = canister.assets.create_batch()
        operations = _next_bundle(canister.assets, batch, tiny_f32, bundle)
        replica.advance_time(301)  # five minutes without a chunk
        message = refused(canister.assets.commit_batch, batch, operations)
        assert "batch not found" in message and "expired" in message
        assert_still_serving(canister, before)
        assert canister.upload(tiny_f32)["dtype"] == "f32"  # and a new upload goes through


# ---- who may upload ----


def test_strangers_and_anonymous_cannot_upload_and_authorized_principals_can(served, bundle, tiny_f32):
    before = serving(served)
    for sender in (STRANGER, Principal.anonymous()):
        other = served.assets.as_caller(sender)
        assert "Caller does not have Commit permission" in refused(other.create_batch)
        assert "Caller does not have Commit permission" in refused(other.store, MANIFEST, b"{}", "application/json")
        assert "Caller does not have Commit permission" in refused(other.delete_asset, MANIFEST)
        assert "Caller does not have Commit permission" in refused(other.clear)
    batch = served.assets.create_batch()  # a controller's batch, committed by a stranger
    operations = _next_bundle(served.assets, batch, tiny_f32, bundle)
    assert "Caller does not have Commit permission" in refused(served.assets.as_caller(STRANGER).commit_batch, batch, operations)
    assert_still_serving(served, before)
    served.assets.delete_batch(batch)

    served.assets.authorize(HELPER)
    helper = Gpt2Canister(served.replica, served.id, sender=HELPER)
    info = helper.upload_bundle({"canister/gpt2-f32.bin": (tiny_f32, "canister-weights")})
    assert info["dtype"] == "f32" and served.model_info() == info


# ---- lifecycle ----


def test_an_upgrade_keeps_the_bundle_and_the_model_and_a_reinstall_drops_them(served, gpt2_wasm):
    before = serving(served)
    certified = served.replica.canister_info(served.id).certified_data
    served.replica.install_code(served.id, gpt2_wasm, mode="upgrade", sender=served.sender)
    assert served.model_info() == {**before.info, "tokens_generated": 0, "generate_instructions": 0,
                                   "average_instructions_per_token": 0}  # loaded again: counters restart
    assert served.replica.canister_info(served.id).certified_data == certified
    after = serving(served)
    assert (after.files, after.tokens) == (before.files, before.tokens)
    assert served.model_certificate()["manifest_sha256"] == before.info["manifest_sha256"]

    served.replica.install_code(served.id, gpt2_wasm, mode="reinstall", sender=served.sender)
    assert served.model_info() is None and served.assets.list() == []
    assert http_body(served, MANIFEST)[0] == 404
    assert refused(served.generate, PROMPT).startswith("no model")
    assert refused(served.model_certificate).startswith("no model bundle")


def test_deleting_the_manifest_leaves_no_model_and_files_stay_deletable(served, bundle):
    served.assets.delete_asset(MANIFEST)
    assert served.model_info() is None
    assert refused(served.generate, PROMPT).startswith("no model")
    assert refused(served.generate_query, PROMPT).startswith("no model")
    assert refused(served.logits, PROMPT).startswith("no model")
    assert refused(served.model_certificate).startswith("no model bundle")
    assert http_body(served, f"/model/{VOCAB}") == (200, bundle[VOCAB][0])  # still an asset
    for path in bundle:
        served.assets.delete_asset(f"/model/{path}")
    assert served.assets.list() == []
    served.upload_bundle(bundle)  # and a bundle can come back
    assert served.model_info()["dtype"] == "q8"


# ---- inference input errors and malformed Candid (ported from the upload API's tests) ----


def test_inference_input_errors(canister, tiny_q8):
    fresh = canister
    assert refused(fresh.generate, [464]) == "no model: upload a model bundle first"
    assert refused(fresh.logits, [464]) == "no model: upload a model bundle first"
    fresh.upload(tiny_q8)
    assert refused(fresh.generate, []) == "the prompt is empty: give at least one token"
    assert refused(fresh.generate, [1, 50257]) == "token id 50257 at position 1 is outside the vocabulary (50257 tokens)"
    assert refused(fresh.generate, [1] * 1000, max_new_tokens=100) == (
        "prompt (1000 tokens) + max_new_tokens (100) exceeds the context of 1024 tokens")
    assert refused(fresh.generate, [1] * 1025).startswith("invalid argument: vector longer than the limit of 1024")
    assert refused(fresh.generate, [1], temperature=-1.0) == "temperature must be between 0 and 100"
    assert refused(fresh.generate, [1], temperature=float("nan")) == "temperature must be between 0 and 100"
    wrong_type = candid.encode(candid.parse_types("(record { prompt : text })"), [{"prompt": "hello"}])
    assert refused(fresh.replica.update, fresh.id, "generate", wrong_type, sender=fresh.sender) == (
        "invalid argument: expected vec at field `prompt`, got text")


MALFORMED = st.one_of(st.binary(max_size=64), st.binary(max_size=40).map(lambda b: b"DIDL" + b))


def _is_candid(data: bytes) -> bool:
    try:
        candid.decode(data, [])
        return True
    except candid.CandidError:
        return False


@pytest.fixture(scope="module")
def fuzzed(stack, gpt2_wasm, tiny_q8) -> Gpt2Canister:
    canister = Gpt2Canister.install(stack.replica, gpt2_wasm)
    canister.upload(tiny_q8)
    return canister


METHODS = ["generate", "prefill", "model_info", "model_certificate", "create_batch", "create_chunk", "commit_batch",
           "store", "delete_asset", "authorize"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=MALFORMED, method=st.sampled_from(METHODS))
def test_malformed_candid_is_an_invalid_argument_reject(fuzzed, data, method):
    if method in ("model_info", "model_certificate"):  # no parameters: any valid message is a call
        assume(not _is_candid(data))
    before = fuzzed.replica.canister_info(fuzzed.id).certified_data
    with pytest.raises(Reject) as failure:  # the method itself (inspect_message refuses queries called as updates)
        fuzzed.replica.update(fuzzed.id, method, data, sender=fuzzed.sender, inspect=False)
    assert failure.value.code == 4, failure.value  # a reject with its reason, never a trap
    assert failure.value.message.startswith("invalid argument: "), failure.value
    assert fuzzed.replica.canister_info(fuzzed.id).certified_data == before


# ---- the certified manifest ----


def test_model_certificate_verifies_in_python(served):
    reply = served.model_certificate()
    manifest = served.assets.content(MANIFEST)
    assert reply["manifest_sha256"] == hashlib.sha256(manifest).digest() == served.model_info()["manifest_sha256"]
    root_key = served.replica.root_key_der()
    certificate = verify_certificate(reply["certificate"], root_key, canister_id=served.id,
                                     now_ns=served.replica.time_ns(), max_age_ns=300 * 10**9)
    certified = certificate.lookup([b"canister", served.id.raw, b"certified_data"])
    assert certified.found and certified.value == served.replica.canister_info(served.id).certified_data
    tree = hashtree.from_cbor(reply["tree"])
    assert hashtree.reconstruct(tree) == certified.value
    assert hashtree.lookup_path(tree, [b"http_assets", MANIFEST.encode()]).value == reply["manifest_sha256"]
    assert hashtree.lookup_path(tree, [b"http_assets", f"/model/{WEIGHTS}".encode()]).status is not hashtree.LookupStatus.FOUND
    with pytest.raises(CertificateError):
        verify_certificate(reply["certificate"], BlsKey.generate(b"another root").public_key_der, canister_id=served.id)


def test_model_certificate_as_an_update_is_refused(served):
    with pytest.raises(Reject) as failure:  # the method itself, past canister_inspect_message
        served.replica.update(served.id, "model_certificate", candid.encode([], []), sender=served.sender, inspect=False)
    assert failure.value.code == 4
    assert failure.value.message == "model_certificate must be called as a query: only queries get a data certificate"
    with pytest.raises(Reject) as failure:  # an ingress call is dropped before it executes
        served.replica.update(served.id, "model_certificate", candid.encode([], []), sender=served.sender)
    assert canister_line(failure.value.message) == "model_certificate is a query: call it as a query"


def test_model_certificate_verifies_with_the_official_js_agent(stack, served):
    other_root = BlsKey.generate(b"another root").public_key_der
    result = subprocess.run(
        ["node", str(REPO / "tests" / "js" / "gpt2_verify_manifest.mjs"), stack.server.url, served.id.to_text(),
         stack.replica.root_key_der().hex(), other_root.hex()],
        capture_output=True, text=True, timeout=120, cwd=REPO)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    manifest = served.assets.content(MANIFEST)
    assert out["manifest_sha256"] == out["fetched_sha256"] == hashlib.sha256(manifest).hexdigest()
    assert bytes.fromhex(out["certified_data"]) == stack.replica.canister_info(served.id).certified_data
    listed = json.loads(manifest)["files"]
    assert out["manifest_files"] == [f["path"] for f in listed]
    assert out["checked_files"] == {f["path"]: f["sha256"] for f in listed}  # each fetched through the gateway
    assert out["tampered_file_error"].startswith(f"{listed[0]['path']} has SHA-256 ")
    assert abs(int(out["certificate_time_ns"]) - stack.replica.time_ns()) < 120 * 10**9
    assert out["tampered_error"].startswith("manifest.json has SHA-256 ")
    assert out["wrong_root_key_error"].startswith("the model certificate does not verify against the root key")
