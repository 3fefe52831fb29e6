"""dfx.json and icp.yaml: valid against the schema subset, every path they name exists after
`icchat build`, and the module they install carries candid:service = canister/gpt2.did."""

from __future__ import annotations

import gzip
import json
import re

import pytest
import yaml
from schema_subset import check_dfx, check_icp

from icchat.build.metadata import custom_sections, ic_module_path, public_metadata
from icchat.paths import BUILD, CANISTER_SRC, REPO

DFX = json.loads((REPO / "dfx.json").read_text())
ICP = yaml.safe_load((REPO / "icp.yaml").read_text())
REPO_PATH = re.compile(r"(?<![\w$/-])((?:build|canister|\.venv)/[\w./-]+)")


@pytest.fixture(scope="module", autouse=True)
def built():
    from icchat.build.pipeline import build_all

    build_all(log=None)


def test_dfx_json_matches_the_schema():
    assert check_dfx(DFX) == []
    assert set(DFX["canisters"]) == {"gpt2", "frontend", "llm_route"}
    assert DFX["canisters"]["frontend"]["type"] == "assets"
    assert DFX["canisters"]["gpt2"]["type"] == DFX["canisters"]["llm_route"]["type"] == "custom"


def test_icp_yaml_matches_the_schema():
    assert check_icp(ICP) == []
    assert [c["name"] for c in ICP["canisters"]] == ["gpt2", "frontend", "llm_route"]


def test_the_checker_catches_what_the_schemas_forbid():
    bad_dfx = {"canisters": {"gpt2": {"type": "custom", "candid": "x.did"},
                             "web": {"type": "assets", "source": "dist", "colour": 1}}}
    errors = check_dfx(bad_dfx)
    assert "canisters.gpt2: missing 'wasm'" in errors
    assert "canisters.web: unknown field 'colour'" in errors
    assert "canisters.web.source: expected a list of strings" in errors
    bad_icp = {"canisters": [{"name": "a", "build": {"steps": [{"type": "pre-built"}]},
                              "sync": {"steps": [{"type": "assets", "dir": "www"}]}},
                             {"name": "b", "recipe": {"type": "@dfinity/asset-canister"}}]}
    errors = check_icp(bad_icp)
    assert any("needs exactly one of" in e for e in errors)
    assert any("type 'assets' is not one of" in e for e in errors)  # retired in icp-cli 0.3
    assert any("explicit @v" in e for e in errors)


def _named_paths() -> set[str]:
    gpt2, frontend = DFX["canisters"]["gpt2"], DFX["canisters"]["frontend"]
    paths = {gpt2["candid"], gpt2["wasm"], *frontend["source"]}
    text = json.dumps(DFX["canisters"]) + json.dumps(ICP)
    paths |= {p.rstrip(".") for p in REPO_PATH.findall(text)}
    for canister in ICP["canisters"]:
        for step in canister.get("build", {}).get("steps", []):
            paths |= {step["path"]} if "path" in step else set()
        if "recipe" in canister:
            paths.add(canister["recipe"]["configuration"]["dir"])
    return {p for p in paths if "models/" not in p}  # model bundles are exported, not built


def test_every_named_path_exists_after_build():
    paths = _named_paths()
    assert {"canister/gpt2.did", "build/canisters/gpt2.ic.wasm.gz", "build/ic/web", "canister/llm.did",
            "build/canisters/llm.ic.wasm.gz"} <= paths
    missing = sorted(p for p in paths if not (REPO / p).exists())
    assert missing == []


def test_both_files_describe_the_same_canisters():
    for index, name in ((0, "gpt2"), (2, "llm_route")):
        copied = " ".join(ICP["canisters"][index]["build"]["steps"][-1]["commands"])
        assert DFX["canisters"][name]["wasm"] in copied
    assert DFX["canisters"]["frontend"]["source"] == [ICP["canisters"][1]["recipe"]["configuration"]["dir"]]


def test_both_files_set_the_settings_the_app_deploy_sets():
    """dfx applies initialization_values when it creates a canister, icp-cli its settings; both must
    be what `icchat deploy --app` sets (freezing threshold, Wasm memory limit)."""
    from icchat.stack.canister_settings import SETTINGS

    days, gib = 86_400, 1 << 30
    units = {"days": days, "d": days, "GiB": gib, "gib": gib}

    def value(text: str) -> int:
        number, unit = re.fullmatch(r"(\d+)\s*([A-Za-z]+)", str(text)).groups()
        return int(number) * units[unit]

    icp = {c["name"]: c.get("settings", {}) for c in ICP["canisters"]}
    for name, want in SETTINGS.items():
        dfx = DFX["canisters"][name]["initialization_values"]
        assert {k: value(v) for k, v in dfx.items()} == want
        assert {k: value(v) for k, v in icp[name].items()} == want


def test_the_module_carries_candid_service_as_dfx_embeds_it():
    module = (REPO / DFX["canisters"]["gpt2"]["wasm"]).read_bytes()
    assert module[:3] == b"\x1f\x8b\x08"  # gzip: the IC inflates it
    sections = custom_sections(module)
    assert sections["icp:public candid:service"] == (REPO / DFX["canisters"]["gpt2"]["candid"]).read_bytes()
    assert public_metadata(module)["icchat:canister"] == b"gpt2"
    assert public_metadata(ic_module_path("assets").read_bytes())["candid:service"] == \
        (CANISTER_SRC / "assets.did").read_bytes()


def test_the_module_is_the_built_canister_plus_metadata():
    # ic-wasm re-encodes the module (walrus), so compare what the IC sees: imports and exports
    import wasmtime

    engine = wasmtime.Engine()
    raw = wasmtime.Module(engine, (BUILD / "canisters" / "gpt2.wasm").read_bytes())
    ic = wasmtime.Module(engine, gzip.decompress(ic_module_path("gpt2").read_bytes()))
    assert [e.name for e in ic.exports] == [e.name for e in raw.exports]
    assert [(i.module, i.name) for i in ic.imports] == [(i.module, i.name) for i in raw.imports]
    assert any(e.name.startswith("canister_query ") for e in ic.exports)


def test_the_mainnet_page_has_mainnet_config_and_csp():
    from icchat.build.web import ic_assets_headers

    site = REPO / DFX["canisters"]["frontend"]["source"][0]
    rules = (site / ".ic-assets.json5").read_text()
    csp = ic_assets_headers(rules, "index.html")["Content-Security-Policy"]
    connect = next(d for d in csp.split("; ") if d.startswith("connect-src"))
    assert "https://icp-api.io" in connect.split()
    assert any(s.endswith(".icp0.io") and s.startswith("https://") for s in connect.split())
    assert ic_assets_headers(rules, "index.html")["Cross-Origin-Embedder-Policy"] == "require-corp"
    assert (site / "index.html").read_bytes() == (BUILD / "web" / "index.html").read_bytes()
