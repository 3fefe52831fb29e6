"""`icchat deploy --app` end to end on a real replica over HTTP with a PEM identity: the code path of
`--network ic` (only the URL and the root key's source differ), and its dry run and refusals."""

from __future__ import annotations

import hashlib
import json
import socket

import pytest
from support.gateway import gateway_get

from icchat.build.metadata import ic_module_path
from icchat.deploy import canister_ids
from icchat.errors import UserError
from icchat.ic import management
from icchat.ic.agent import Agent
from icchat.ic.identity import load_pem
from icchat.ic.principal import Principal
from icchat.stack import install
from icchat.stack.app import AppDeploy, AppOptions


def fetch(port: int, cid: Principal, path: str) -> tuple[int, dict[str, str], bytes]:
    return gateway_get(port, f"{cid}.localhost", path, timeout=120)


def agent_for(server, pem) -> Agent:
    agent = Agent(server.url, load_pem(pem))
    agent.fetch_root_key()
    return agent


@pytest.fixture(scope="module")
def deployed(server, pem, tmp_path_factory):
    root = tmp_path_factory.mktemp("app")
    lines: list[str] = []
    options = AppOptions(network=server.url, identity=pem, model="tiny", canister_ids=root / "canister_ids.json",
                         state_dir=root / "state", log=lines.append)
    result = AppDeploy(options).run()
    return options, result, lines


def test_creates_records_and_installs_both_canisters(server, pem, deployed):
    options, result, _ = deployed
    ids = json.loads(options.canister_ids.read_text())
    assert ids == {name: {server.url: str(result.ids[name])} for name in ("gpt2", "frontend")}
    agent = agent_for(server, pem)
    for name, kind in (("gpt2", "gpt2"), ("frontend", "assets")):
        status = management.canister_status(agent, result.ids[name])
        assert status["module_hash"] == hashlib.sha256(ic_module_path(kind).read_bytes()).digest()
        assert agent.identity.principal in status["settings"]["controllers"]
    assert result.modules == {"gpt2": "installed", "frontend": "installed"}


def test_the_page_and_the_model_are_served_for_that_network(server, deployed):
    _, result, _ = deployed
    gpt2, frontend, port = result.ids["gpt2"], result.ids["frontend"], server.port
    status, _, body = fetch(port, frontend, "/config.json")
    assert status == 200
    config = json.loads(body)
    assert config["model_base"] == f"http://{gpt2}.localhost:{port}/model/"
    assert config["api_host"] == server.url and config["gpt2_canister"] == str(gpt2)
    status, _, manifest = fetch(port, gpt2, "/model/manifest.json")
    assert config["manifest_sha256"] == hashlib.sha256(manifest).hexdigest()
    assert config["ic_prices"]["cycles_per_instruction"] == 1 and config["onchain_dtype"] == "q8"
    status, headers, _ = fetch(port, frontend, "/index.html")
    assert status == 200
    connect = next(d for d in headers["content-security-policy"].split("; ") if d.startswith("connect-src"))
    assert f"http://{gpt2}.localhost:{port}" in connect.split() and server.url in connect.split()
    status, headers, body = fetch(port, gpt2, "/model/manifest.json")
    assert status == 200 and headers["access-control-allow-origin"] == "*"
    served = json.loads(body)
    assert {e["role"] for e in served["files"]} >= {"canister-weights", "onnx-decoder"}
    for entry in sorted(served["files"], key=lambda e: e["size"])[:4]:  # the small ones, byte for byte
        status, _, data = fetch(port, gpt2, "/model/" + entry["path"])
        assert status == 200 and hashlib.sha256(data).hexdigest() == entry["sha256"], entry["path"]
    assert result.page_url == f"http://{frontend}.localhost:{port}/"


def test_settings_and_the_inference_policy_are_set_and_said(server, pem, deployed):
    """The owner's worst case is written down by the deploy: every policy field at install, a
    freezing threshold and a memory limit on both canisters, and the bound in the log."""
    from icchat.stack import canister_settings, inference_policy

    _, result, lines = deployed
    agent = agent_for(server, pem)
    for name in ("gpt2", "frontend"):
        settings = management.canister_status(agent, result.ids[name])["settings"]
        for key, value in canister_settings.SETTINGS[name].items():
            assert settings[key] == value, (name, key)
    usage = inference_policy.read_usage(agent, result.ids["gpt2"])
    assert inference_policy.policy_of(usage) == inference_policy.DEFAULTS
    assert any("gpt2: inference open" in line and "a day on onchain inference" in line for line in lines), lines


def test_a_policy_given_to_a_running_canister_changes_only_what_it_names(server, pem, deployed, capsys):
    from icchat.cli import main
    from icchat.stack import inference_policy

    options, result, _ = deployed
    agent = agent_for(server, pem)
    gpt2 = result.ids["gpt2"]
    change = inference_policy.InferencePolicy(access="allow_list", window_instructions=123 * 10**9)
    again = AppDeploy(AppOptions(**{**options.__dict__, "policy": change, "log": lambda _: None})).run()
    assert again.modules["gpt2"] == "unchanged"
    running = inference_policy.policy_of(inference_policy.read_usage(agent, gpt2))
    assert running == change.over(inference_policy.DEFAULTS)
    common = ["--network", server.url, "--canister", str(gpt2), "--identity", str(pem)]
    assert main(["onchain", "policy", "--access", "open", "--budget", "1T", *common]) == 0
    out = capsys.readouterr().out
    assert "access         open" in out and "of 1,000.0B instructions" in out
    assert inference_policy.policy_of(inference_policy.read_usage(agent, gpt2)) == inference_policy.DEFAULTS


def test_strangers_cannot_change_the_policy(server, secp_pem, deployed, capsys):
    from icchat.cli import main

    _, result, _ = deployed
    common = ["--network", server.url, "--canister", str(result.ids["gpt2"]), "--identity", str(secp_pem)]
    assert main(["onchain", "usage", *common]) == 0  # anyone may read the bound
    assert "worst case" in capsys.readouterr().out
    assert main(["onchain", "policy", "--access", "open", *common]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("icchat: error: ") and "controllers" in err and len(err.splitlines()) == 1


def test_a_second_run_changes_nothing(deployed):
    options, result, _ = deployed
    lines: list[str] = []
    again = AppDeploy(AppOptions(**{**options.__dict__, "log": lines.append})).run()
    assert again.ids == result.ids
    assert again.modules == {"gpt2": "unchanged", "frontend": "unchanged"}
    assert sum("all up to date" in line for line in lines) == 2, lines


def test_an_upgrade_of_ours_after_a_rebuild(server, pem, deployed, tmp_path):
    """A canister that runs a module this checkout installed is upgraded to the new build (the
    local replica does not certify metadata, so the record in the state dir says it is ours)."""
    options, result, _ = deployed
    agent = agent_for(server, pem)
    older = ic_module_path("assets").read_bytes()
    ids = tmp_path / "canister_ids.json"
    cid = management.create_canister(agent, controllers=[agent.identity.principal])
    canister_ids.record(ids, "gpt2", server.url, cid)
    canister_ids.record(ids, "frontend", server.url, result.ids["frontend"])
    run = AppOptions(**{**options.__dict__, "canister_ids": ids, "log": lambda _: None})
    deploy = AppDeploy(run)
    install.install(agent, cid, older, "install")
    deploy._record_installed(cid, hashlib.sha256(older).hexdigest())  # as an earlier run would have
    again = deploy.run()
    assert again.modules["gpt2"] == "upgraded"
    assert management.canister_status(agent, cid)["module_hash"] == \
        hashlib.sha256(ic_module_path("gpt2").read_bytes()).digest()


def test_chunked_install_of_a_module_over_the_message_limit(server, pem):
    agent = agent_for(server, pem)
    cid = management.create_canister(agent, controllers=[agent.identity.principal])
    module = ic_module_path("gpt2").read_bytes()
    plan = install.install(agent, cid, module, "install", single_limit=len(module) // 3)
    assert plan.chunked and sum(plan.chunk_sizes) == len(module)
    assert management.canister_status(agent, cid)["module_hash"] == hashlib.sha256(module).digest()


def test_refuses_to_replace_a_module_that_is_not_ours(server, secp_pem, tmp_path):
    agent = agent_for(server, secp_pem)  # a secp256k1 PEM, as dfx writes with --storage plaintext
    foreign = management.create_canister(agent, controllers=[agent.identity.principal])
    management.install_code(agent, foreign, ic_module_path("assets").read_bytes())  # not a gpt2 module
    ids = tmp_path / "canister_ids.json"
    canister_ids.record(ids, "gpt2", server.url, foreign)
    options = AppOptions(network=server.url, identity=secp_pem, model="tiny", canister_ids=ids,
                         state_dir=tmp_path / "state", log=lambda _: None)
    with pytest.raises(UserError, match="refusing to replace it"):
        AppDeploy(options).run()
    assert management.canister_status(agent, foreign)["module_hash"] == \
        hashlib.sha256(ic_module_path("assets").read_bytes()).digest()


@pytest.fixture
def offline(monkeypatch):
    """Any attempt to open a connection fails the test."""
    def refuse(self, address):
        raise AssertionError(f"a dry run connected to {address}")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)


def test_dry_run_prints_every_step_and_sends_nothing(server, pem, tmp_path, offline):
    lines: list[str] = []
    ids = tmp_path / "canister_ids.json"
    result = AppDeploy(AppOptions(network=server.url, identity=pem, model="tiny", canister_ids=ids,
                                  state_dir=tmp_path / "state", dry_run=True, log=lines.append)).run()
    text = "\n".join(result.calls)
    assert text.count("provisional_create_canister_with_cycles") == 2
    assert f"install_code (mode install (empty) | upgrade (runs ours), {len(ic_module_path('gpt2').read_bytes()):,} bytes)" in text
    assert "/model/manifest.json" in text and "/index.html" in text and "commit_batch" in text
    assert text.count("freezing_threshold 90 days, wasm_memory_limit") == 2
    assert "inference policy as install argument" in text and "a day on onchain inference" in text
    assert not ids.exists()


def test_mainnet_needs_existing_ids_and_an_identity(pem, tmp_path, offline):
    options = AppOptions(network="ic", identity=pem, model="tiny", canister_ids=tmp_path / "canister_ids.json",
                         state_dir=tmp_path / "state", log=lambda _: None)
    with pytest.raises(UserError, match=r"dfx canister create --all --network ic"):
        AppDeploy(options).run()
    with pytest.raises(UserError, match="needs --identity"):
        AppDeploy(AppOptions(**{**options.__dict__, "identity": None})).run()
    options.canister_ids.write_text(json.dumps({"gpt2": {"ic": "ryjl3-tyaaa-aaaaa-aaaba-cai"},
                                                "frontend": {"ic": "r7inp-6aaaa-aaaaa-aaabq-cai"}}))
    with pytest.raises(UserError, match=r"--identity .*missing\.pem"):
        AppDeploy(AppOptions(**{**options.__dict__, "identity": tmp_path / "missing.pem", "dry_run": True})).run()


def test_mainnet_dry_run_uses_the_recorded_ids(pem, tmp_path, offline):
    ids = tmp_path / "canister_ids.json"
    ids.write_text(json.dumps({"gpt2": {"ic": "ryjl3-tyaaa-aaaaa-aaaba-cai"},
                               "frontend": {"ic": "r7inp-6aaaa-aaaaa-aaabq-cai"}}))
    result = AppDeploy(AppOptions(network="ic", identity=pem, model="tiny", canister_ids=ids, dry_run=True,
                                  state_dir=tmp_path / "state", log=lambda _: None)).run()
    assert result.page_url == "https://r7inp-6aaaa-aaaaa-aaabq-cai.icp0.io/"
    assert sum("T cycles" in line and "a month to store" in line for line in result.calls) == 2
    site = tmp_path / "state" / "app" / "ic" / "site"
    config = json.loads((site / "config.json").read_text())
    assert config["model_base"] == "https://ryjl3-tyaaa-aaaaa-aaaba-cai.icp0.io/model/"
    assert config["api_host"] == "https://icp-api.io" and config["network"] == "ic"


def test_cli(server, pem, tmp_path, capsys):
    from icchat.cli import main

    ids = tmp_path / "canister_ids.json"
    argv = ["deploy", "--app", "--network", server.url, "--identity", str(pem), "--app-model", "tiny",
            "--canister-ids", str(ids)]
    assert main([*argv, "--dry-run"]) == 0
    assert "[dry run]" in capsys.readouterr().out and not ids.exists()
    assert main(["deploy", "--app", "some/dir"]) != 0
    assert "takes no DIR" in capsys.readouterr().err


def test_cost_estimates_follow_the_published_table():
    from icchat.ic import prices
    from icchat.stack import costs

    # one 1.9 MB chunk: 1.2 M + 5 M per message, 2,000 per byte received, 143 M instructions
    assert costs.upload_cycles(1_900_000, 1) == 1_200_000 + 5_000_000 + 2_000 * 1_900_000 + 143_000_000
    # a GiB for 30 days: 127,000 cycles per GiB-second
    assert costs.storage_cycles_per_month(2**30) == 127_000 * 30 * 86_400
    assert abs(prices.usd(10**12) - 1.354820) < 1e-9


def test_mainnet_agent_trusts_the_built_in_root_key_only(pem, tmp_path, offline):
    from icchat.ic.agent import IC_ROOT_KEY

    deploy = AppDeploy(AppOptions(network="ic", identity=pem, state_dir=tmp_path / "state"))
    agent = deploy._agent()  # no connection: the key is not fetched
    assert agent.url == "https://icp-api.io" and agent.root_key == IC_ROOT_KEY
    assert agent.identity.principal == load_pem(pem).principal
    from icchat.ic.agent import AgentError

    with pytest.raises(AgentError, match="refusing to fetch the root key from mainnet"):
        agent.fetch_root_key()


def _project_copy(tmp_path):
    """A directory that looks like the project root to a build or sync script (the repo's .venv
    and build/ linked in), so what the scripts write stays out of the repository."""
    from icchat.paths import REPO

    root = tmp_path / "project"
    root.mkdir()
    for name in (".venv", "build", "canister"):
        (root / name).symlink_to(REPO / name)
    return root


def test_icp_yaml_sync_step_uploads_the_model(server, pem, deployed, tmp_path):
    """icp.yaml's gpt2 sync script, run as icp-cli runs it (its variables set, project root as cwd)."""
    import os
    import subprocess

    import yaml

    from icchat.paths import REPO

    _, result, _ = deployed
    config = yaml.safe_load((REPO / "icp.yaml").read_text())
    (command,) = config["canisters"][0]["sync"]["steps"][0]["commands"]
    env = {**os.environ, "ICP_CLI_CID": str(result.ids["gpt2"]), "ICP_CLI_NETWORK": server.url,
           "ICP_CLI_ENVIRONMENT": "test", "ICCHAT_IDENTITY": str(pem), "ICCHAT_MODEL": "build/models/tiny-s0"}
    done = subprocess.run(["sh", "-c", command], cwd=_project_copy(tmp_path), env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "already up to date" in done.stdout  # the same bundle the app deploy uploaded


def test_icp_yaml_and_dfx_json_build_commands_produce_the_module(tmp_path):
    import os
    import subprocess

    import yaml

    from icchat.paths import REPO

    config = yaml.safe_load((REPO / "icp.yaml").read_text())
    out = tmp_path / "out.wasm"
    env = {**os.environ, "ICP_WASM_OUTPUT_PATH": str(out), "ICP_CLI_ENVIRONMENT": "ic"}
    for command in config["canisters"][0]["build"]["steps"][0]["commands"]:
        done = subprocess.run(["sh", "-c", command], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, (command, done.stderr[-2000:])
    assert out.read_bytes() == ic_module_path("gpt2").read_bytes()
    dfx = json.loads((REPO / "dfx.json").read_text())["canisters"]["gpt2"]
    for command in dfx["build"]:
        assert subprocess.run(["sh", "-c", command], cwd=REPO, capture_output=True, timeout=600).returncode == 0
    assert (REPO / dfx["wasm"]).read_bytes() == out.read_bytes()


def test_icchat_up_is_the_app_deploy_on_the_local_replica(tmp_path):
    """`icchat up` installs the modules mainnet gets, writes the same config.json, records its
    canisters in dfx's format under `local`, and a second run changes nothing."""
    from icchat.stack import serve_process
    from icchat.stack.up import UpOptions, _agent, down, local_canister, status, up

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    lines: list[str] = []
    options = UpOptions(model="tiny", port=port, state_dir=tmp_path / "state", log=lines.append)
    try:
        info = up(options)
        assert "3. modules and settings" in lines and f"icchat is running locally: {info.page_url}" in lines
        agent = _agent(info.replica_url, options.state_dir)  # the stack's controller
        for name, kind in (("gpt2", "gpt2"), ("frontend", "assets"), ("llm", "llm"), ("llm_route", "llm")):
            assert local_canister(options.state_dir, name) == getattr(info, name)
            status_now = management.canister_status(agent, getattr(info, name))
            assert status_now["module_hash"] == hashlib.sha256(ic_module_path(kind).read_bytes()).digest()
        _, _, body = fetch(port, info.frontend, "/config.json")
        config = json.loads(body)
        assert config["model_base"] == info.model_base and config["network"] == "local"
        assert config["api_host"] == info.replica_url and config["ic_prices"]["cycles_per_instruction"] == 1
        assert config["llm_route_canister"] == str(info.llm_route)
        again: list[str] = []
        assert up(UpOptions(**{**options.__dict__, "log": again.append})).gpt2 == info.gpt2
        assert sum("module unchanged" in line for line in again) == 4 and sum("all up to date" in line for line in again) == 2
        said: list[str] = []
        assert status(options.state_dir, said.append).page_url == info.page_url
        assert any(line.startswith("model ") and info.model.label in line for line in said), said
        # the LLM service: `icchat serve` on the deployed bundle, the same child on the second run
        assert info.service is not None and serve_process.running(options.state_dir) == info.service
        assert f"LLM service    {info.service.completions_url} as `{info.service.model}` (pid {info.service.pid})" in said
        # the route: llm -> the service by outcall, llm_route -> llm by call
        assert f"llm            route: endpoint 127.0.0.1:{info.service.port} as {info.service.model}" in said
        assert f"llm_route      route: LLM canister {info.llm} as {info.service.model}" in said
    finally:
        down(options.state_dir, log=lambda _: None)
    assert serve_process.running(options.state_dir) is None

