// The route canister's page methods (canister/llm.did: `chat`, `route_info`) through the official
// JS agent, for the worker's Python (icchat.chat.llm_service, through icchat.chat.worker's
// JsCanisterClient): plain objects in and out, Candid stays on this side. Bundled into
// agent/<hash>/agent.js by the web build, beside onchain.mjs, whose calls and failure reading it shares.
import { HttpAgent } from "@icp-sdk/core/agent";
import { IDL } from "@icp-sdk/core/candid";
import { Principal } from "@icp-sdk/core/principal";
import { callCanister } from "./onchain.mjs";

// dfinity/llm's chat_request_v1, exactly (the LLM canister's .did); exported for tests/js/llm_agent.mjs.
const ToolCallArgument = IDL.Record({ value: IDL.Text, name: IDL.Text });
export const AssistantMessage = IDL.Record({
  content: IDL.Opt(IDL.Text),
  tool_calls: IDL.Vec(IDL.Record({ id: IDL.Text, function: IDL.Record({ name: IDL.Text, arguments: IDL.Vec(ToolCallArgument) }) })),
});
const ChatMessageV1 = IDL.Variant({
  tool: IDL.Record({ content: IDL.Text, tool_call_id: IDL.Text }),
  user: IDL.Record({ content: IDL.Text }),
  assistant: AssistantMessage,
  system: IDL.Record({ content: IDL.Text }),
});
const Property = IDL.Record({ enum: IDL.Opt(IDL.Vec(IDL.Text)), type: IDL.Text, description: IDL.Opt(IDL.Text) });
const Parameter = IDL.Record({ type: IDL.Text, properties: IDL.Opt(IDL.Vec(Property)), required: IDL.Opt(IDL.Vec(IDL.Text)) });
const Tool = IDL.Variant({ function: IDL.Record({ name: IDL.Text, parameters: IDL.Opt(IDL.Vec(Parameter)), description: IDL.Opt(IDL.Text) }) });
export const ChatRequestV1 = IDL.Record({ model: IDL.Text, tools: IDL.Opt(IDL.Vec(Tool)), messages: IDL.Vec(ChatMessageV1) });
// What `chat` answers the page: the text, the model, where it came from, what it cost the canister.
const ChatReply = IDL.Record({ text: IDL.Text, model: IDL.Text, via: IDL.Text, cycles: IDL.Nat, instructions: IDL.Nat64 });
export const RouteInfo = IDL.Record({
  kind: IDL.Text,
  model: IDL.Text,
  endpoint_host: IDL.Opt(IDL.Text),
  llm_canister: IDL.Opt(IDL.Principal),
  api_key_set: IDL.Bool,
  max_response_bytes: IDL.Nat64,
});

/** A plain message ({role, content}) as chat_message_v1. */
function toMessage({ role, content }) {
  if (role === "assistant") return { assistant: { content: [content], tool_calls: [] } };
  return { [role]: { content } };
}

/**
 * A client for the route canister (`canisterId`), as this page's identity (its access policy and
 * budgets count per caller). Returns {info (route_info, plain), call("chat", {model, messages}) ->
 * {text, model, via, cycles, instructions}, lastFailure} (lastFailure: onchain.mjs's failureOf of
 * the last failed call, for the worker to tell a refusal from a failure).
 */
export async function connectLlmRoute({ host, canisterId, identity, rootKey }) {
  const agent = await HttpAgent.create({ host, identity, ...(rootKey ? { rootKey } : {}) });
  const canister = Principal.fromText(canisterId);
  const client = { lastFailure: null };
  // the canister's own sentence (service down, timeout, over the limit, ...) as it is
  const raw = (method, arg, query) => callCanister({ agent, canister, host, client, say: (failure) => failure.line }, method, arg, query);

  const [info] = IDL.decode([RouteInfo], await raw("route_info", IDL.encode([], []), true));
  client.info = {
    kind: info.kind, model: info.model, endpoint_host: info.endpoint_host[0] ?? null,
    llm_canister: info.llm_canister[0]?.toText() ?? null, api_key_set: info.api_key_set,
  };
  client.call = async (method, request) => {
    if (method !== "chat") throw new Error(`unknown route method ${method}`);
    const arg = IDL.encode([ChatRequestV1], [{ model: request.model, tools: [], messages: request.messages.map(toMessage) }]);
    const [reply] = IDL.decode([ChatReply], await raw("chat", arg, false));
    // cycles as a number: exact below 2^53 (an answer costs billions, not quadrillions)
    return { text: reply.text, model: reply.model, via: reply.via, cycles: Number(reply.cycles), instructions: Number(reply.instructions) };
  };
  return client;
}
