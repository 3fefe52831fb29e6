"""A local stack made before .state/canister_ids.json keeps its canisters: the ids recorded in
.state/local.json are carried over once, so `icchat up` after an upgrade reuses them (the page keeps
its URL and the canisters their state)."""

import json

from icchat.ic.principal import Principal
from icchat.stack.up import local_canister


def test_ids_in_the_old_local_json_are_carried_over(tmp_path):
    gpt2, frontend = Principal.from_text("lxzze-o7777-77777-aaaaa-cai"), Principal.from_text("lz3um-vp777-77777-aaaba-cai")
    (tmp_path / "local.json").write_text(json.dumps({"canisters": {
        "gpt2": {"canister_id": gpt2.to_text(), "module_sha256": "ab"},
        "frontend": {"canister_id": frontend.to_text(), "module_sha256": "cd"}}, "model": {}}))
    assert local_canister(tmp_path, "gpt2") == gpt2
    assert local_canister(tmp_path, "frontend") == frontend
    recorded = json.loads((tmp_path / "canister_ids.json").read_text())
    assert recorded == {"gpt2": {"local": gpt2.to_text()}, "frontend": {"local": frontend.to_text()}}


def test_a_broken_old_file_is_no_stack(tmp_path):
    (tmp_path / "local.json").write_text("{not json")
    assert local_canister(tmp_path, "gpt2") is None
    assert not (tmp_path / "canister_ids.json").exists()
