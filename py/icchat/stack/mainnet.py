"""`icchat deploy --app`: the whole app on a network — mainnet (`ic`) or any replica URL.

    plan = AppDeploy(AppOptions(network="ic", identity=Path("id.pem"))).run()

Steps, each reusing icchat.stack's parts (the same ones `icchat up` runs locally):

  1. build (hash-checked) — the modules with candid:service metadata (build/canisters/*.ic.wasm.gz)
  2. canisters — the ids in canister_ids.json (dfx's format). On `ic` they must exist: creating a
     canister there costs cycles through the cycles ledger, so it is `dfx canister create --all
     --network ic` (or `icp canister create -e ic`); on a replica URL missing ones are created with
     provisional_create_canister_with_cycles and recorded.
  3. modules — install into an empty canister, upgrade one that runs ours (its public
     `icchat:canister` metadata), leave a foreign frontend module (dfx's asset canister) in place;
     chunked when the module does not fit one message. The gpt2 canister's install argument is its
     inference policy (who may call, the instruction budget per window: the worst case the owner
     pays); then each canister's settings (freezing threshold, Wasm memory limit).
  4. model — the served part of the bundle to the gpt2 canister under /model/ (one batch, resumable)
  5. page — build/web + config.json for this network + its .ic-assets.json5 (CSP naming the model
     and API hosts) to the frontend canister (one batch, resumable)

Mainnet's root key is built in (never fetched); a replica URL's is fetched. `dry_run` prints every
step, call and byte count and opens no connection at all.
"""

from __future__ import annotations

import json
import re
import sys
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from icchat.errors import UserError
from icchat.ic.principal import Principal
from icchat.paths import BUILD, REPO
from icchat.stack import canister_ids, canister_settings, inference_policy
from icchat.stack.inference_policy import InferencePolicy
from icchat.stack.install import InstallPlan

MAINNET_API = "https://icp-api.io"
MAINNET_GATEWAY_DOMAIN = "icp0.io"
LOCAL_URL = "http://127.0.0.1:4943"
CANISTERS = {"gpt2": "gpt2", "frontend": "assets"}  # name -> module kind (icchat:canister)
IC_SITE = BUILD / "ic" / "web"  # what dfx.json / icp.yaml upload to the frontend canister


@dataclass(frozen=True)
class Network:
    """Where the app goes: its API URL, how its root key is trusted, and its gateway URLs."""
    key: str  # the network's name in canister_ids.json: "ic", "local" or the URL
    url: str
    mainnet: bool

    @classmethod
    def parse(cls, spec: str) -> Network:
        from icchat.ic.agent import is_mainnet

        if spec == "ic":
            return cls("ic", MAINNET_API, True)
        if spec == "local":
            return cls("local", LOCAL_URL, False)
        if re.match(r"^https?://[^/]+/?$", spec):
            url = spec.rstrip("/")
            return cls("ic" if is_mainnet(url) else url, url, is_mainnet(url))
        raise UserError(f"--network must be ic, local or an http(s)://host[:port] URL, not {spec!r}")

    def gateway(self, canister: Principal | str) -> str:
        """https://<id>.icp0.io on mainnet; scheme://<id>.<host>[:port] on a replica (our
        replica's gateway answers <id>.localhost for 127.0.0.1)."""
        if self.mainnet:
            return f"https://{canister}.{MAINNET_GATEWAY_DOMAIN}"
        parts = urllib.parse.urlsplit(self.url)
        host = parts.hostname or ""
        host = "localhost" if host in ("127.0.0.1", "::1", "localhost") else host
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{canister}.{host}{port}"

    def page_config(self, gpt2: Principal | str, model: dict[str, Any]) -> dict[str, Any]:
        """config.json for the page (the fields `icchat up` writes; network, hosts and canister are
        fallbacks: web/network.mjs derives them from the page's URL). `model`: label, meaningful,
        and optionally manifest_sha256 and onchain_dtype."""
        from icchat.stack.deploy_steps import page_prices

        config = {"model_base": f"{self.gateway(gpt2)}/model/", "network": "ic" if self.mainnet else "local",
                  "api_host": self.url, "gpt2_canister": str(gpt2), "model_label": model.get("label", ""),
                  "model_meaningful": bool(model.get("meaningful", False))}
        config.update({k: model[k] for k in ("manifest_sha256", "onchain_dtype") if model.get(k)})
        if model.get("notice"):
            config["model_notice"] = model["notice"]
        config["ic_prices"] = page_prices()
        return config


def site_ic_assets(network: Network, gpt2: Principal | str | None) -> str:
    """The page's .ic-assets.json5 for `network`: the CSP names the gpt2 canister's origin (every
    canister's on mainnet while its id is unknown) and the API host."""
    from icchat.build.web import render_ic_assets

    model_origin = network.gateway(gpt2) if gpt2 else f"https://*.{MAINNET_GATEWAY_DOMAIN}"
    return render_ic_assets(model_origin, network.url)


def prepare_site(folder: Path, network: Network, gpt2: Principal | str | None, model: dict[str, Any]) -> Path:
    """`folder` = build/web (hard links) + config.json and .ic-assets.json5 for `network`."""
    from icchat.build.web import WEB_OUT
    from icchat.stack.deploy_steps import _link_tree, _write_new

    files = {str(p.relative_to(WEB_OUT)): p for p in WEB_OUT.rglob("*")
             if p.is_file() and p.name not in ("config.json", ".ic-assets.json5")}
    _link_tree(files, folder)
    if gpt2 is not None:
        _write_new(folder / "config.json", json.dumps(network.page_config(gpt2, model), indent=2) + "\n")
    _write_new(folder / ".ic-assets.json5", site_ic_assets(network, gpt2))
    return folder


def build_ic_site() -> Path:
    """build/ic/web: the page as dfx.json and icp.yaml upload it to mainnet (an `icchat build`
    step). config.json is written once canister_ids.json (or icp-cli's mapping) knows the gpt2
    canister; until then the page derives everything it can from its URL."""
    network = Network.parse("ic")
    gpt2 = canister_ids.lookup(canister_ids.CANISTER_IDS, "gpt2", "ic")
    return prepare_site(IC_SITE, network, gpt2, {"label": "GPT-2 (124M)", "meaningful": True})


@dataclass
class AppOptions:
    network: str = "ic"
    identity: Path | None = None      # a dfx/icp PEM; required on mainnet
    model: str = "gpt2"               # gpt2, tiny, small or a bundle directory
    onchain_dtype: str = "q8"
    policy: InferencePolicy = field(default_factory=InferencePolicy)  # the gpt2 canister's (at upgrade: only what it names)
    canister_ids: Path = canister_ids.CANISTER_IDS
    state_dir: Path = REPO / ".state"
    dry_run: bool = False
    log: Callable[[str], None] = print


@dataclass
class AppResult:
    network: Network
    ids: dict[str, Principal | None]
    modules: dict[str, str] = field(default_factory=dict)  # name -> installed/upgraded/unchanged/kept
    calls: list[str] = field(default_factory=list)         # the dry run's call list

    @property
    def page_url(self) -> str:
        frontend = self.ids.get("frontend")
        return f"{self.network.gateway(frontend)}/" if frontend else ""


class AppDeploy:
    def __init__(self, options: AppOptions) -> None:
        self.options = options
        self.network = Network.parse(options.network)
        self.log = options.log
        self.work = options.state_dir / "app" / re.sub(r"[^A-Za-z0-9]+", "_", self.network.key).strip("_")

    # --- the steps ----------------------------------------------------------------------------

    def run(self) -> AppResult:
        from icchat.cli.build import build_all
        from icchat.stack.models import choose_model

        options, network = self.options, self.network
        if network.mainnet and options.identity is None:
            raise UserError("--network ic needs --identity PEM (the controller of the canisters in "
                            "canister_ids.json, e.g. ~/.config/dfx/identity/<name>/identity.pem)")
        self.log(f"{'dry run: ' if options.dry_run else ''}deploying icchat to {network.key} ({network.url})")
        self.log("1. build")
        build_all(verbose=False)
        if options.dry_run and options.model == "gpt2" and not (BUILD / "models" / "gpt2" / "manifest.json").is_file():
            raise UserError("the gpt2 bundle is not exported yet (that needs the Hugging Face hub, and a dry "
                            "run opens no connection): run `icchat model export` first, or pass --app-model tiny")
        model = choose_model(options.model, self.log)
        ids = {name: canister_ids.lookup(options.canister_ids, name, network.key) for name in CANISTERS}
        missing = [name for name, cid in ids.items() if cid is None]
        if missing and network.mainnet:
            raise UserError(f"{options.canister_ids} has no {network.key} id for {', '.join(missing)}: create "
                            f"them first (it costs cycles) with `dfx canister create --all --network ic` "
                            f"or `icp canister create <name> -e ic`, or write their ids there")
        result = AppResult(network, dict(ids))
        identity = self._identity()
        self.log(f"  signing as {identity.principal}")
        agent = None if options.dry_run else self._agent(identity)
        self.log("2. canisters")
        for name in CANISTERS:
            if ids[name] is not None:
                self.log(f"  {name}: {ids[name]} (from {options.canister_ids.name})")
            elif agent is None:
                self._plan(result, f"{name}: provisional_create_canister_with_cycles, then record it in "
                                   f"{options.canister_ids}")
            else:
                from icchat.ic import management

                cid = management.create_canister(agent, controllers=[agent.identity.principal])
                canister_ids.record(options.canister_ids, name, network.key, cid)
                result.ids[name] = ids[name] = cid
                self.log(f"  {name}: created {cid}, recorded in {options.canister_ids}")
        self.log("3. modules and settings")
        for name, kind in CANISTERS.items():
            self._module(agent, result, name, kind)
            self._settings(agent, result, name)
        self._policy(agent, result)
        gpt2 = result.ids["gpt2"]
        self.log(f"4. model: {model.label} -> gpt2 /model/")
        manifest_sha256 = self._model(agent, result, model.path, gpt2)
        model_info = {"label": model.label, "meaningful": model.meaningful, "notice": model.notice,
                      "manifest_sha256": manifest_sha256,
                      "onchain_dtype": options.onchain_dtype}
        self.log("5. page -> frontend /")
        site = prepare_site(self.work / "site", network, gpt2 or "<gpt2 id>", model_info)
        self._sync(agent, result, "frontend", site, "/")
        if result.page_url:
            self.log(f"\nicchat on {network.key}: {result.page_url}")
        return result

    def _identity(self) -> Any:
        """The PEM's identity; on a replica URL without one, this checkout's local key."""
        from icchat.ic.identity import IdentityError, load_or_create, load_pem

        try:
            return (load_pem(self.options.identity) if self.options.identity
                    else load_or_create(self.options.state_dir / "identity.pem"))
        except (IdentityError, OSError) as exc:
            raise UserError(f"--identity {self.options.identity}: {exc}") from None

    def _agent(self, identity: Any = None) -> Any:
        from icchat.ic.agent import Agent

        agent = Agent(self.network.url, identity or self._identity())  # mainnet: the built-in root key
        if not self.network.mainnet:
            agent.fetch_root_key()  # a replica's own key; never done for mainnet hosts
        return agent

    def _module(self, agent: Any, result: AppResult, name: str, kind: str) -> None:
        import hashlib

        from icchat.build.metadata import ic_module_path
        from icchat.stack import canisters, install

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
        current = canisters.module_sha256(agent, cid)
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

    def _settings(self, agent: Any, result: AppResult, name: str) -> None:
        cid = result.ids[name]
        if agent is None:
            self._plan(result, f"{name} {cid or f'<new {name}>'}: {canister_settings.describe(name)}")
            return
        changed = canister_settings.ensure(agent, name, cid)
        self.log(f"  {name}: {canister_settings.describe(name)}{'' if changed else ' (already)'}")

    def _policy(self, agent: Any, result: AppResult) -> None:
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
        self.work.mkdir(parents=True, exist_ok=True)
        (self.work / "modules.json").write_text(json.dumps(installed, indent=2) + "\n")

    def _model(self, agent: Any, result: AppResult, bundle: Path, gpt2: Principal | None) -> str:
        """Upload the served bundle; its manifest's SHA-256 (the page checks the canister certifies it)."""
        from icchat.stack.deploy_steps import MODEL_PREFIX, prepare_model_folder

        folder = self.work / "model"
        manifest_sha256 = prepare_model_folder(bundle, self.options.onchain_dtype, folder)
        self._sync(agent, result, "gpt2", folder, MODEL_PREFIX)
        return manifest_sha256

    def _sync(self, agent: Any, result: AppResult, name: str, folder: Path, prefix: str) -> None:
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
