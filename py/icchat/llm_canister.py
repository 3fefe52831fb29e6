"""A Python client of the llm canister (canister/llm.did) over the local replica's Python API.

    canister = LlmCanister.install(replica, build_llm_wasm().read_bytes())
    canister.set_route_endpoint("http://127.0.0.1:8000/v1/chat/completions", "tiny-s0")  # as a controller
    canister.set_route_llm_canister(llm_canister_id, "llama3.1:8b")
    canister.route_info()["kind"]
    canister.as_caller(user).chat([("user", "Hi!")])  # {"text", "model", "via", "cycles", "instructions"}

Messages are (role, content) pairs, role one of "system", "user", "assistant". Rejects surface as
`icchat.replica.Reject` with the canister's one line (`icchat.ic.reject.canister_line`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from icchat.gpt2_canister import policy_record
from icchat.ic import candid
from icchat.ic.principal import Principal
from icchat.paths import CANISTER_SRC

DID = candid.parse_did((CANISTER_SRC / "llm.did").read_text())
CONTROLLER = Principal.self_authenticating(b"icchat llm canister controller")
ROLES = ("system", "user", "assistant")


def _types(text: str) -> list[Any]:
    return candid.parse_types(text, DID)


def install_arg(policy: Mapping[str, Any] | None) -> bytes:
    """The service argument `opt InferencePolicy` (none when policy is None: every default)."""
    return candid.encode(_types("(opt InferencePolicy)"), [None if policy is None else policy_record(policy)])


def chat_request(messages: Sequence[tuple[str, str]], model: str = "") -> dict[str, Any]:
    """A chat_request_v1 from (role, content) pairs."""
    encoded = []
    for role, content in messages:
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, got {role!r}")
        body: dict[str, Any] = ({"content": content, "tool_calls": []} if role == "assistant"
                                else {"content": content})
        encoded.append({role: body})
    return {"model": model, "tools": None, "messages": encoded}


def chat_request_arg(messages: Sequence[tuple[str, str]], model: str = "") -> bytes:
    return candid.encode(_types("(chat_request_v1)"), [chat_request(messages, model)])


class LlmCanister:
    def __init__(self, replica: Any, canister_id: Principal, sender: Principal = CONTROLLER) -> None:
        self.replica, self.id, self.sender = replica, canister_id, sender

    @classmethod
    def install(cls, replica: Any, wasm: bytes, controller: Principal = CONTROLLER, *,
                policy: Mapping[str, Any] | None = None) -> LlmCanister:
        """Create and install; `policy`: the init argument's InferencePolicy fields (None: every default)."""
        canister_id = replica.create_canister(controllers=[controller])
        replica.install_code(canister_id, wasm, b"" if policy is None else install_arg(policy), sender=controller)
        return cls(replica, canister_id, controller)

    def upgrade(self, wasm: bytes, policy: Mapping[str, Any] | None = None) -> None:
        arg = b"" if policy is None else install_arg(policy)
        self.replica.install_code(self.id, wasm, arg, mode="upgrade", sender=self.sender)

    def as_caller(self, principal: Principal) -> LlmCanister:
        return LlmCanister(self.replica, self.id, principal)

    def _call(self, kind: str, method: str, arg_types: str, args: list[Any], result_types: str) -> Any:
        arg = candid.encode(_types(arg_types), args)
        reply = getattr(self.replica, kind)(self.id, method, arg, sender=self.sender)
        values = candid.decode(reply, _types(result_types))
        return values[0] if values else None

    # ---- the route (controllers) ----

    def set_route_endpoint(self, url: str, model: str, *, api_key: str | None = None,
                           max_response_bytes: int | None = None, max_tokens: int | None = None) -> None:
        route = {"endpoint": {"url": url, "model": model, "api_key": api_key,
                              "max_response_bytes": max_response_bytes, "max_tokens": max_tokens}}
        self._call("update", "set_route", "(Route)", [route], "()")

    def set_route_llm_canister(self, canister_id: Principal, model: str) -> None:
        self._call("update", "set_route", "(Route)", [{"llm_canister": {"id": canister_id, "model": model}}], "()")

    def route_info(self) -> dict[str, Any]:
        return self._call("query", "route_info", "()", [], "(RouteInfo)")

    # ---- answers ----

    def chat(self, messages: Sequence[tuple[str, str]], model: str = "") -> dict[str, Any]:
        """The answer with where it came from and what it cost (ChatAnswer)."""
        return self._call("update", "chat", "(chat_request_v1)", [chat_request(messages, model)], "(ChatAnswer)")

    def v1_chat(self, messages: Sequence[tuple[str, str]], model: str = "") -> str | None:
        """The LLM canister's method: the answer's text."""
        reply = self._call("update", "v1_chat", "(chat_request_v1)", [chat_request(messages, model)],
                           "(chat_response_v1)")
        return reply["message"]["content"]

    def transform_chat(self, status: int, body: bytes, headers: Sequence[tuple[str, str]] = ()) -> dict[str, Any]:
        """The outcall's transform run as the query the IC runs it as, on a response."""
        response = {"status": status, "headers": [{"name": n, "value": v} for n, v in headers], "body": body}
        return self._call("query", "transform_chat", "(transform_args)", [{"response": response, "context": b""}],
                          "(http_request_result)")

    # ---- the access policy ----

    def usage(self) -> dict[str, Any]:
        return self._call("query", "usage", "()", [], "(Usage)")

    def set_policy(self, **policy: Any) -> None:
        self._call("update", "set_inference_policy", "(InferencePolicy)", [policy_record(policy)], "()")
