"""canister_inspect_message on the real asset canister (the replica runs it before every ingress
update, as the IC does): the store's update methods are accepted for callers allowed to call them,
a write from a caller without Commit permission and a query called as an update are dropped with a
one-line reason, and anything else is not accepted. The same checks run inside the methods."""

from __future__ import annotations

import pytest

from icchat.assets_canister import AssetsCanister
from icchat.ic import candid
from icchat.ic.principal import Principal
from icchat.replica import Reject

STRANGER = Principal.self_authenticating(b"an inspected stranger")
HELPER = Principal.self_authenticating(b"an inspected uploader")
WRITES = ["create_batch", "create_chunk", "create_chunks", "commit_batch", "delete_batch", "create_asset",
          "set_asset_content", "unset_asset_content", "delete_asset", "clear", "set_asset_properties", "store",
          "deauthorize"]
QUERIES = ["http_request", "http_request_streaming_callback", "api_version", "list", "get", "get_chunk",
           "get_asset_properties"]


def inspect(canister: AssetsCanister, method: str, sender: Principal) -> str | None:
    """None when the canister accepts the ingress message, else the reason it gives."""
    try:
        canister.replica.inspect_message(canister.id, method, candid.encode([], []), sender=sender)
    except Reject as reject:
        return reject.message.splitlines()[0]  # the IC appends its help text on a second line
    return None


@pytest.mark.parametrize("method", WRITES)
def test_a_write_is_accepted_only_from_controllers_and_authorized_principals(assets, method):
    assets.authorize(HELPER)
    assert inspect(assets, method, assets.sender) is None
    assert inspect(assets, method, HELPER) is None
    for caller in (STRANGER, Principal.anonymous()):
        reason = inspect(assets, method, caller)
        assert reason is not None
        assert f"Caller does not have Commit permission: only controllers and principals with Commit permission may call {method}" in reason


def test_authorize_is_accepted_only_from_controllers(assets):
    assets.authorize(HELPER)
    assert inspect(assets, "authorize", assets.sender) is None
    for caller in (HELPER, STRANGER, Principal.anonymous()):
        assert "only controllers may call authorize" in inspect(assets, "authorize", caller)


@pytest.mark.parametrize("method", QUERIES)
def test_a_query_called_as_an_update_is_dropped(assets, method):
    for caller in (assets.sender, STRANGER):
        assert f"{method} is a query: call it as a query" in inspect(assets, method, caller)


def test_anyone_may_list_authorized_principals_and_unknown_methods_are_not_accepted(assets):
    assert inspect(assets, "list_authorized", Principal.anonymous()) is None
    for method in ("no_such_method", "x" * 100, "get_chunks", ""):
        assert inspect(assets, method, assets.sender).endswith(": Canister rejected the message")


def test_an_ingress_write_from_a_stranger_is_refused_before_it_runs(assets):
    """Through the replica's ingress path (inspect first): the caller reads the one-line reason."""
    with pytest.raises(Reject) as info:
        assets.as_caller(STRANGER).create_batch()
    assert "only controllers and principals with Commit permission may call create_batch" in info.value.message
