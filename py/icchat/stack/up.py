"""`icchat up` / `down` / `status`: the whole local stack in one idempotent command.

    up: start the replica (background) -> the app deploy on it (icchat.stack.app: build, canisters,
        modules and settings, model, page: the same steps as on mainnet) -> the LLM service
        (`icchat serve` on the deployed bundle, a child process on a free port:
        icchat.stack.serve_process) -> the route: "llm" (the LLM canister's stand-in) answers by
        outcall to that service, "llm_route" (what the page calls) by calling "llm"
        (icchat.stack.llm_route) -> print the URL
    down: stop the service and the replica

Every step reuses what is already there: the running replica, the canisters recorded in
.state/canister_ids.json (if the replica still has them), the installed module (same hash: no
upgrade), and the files already uploaded (the deploy tool uploads only what changed).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from icchat.deploy import canister_ids
from icchat.deploy.network import LOCAL_PORT, Network
from icchat.ic import management
from icchat.ic.principal import Principal
from icchat.paths import REPO
from icchat.stack import inference_policy, llm_route, replica_process, serve_process
from icchat.stack.app import CANISTERS, STACK_CANISTERS, AppDeploy, AppOptions, deployed_model
from icchat.stack.inference_policy import InferencePolicy
from icchat.stack.models import ModelChoice

STATE_DIR = REPO / ".state"
DEFAULT_PORT = LOCAL_PORT


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
    llm: Principal | None = None  # the LLM canister's stand-in, answering by outcall to `service`
    llm_route: Principal | None = None  # what the page's LLM service position calls (-> llm)
    service: serve_process.ServeProcess | None = None  # `icchat serve` on the deployed bundle

    @property
    def page_url(self) -> str:
        return f"http://{self.frontend}.localhost:{self.port}/"

    @property
    def model_base(self) -> str:
        return f"http://{self.gpt2}.localhost:{self.port}/model/"

    @property
    def port(self) -> int:
        return int(self.replica_url.rsplit(":", 1)[1])


def local_canister_ids(state_dir: Path) -> Path:
    """Where the local stack records its canisters (dfx's format, network `local`). A stack made
    before this file existed kept its ids in .state/local.json: they are carried over once, so an
    upgrade keeps the canisters (and the page's URL) it had."""
    path = state_dir / "canister_ids.json"
    if not path.exists():
        _carry_over_local_json(state_dir / "local.json", path)
    return path


def _carry_over_local_json(old: Path, path: Path) -> None:
    try:
        canisters = json.loads(old.read_text()).get("canisters", {})
    except (OSError, ValueError, AttributeError):
        return
    for name in CANISTERS:
        text = (canisters.get(name) or {}).get("canister_id") if isinstance(canisters, dict) else None
        if isinstance(text, str):
            try:
                canister_ids.record(path, name, "local", Principal.from_text(text))
            except ValueError:
                continue


def local_canister(state_dir: Path, name: str) -> Principal | None:
    """The local stack's canister `name`, as last recorded."""
    return canister_ids.lookup(local_canister_ids(state_dir), name, "local", icp_mappings=None)


def _agent(replica_url: str, state_dir: Path) -> Any:
    """An agent signing as the local controller key (made once: it controls the local canisters)."""
    from icchat.ic.identity import load_or_create

    return Network.parse(replica_url).agent(load_or_create(state_dir / "identity.pem"))


def up(options: UpOptions) -> StackInfo:
    log = options.log
    network = Network.local(options.port)
    deploy = AppDeploy(AppOptions(network=network, model=options.model, onchain_dtype=options.onchain_dtype,
                                  policy=options.policy, llm_stand_in=True,
                                  canister_ids=local_canister_ids(options.state_dir),
                                  icp_mappings=None, state_dir=options.state_dir, log=log))
    model = deploy.build()
    log("starting the local replica (development only; production is mainnet)")
    process = replica_process.start(options.state_dir, options.port)
    log(f"  replica at {process.url} (pid {process.pid}, state in {options.state_dir / 'replica'})")
    result = deploy.deploy(model)
    frontend, gpt2 = result.ids["frontend"], result.ids["gpt2"]
    assert frontend is not None and gpt2 is not None  # a deploy that is not a dry run has both
    log("6. the LLM service: `icchat serve` on the deployed bundle")
    service = serve_process.start(options.state_dir, model.path)
    log(f"  {service.completions_url} as `{service.model}` (pid {service.pid}, log {options.state_dir / 'serve.log'})")
    llm, route = result.ids["llm"], result.ids["llm_route"]
    assert llm is not None and route is not None
    log("7. the route: llm -> the service by outcall, llm_route -> llm by call")
    agent = _agent(process.url, options.state_dir)
    llm_route.set_endpoint(agent, llm, service.completions_url, service.model)
    llm_route.set_llm_canister(agent, route, llm, service.model)
    for name, canister_id in (("llm", llm), ("llm_route", route)):
        log(f"  {name}: {llm_route.describe(llm_route.route_info(agent, canister_id))}")
    info = StackInfo(process.url, frontend, gpt2, model, llm, route, service)
    log("")
    log(f"icchat is running locally: {info.page_url}")
    log(f"  model: {model.label}" + ("" if model.meaningful else " — its text is not meaningful"))
    log("  stop it with `icchat down`; `icchat status` says what runs")
    return info


def down(state_dir: Path = STATE_DIR, log: Callable[[str], None] = print) -> bool:
    service = serve_process.stop(state_dir)
    if service is not None:
        log(f"stopped the LLM service `icchat serve` (pid {service.pid})")
    process = replica_process.stop(state_dir)
    if process is None:
        log("the local replica is not running")
        return False
    log(f"stopped the local replica (pid {process.pid}); its state stays in {state_dir / 'replica'}")
    return True


def status(state_dir: Path = STATE_DIR, log: Callable[[str], None] = print) -> StackInfo | None:
    process = replica_process.running(state_dir)
    ids = {name: local_canister(state_dir, name) for name in STACK_CANISTERS}
    if process is None:
        log("the local replica is not running (start everything with `icchat up`)")
        for name, canister_id in ids.items():
            if canister_id is not None:
                log(f"  {name}: {canister_id} (last deployed)")
        return None
    log(f"local replica  {process.url} (pid {process.pid})")
    service = serve_process.running(state_dir)
    log(f"LLM service    {service.completions_url} as `{service.model}` (pid {service.pid})" if service
        else "LLM service    not running (`icchat up` starts it)")
    frontend, gpt2 = ids["frontend"], ids["gpt2"]
    if frontend is None or gpt2 is None:
        log("canisters      not deployed yet (run `icchat up`)")
        return None
    agent = _agent(process.url, state_dir)
    for name, canister_id in ids.items():
        if canister_id is None:  # a stack deployed before the LLM service's canisters
            continue
        current = management.canister_status(agent, canister_id)
        module_hash = (current.get("module_hash") or b"").hex()
        log(f"{name:<14} {canister_id} {next(iter(current['status']))}, module {module_hash[:12] or 'none'}")
    model = deployed_model(state_dir, Network.local(process.port))
    choice = ModelChoice(Path(model.get("path", "")), model.get("label", "unknown"),
                         bool(model.get("meaningful")), "", model.get("notice", ""))
    for name in ("llm", "llm_route"):
        if ids[name] is not None:
            log(f"{name:<14} route: {llm_route.describe(llm_route.route_info(agent, ids[name]))}")
    info = StackInfo(process.url, frontend, gpt2, choice, ids["llm"], ids["llm_route"], service)
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
