"""`icchat up` / `down` / `status`: the whole local stack in one idempotent command.

    up: build -> start the replica (background) -> create/install the gpt2 and frontend canisters
        -> upload the model bundle to the gpt2 canister -> deploy the page -> print the URL

Every step reuses what is already there: the running replica, the canisters recorded in
.state/local.json (if the replica still has them), the installed module (same hash: no upgrade),
and the files already uploaded (the deploy tool uploads only what changed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from icchat.ic import management
from icchat.ic.principal import Principal
from icchat.paths import REPO
from icchat.stack import canister_settings, canisters, inference_policy, replica_process
from icchat.stack.inference_policy import InferencePolicy
from icchat.stack.models import ModelChoice, choose_model
from icchat.stack.state import DeployedCanister, LocalState

STATE_DIR = REPO / ".state"
DEFAULT_PORT = 4943
CANISTER_NAMES = ("gpt2", "frontend")


@dataclass
class UpOptions:
    model: str | None = None        # None: gpt2 when the hub answers, else the offline fallback
    port: int = DEFAULT_PORT
    onchain_dtype: str = "q8"       # the canister weight file the gpt2 canister runs
    policy: InferencePolicy = field(default_factory=InferencePolicy)  # who may run onchain inference, at what cost (None: as it is)
    state_dir: Path = STATE_DIR
    log: Callable[[str], None] = print


@dataclass
class StackInfo:
    replica_url: str
    frontend: Principal
    gpt2: Principal
    model: ModelChoice

    @property
    def page_url(self) -> str:
        return f"http://{self.frontend}.localhost:{self.port}/"

    @property
    def model_base(self) -> str:
        return f"http://{self.gpt2}.localhost:{self.port}/model/"

    @property
    def port(self) -> int:
        return int(self.replica_url.rsplit(":", 1)[1])


def _agent(replica_url: str, state_dir: Path) -> Any:
    from icchat.ic.agent import Agent
    from icchat.ic.identity import load_or_create

    # the local controller key, made once: it controls the local canisters and uploads to them
    agent = Agent(replica_url, load_or_create(state_dir / "identity.pem"))
    agent.fetch_root_key()  # local replica only: its root key is generated on this machine
    return agent


def _canister(agent: Any, state: LocalState, name: str, controller: Principal,
              log: Callable[[str], None]) -> Principal:
    """The recorded canister if the replica still has it (and we control it), else a new one."""
    from icchat.ic.agent import CanisterReject

    recorded = state.canisters.get(name)
    if recorded is not None:
        canister_id = Principal.from_text(recorded.canister_id)
        try:
            management.canister_status(agent, canister_id)
            return canister_id
        except CanisterReject as reject:
            log(f"  {name}: recorded canister {canister_id} is gone ({reject.message}); creating a new one")
    canister_id = management.create_canister(agent, controllers=[controller])
    state.canisters[name] = DeployedCanister(str(canister_id))
    log(f"  {name}: created canister {canister_id}")
    return canister_id


def install_app_module(agent: Any, name: str, canister_id: Principal, module: bytes, policy: InferencePolicy) -> str:
    """Install or upgrade one of the app's modules; the gpt2 canister gets its inference policy as
    the install argument (all of it at install, what `policy` names at upgrade), or by
    set_inference_policy when its module is already the one we have."""
    if name != "gpt2":
        return canisters.ensure_installed(agent, canister_id, module)
    done = canisters.ensure_installed(agent, canister_id, module, lambda mode: inference_policy.arg_for(mode, policy))
    if done == "unchanged" and not policy.empty:
        inference_policy.set_policy(agent, canister_id, policy)
    return done


def up(options: UpOptions) -> StackInfo:
    from icchat.cli.build import build_all
    from icchat.stack import deploy_steps

    log = options.log
    log("building")
    outputs = build_all()
    model = choose_model(options.model, log)
    log(f"model: {model.label} — {model.note}")
    log("starting the local replica (development only; production is mainnet)")
    process = replica_process.start(options.state_dir, options.port)
    log(f"  replica at {process.url} (pid {process.pid}, state in {options.state_dir / 'replica'})")
    agent = _agent(process.url, options.state_dir)
    state_file = options.state_dir / "local.json"
    state = LocalState.load(state_file)
    ids = {name: _canister(agent, state, name, agent.identity.principal, log) for name in CANISTER_NAMES}
    state.save(state_file)
    modules = deploy_steps.modules(outputs)
    for name in CANISTER_NAMES:
        done = install_app_module(agent, name, ids[name], modules[name], options.policy)
        state.canisters[name].module_sha256 = canisters.module_sha256(agent, ids[name])
        settings = "settings set" if canister_settings.ensure(agent, name, ids[name]) else "settings as they were"
        log(f"  {name}: module {done}, {settings}")
    state.save(state_file)
    usage = inference_policy.read_usage(agent, ids["gpt2"])
    log(f"  gpt2: onchain inference {usage['access']}, "
        f"{inference_policy.worst_case(inference_policy.policy_of(usage)).describe()}")
    info = StackInfo(process.url, ids["frontend"], ids["gpt2"], model)
    log(f"uploading the model to the gpt2 canister {ids['gpt2']}")
    state.model = deploy_steps.deploy_model(agent, info, options, log)
    state.save(state_file)
    log(f"deploying the page to the frontend canister {ids['frontend']}")
    deploy_steps.deploy_page(agent, info, options, log)
    log("")
    log(f"icchat is running locally: {info.page_url}")
    log(f"  model: {model.label}" + ("" if model.meaningful else " — its text is not meaningful"))
    log("  stop it with `icchat down`; `icchat status` says what runs")
    return info


def down(state_dir: Path = STATE_DIR, log: Callable[[str], None] = print) -> bool:
    process = replica_process.stop(state_dir)
    if process is None:
        log("the local replica is not running")
        return False
    log(f"stopped the local replica (pid {process.pid}); its state stays in {state_dir / 'replica'}")
    return True


def status(state_dir: Path = STATE_DIR, log: Callable[[str], None] = print) -> StackInfo | None:
    process = replica_process.running(state_dir)
    state = LocalState.load(state_dir / "local.json")
    if process is None:
        log("the local replica is not running (start everything with `icchat up`)")
        for name, canister in state.canisters.items():
            log(f"  {name}: {canister.canister_id} (last deployed)")
        return None
    log(f"local replica  {process.url} (pid {process.pid})")
    if not all(name in state.canisters for name in CANISTER_NAMES):
        log("canisters      not deployed yet (run `icchat up`)")
        return None
    agent = _agent(process.url, state_dir)
    for name in CANISTER_NAMES:
        canister_id = Principal.from_text(state.canisters[name].canister_id)
        current = management.canister_status(agent, canister_id)
        module_hash = (current.get("module_hash") or b"").hex()
        log(f"{name:<14} {canister_id} {next(iter(current['status']))}, module {module_hash[:12] or 'none'}")
    frontend = Principal.from_text(state.canisters["frontend"].canister_id)
    gpt2 = Principal.from_text(state.canisters["gpt2"].canister_id)
    model = state.model
    choice = ModelChoice(Path(model.get("path", "")), model.get("label", "unknown"),
                         bool(model.get("meaningful")), "")
    info = StackInfo(process.url, frontend, gpt2, choice)
    log(f"model          {choice.label}" + (f" (manifest {model.get('manifest_sha256', '')[:12]})" if model else ""))
    from icchat.ic.agent import AgentError

    try:
        usage = inference_policy.read_usage(agent, gpt2)
        log(f"onchain        {usage['access']}, {usage['window_spent'] / 1e9:,.1f}B of "
            f"{usage['window_instructions'] / 1e9:,.0f}B instructions spent this window "
            f"(`icchat onchain usage` says more)")
    except AgentError as exc:  # an older module without `usage`: say so, the rest of the status stands
        log(f"onchain        policy unknown ({exc})")
    log(f"page           {info.page_url}")
    return info
