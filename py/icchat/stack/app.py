"""The app deploy, one for every network: `icchat deploy --app` on mainnet (`ic`) or a replica URL,
and `icchat up` on the local replica.

    result = AppDeploy(AppOptions(network="ic", identity=Path("id.pem"))).run()

Steps, the same on every network:

  1. build (hash-checked, icchat.build.pipeline) — among its outputs the modules with their
     metadata (build/canisters/*.ic.wasm.gz) and build/web; then the model bundle to serve
  2. canisters — the ids in canister_ids.json (dfx's format; the local stack keeps its own in
     .state/canister_ids.json). On `ic` they must exist: creating a canister there costs cycles
     through the cycles ledger, so it is `dfx canister create --all --network ic` (or `icp canister
     create -e ic`); on a replica missing ones (or recorded ones the replica no longer has) are
     created with provisional_create_canister_with_cycles and recorded.
  3. modules — install into an empty canister, upgrade one that runs ours (its public
     `icchat:canister` metadata, or a module this checkout installed there), leave a foreign
     frontend module (dfx's asset canister) in place; chunked when the module does not fit one
     message (icchat.stack.install). The gpt2 canister's install argument is its inference policy
     (who may call, the instruction budget per window: the worst case the owner pays); then each
     canister's settings (freezing threshold, Wasm memory limit).
  4. model — the served part of the bundle to the gpt2 canister under /model/ (one batch, resumable)
  5. page — build/web + config.json for this network + its .ic-assets.json5 (CSP naming the model
     and API hosts) to the frontend canister (one batch, resumable); the folders: icchat.build.site

What a run leaves in .state/app/<network>/: the folders it uploaded, the upload journals, the
module hashes it installed per canister (modules.json) and the model it deployed (model.json).
Mainnet's root key is built in (never fetched); a replica's is fetched. `dry_run` prints every
step, call and byte count and opens no connection at all.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from icchat.build.site import MODEL_PREFIX, prepare_model_folder, prepare_site
from icchat.deploy import canister_ids
from icchat.deploy.canister_ids import CANISTER_IDS, ICP_CLI_MAPPINGS
from icchat.deploy.network import Network
from icchat.errors import UserError
from icchat.ic import management
from icchat.ic.agent import Agent
from icchat.ic.identity import Identity
from icchat.ic.principal import Principal
from icchat.model.manifest import is_current
from icchat.paths import BUILD, REPO
from icchat.stack import canister_settings, inference_policy, install
from icchat.stack.inference_policy import InferencePolicy
from icchat.stack.install import InstallPlan
from icchat.stack.models import ModelChoice, choose_model

CANISTERS = {"gpt2": "gpt2", "frontend": "assets"}  # name -> module kind (icchat:canister)
# The LLM service's canisters, one module in two roles (canister/llm): "llm_route", what the page's
# fourth position calls, deployed when canister_ids.json has its id (its owner points it at the LLM
# canister or an endpoint: docs/llm-service.md); `icchat up` creates it with "llm", the local
# stand-in of DFINITY's LLM canister, and points them at `icchat serve` (icchat.stack.llm_route).
ROUTE_CANISTERS = {"llm": "llm", "llm_route": "llm"}
STACK_CANISTERS = {**CANISTERS, **ROUTE_CANISTERS}  # what `icchat up` has


def work_dir(state_dir: Path, network: Network) -> Path:
    """.state/app/<network>: what the app deploy keeps for one network."""
    return state_dir / "app" / re.sub(r"[^A-Za-z0-9]+", "_", network.key).strip("_")


def deployed_model(state_dir: Path, network: Network) -> dict[str, Any]:
    """The model the last deploy to `network` uploaded ({} if none): label, path, meaningful,
    notice, manifest_sha256, onchain_dtype."""
    try:
        return dict(json.loads((work_dir(state_dir, network) / "model.json").read_text()))
    except (OSError, ValueError):
        return {}


@dataclass
class AppOptions:
    network: str | Network = "ic"     # ic, local, a replica URL, or a Network
    identity: Path | None = None      # a dfx/icp PEM; required on mainnet (else: this checkout's key)
    model: str | None = "gpt2"        # gpt2, demo, tiny, small or a bundle directory (None: gpt2 if the hub answers, else demo)
    onchain_dtype: str = "q8"
    policy: InferencePolicy = field(default_factory=InferencePolicy)  # the gpt2 canister's (at upgrade: only what it names)
    llm_stand_in: bool = False        # `icchat up`: llm_route and the stand-in "llm" always (created if missing)
    canister_ids: Path = CANISTER_IDS
    icp_mappings: Path | None = ICP_CLI_MAPPINGS  # icp-cli's ids, the fallback (None: none)
    state_dir: Path = REPO / ".state"
    dry_run: bool = False
    log: Callable[[str], None] = print


@dataclass
class AppResult:
    network: Network
    ids: dict[str, Principal | None]
    model: ModelChoice
    modules: dict[str, str] = field(default_factory=dict)  # name -> installed/upgraded/unchanged/kept
    calls: list[str] = field(default_factory=list)         # the dry run's call list

    @property
    def page_url(self) -> str:
        frontend = self.ids.get("frontend")
        return f"{self.network.gateway(frontend)}/" if frontend else ""


class AppDeploy:
    def __init__(self, options: AppOptions) -> None:
        self.options = options
        self.network = options.network if isinstance(options.network, Network) else Network.parse(options.network)
        self.log = options.log
        self.work = work_dir(options.state_dir, self.network)

    # --- the steps ----------------------------------------------------------------------------

    def run(self) -> AppResult:
        return self.deploy(self.build())

    def build(self) -> ModelChoice:
        """Step 1, which needs no network: the build, and the model bundle to serve."""
        from icchat.build.pipeline import build_all

        options, network = self.options, self.network
        if network.mainnet and options.identity is None:
            raise UserError("--network ic needs --identity PEM (the controller of the canisters in "
                            "canister_ids.json, e.g. ~/.config/dfx/identity/<name>/identity.pem)")
        self.log(f"{'dry run: ' if options.dry_run else ''}deploying icchat to {network.key} ({network.url})")
        self.log("1. build")
        build_all(log=None)
        if options.dry_run and options.model == "gpt2" and not is_current(BUILD / "models" / "gpt2"):
            raise UserError("the gpt2 bundle is not exported yet, or is of an older format (that needs the Hugging Face hub, and a dry "
                            "run opens no connection): run `icchat model export` first, or pass --app-model tiny")
        model = choose_model(options.model, self.log)
        self.log(f"  model: {model.label} — {model.note}")
        return model

    def deploy(self, model: ModelChoice) -> AppResult:
        """Steps 2 to 5: canisters, modules and settings, model, page."""
        options, network = self.options, self.network
        canisters = dict(STACK_CANISTERS if options.llm_stand_in else {**CANISTERS, "llm_route": "llm"})
        ids = {name: canister_ids.lookup(options.canister_ids, name, network.key, options.icp_mappings)
               for name in canisters}
        if not options.llm_stand_in and ids["llm_route"] is None:
            self.log(f"  llm_route: no {network.key} id in {options.canister_ids}: the page offers no LLM service "
                     f"(`dfx canister create llm_route --network ic` makes one)")
            del canisters["llm_route"], ids["llm_route"]
        missing = [name for name, cid in ids.items() if cid is None]
        if missing and network.mainnet:
            raise UserError(f"{options.canister_ids} has no {network.key} id for {', '.join(missing)}: create "
                            f"them first (it costs cycles) with `dfx canister create --all --network ic` "
                            f"or `icp canister create <name> -e ic`, or write their ids there")
        result = AppResult(network, dict(ids), model)
        identity = self._identity()
        self.log(f"  signing as {identity.principal}")
        agent = None if options.dry_run else self._agent(identity)
        self.log("2. canisters")
        for name in canisters:
            self._canister(agent, result, name)
        self.log("3. modules and settings")
        for name, kind in canisters.items():
            self._module(agent, result, name, kind)
            self._settings(agent, result, name)
        self._policy(agent, result)
        gpt2 = result.ids["gpt2"]
        self.log(f"4. model: {model.label} -> gpt2 {MODEL_PREFIX}")
        manifest_sha256 = self._model(agent, result, model.path, gpt2)
        model_info = {"label": model.label, "path": str(model.path), "meaningful": model.meaningful,
                      "notice": model.notice, "manifest_sha256": manifest_sha256,
                      "onchain_dtype": options.onchain_dtype}
        if agent is not None:
            self._write_record("model.json", model_info)
        self.log("5. page -> frontend /")
        site = prepare_site(self.work / "site", network, gpt2 or "<gpt2 id>", model_info,
                            result.ids.get("llm_route") or (None if "llm_route" not in canisters else "<llm_route id>"))
        self._sync(agent, result, "frontend", site, "/")
        if result.page_url:
            self.log(f"\nicchat on {network.key}: {result.page_url}")
        return result

    def _canister(self, agent: Agent | None, result: AppResult, name: str) -> None:
        """The recorded canister; on a replica, a new one (recorded) when there is none or the
        replica no longer has it (or we no longer control it)."""
        from icchat.ic.agent import CanisterReject

        options, cid = self.options, result.ids[name]
        if cid is not None and agent is not None and not self.network.mainnet:
            try:
                management.canister_status(agent, cid)
            except CanisterReject as reject:
                self.log(f"  {name}: recorded canister {cid} is gone ({reject.message}); creating a new one")
                cid = None
        if cid is not None:
            self.log(f"  {name}: {cid} (from {options.canister_ids.name})")
        elif agent is None:
            self._plan(result, f"{name}: provisional_create_canister_with_cycles, then record it in "
                               f"{options.canister_ids}")
        else:
            cid = management.create_canister(agent, controllers=[agent.identity.principal])
            canister_ids.record(options.canister_ids, name, self.network.key, cid)
            result.ids[name] = cid
            self.log(f"  {name}: created {cid}, recorded in {options.canister_ids}")

    def _identity(self) -> Identity:
        """The PEM's identity; on a replica without one, this checkout's local key."""
        from icchat.ic.identity import IdentityError, load_or_create, load_pem

        try:
            return (load_pem(self.options.identity) if self.options.identity
                    else load_or_create(self.options.state_dir / "identity.pem"))
        except (IdentityError, OSError) as exc:
            raise UserError(f"--identity {self.options.identity}: {exc}") from None

    def _agent(self, identity: Identity | None = None) -> Agent:
        return self.network.agent(identity or self._identity())

    def _module(self, agent: Agent | None, result: AppResult, name: str, kind: str) -> None:
        from icchat.build.metadata import ic_module_path

        module = ic_module_path(kind).read_bytes()
        plan = InstallPlan.of(module)
        cid = result.ids[name]
        if agent is None:
            label = cid or f"<new {name}>"
            self._plan(result, f"{name} {label}: canister_status (module hash); read_state "
                               f"canister/<id>/metadata/icchat:canister; then, unless it already runs "
                               f"sha256 {hashlib.sha256(module).hexdigest()[:16]}…, one of:")
            for call in plan.describe("install (empty) | upgrade (runs ours)"):
                self._plan(result, f"    {call}")
            return
        current = install.module_sha256(agent, cid)
        ours = self._installed_here()
        if current == hashlib.sha256(module).hexdigest():
            result.modules[name] = "unchanged"
        elif not current:
            install.install(agent, cid, module, "install", arg=self._install_arg(name, "install"))
            result.modules[name] = "installed"
        else:
            running = install.running_kind(agent, cid)
            # replicas that do not certify metadata: a module this checkout installed is ours too
            if running == kind or current in ours.get(str(cid), []):
                install.install(agent, cid, module, "upgrade", arg=self._install_arg(name, "upgrade"))
                result.modules[name] = "upgraded"
            elif name == "frontend":
                result.modules[name] = "kept"  # e.g. dfx's standard asset canister: same interface
            else:
                raise UserError(f"{name} canister {cid} runs a module that is not icchat's {kind} canister "
                                f"(module {current[:12]}, metadata icchat:canister={running!r}); refusing to "
                                f"replace it: check {self.options.canister_ids}")
        if result.modules[name] in ("installed", "upgraded"):
            self._record_installed(cid, hashlib.sha256(module).hexdigest())
        how = " (chunked)" if plan.chunked and result.modules[name] in ("installed", "upgraded") else ""
        self.log(f"  {name}: module {result.modules[name]}{how} ({len(module):,} bytes)")

    def _settings(self, agent: Agent | None, result: AppResult, name: str) -> None:
        cid = result.ids[name]
        if agent is None:
            self._plan(result, f"{name} {cid or f'<new {name}>'}: {canister_settings.describe(name)}")
            return
        changed = canister_settings.ensure(agent, name, cid)
        self.log(f"  {name}: {canister_settings.describe(name)}{'' if changed else ' (already)'}")

    def _policy(self, agent: Agent | None, result: AppResult) -> None:
        """Say what onchain inference may cost: the policy the canister runs (or will run)."""
        policy = self.options.policy
        if agent is None:
            named = ", ".join(f"{k} {v}" for k, v in vars(policy).items() if v is not None) or "nothing named"
            self._plan(result, f"gpt2: inference policy as install argument (install: the defaults with "
                               f"{named}; upgrade: {named}, the rest as it is)")
            self._plan(result, f"    with this policy on a new canister: "
                               f"{inference_policy.worst_case(policy).describe()}")
            return
        if result.modules.get("gpt2") not in ("installed", "upgraded") and not policy.empty:
            inference_policy.set_policy(agent, result.ids["gpt2"], policy)
        usage = inference_policy.read_usage(agent, result.ids["gpt2"])
        running = inference_policy.policy_of(usage)
        self.log(f"  gpt2: inference {running.access}, {running.window_instructions / 1e9:,.0f}B instructions per "
                 f"{running.window_seconds:,} s window, {running.caller_instructions / 1e9:,.0f}B per caller: "
                 f"{inference_policy.worst_case(running).describe()}")

    def _install_arg(self, name: str, mode: str) -> bytes:
        return inference_policy.arg_for(mode, self.options.policy) if name == "gpt2" else b""

    def _installed_here(self) -> dict[str, list[str]]:
        """canister id -> module hashes this checkout installed there (.state/app/<net>/modules.json)."""
        try:
            return json.loads((self.work / "modules.json").read_text())
        except (OSError, ValueError):
            return {}

    def _record_installed(self, cid: Principal, sha256: str) -> None:
        installed = self._installed_here()
        installed.setdefault(str(cid), []).append(sha256)
        self._write_record("modules.json", installed)

    def _write_record(self, name: str, record: dict[str, Any]) -> None:
        self.work.mkdir(parents=True, exist_ok=True)
        (self.work / name).write_text(json.dumps(record, indent=2) + "\n")

    def _model(self, agent: Agent | None, result: AppResult, bundle: Path, gpt2: Principal | None) -> str:
        """Upload the served bundle; its manifest's SHA-256 (the page checks the canister certifies it)."""
        folder = self.work / "model"
        manifest_sha256 = prepare_model_folder(bundle, self.options.onchain_dtype, folder)
        self._sync(agent, result, "gpt2", folder, MODEL_PREFIX)
        return manifest_sha256

    def _sync(self, agent: Agent | None, result: AppResult, name: str, folder: Path, prefix: str) -> None:
        from icchat.deploy import TerminalProgress, sync_folder
        from icchat.deploy.scan import scan_folder
        from icchat.deploy.sync import CHUNK_BYTES
        from icchat.stack import costs

        cid = result.ids[name]
        if agent is None:
            assets = scan_folder(folder, prefix)
            total = sum(a.encodings["identity"].length for a in assets if "identity" in a.encodings)
            chunks = sum(-(-a.encodings["identity"].length // CHUNK_BYTES) for a in assets if "identity" in a.encodings)
            self._plan(result, f"{name} {cid or '<new>'}: list; get_asset_properties; create_batch; "
                               f"create_chunk(s) for up to {len(assets)} files, {total:,} bytes "
                               f"(<= {chunks} chunks of <= {CHUNK_BYTES:,} bytes; text files also get a gzip "
                               f"encoding; only what differs is sent); commit_batch")
            if self.network.mainnet:
                self._plan(result, f"    at most {costs.describe(costs.upload_cycles(total, chunks))} to upload; "
                                   f"{costs.describe(costs.storage_cycles_per_month(total))} a month to store")
            for asset in assets:
                self._plan(result, f"    {asset.key}  {asset.encodings['identity'].length:,} bytes  "
                                   f"{asset.content_type}" if "identity" in asset.encodings else f"    {asset.key}")
            return
        journal = self.work / "journal" / f"{cid}-{prefix.strip('/').replace('/', '_') or 'root'}.jsonl"
        report = sync_folder(agent, cid, folder, prefix=prefix, journal=journal,
                             progress=TerminalProgress(sys.stderr))
        self.log(f"  {report.summary()}")

    def _plan(self, result: AppResult, line: str) -> None:
        result.calls.append(line)
        self.log(f"  [dry run] {line}")
