// The llm canister through the official JS agent (@icp-sdk/core), certificate verification on, as
// a fresh Ed25519 identity (the anonymous principal is refused): the stand-in of DFINITY's LLM
// canister through an Actor with dfinity/llm's types (canister/llm.did), and the route canister
// through the page's own client (web/llm-route.mjs), as the page's worker calls it.
// Usage: node llm_agent.mjs <replica url> <llm canister id> <route canister id>
// Prints one JSON object: what each call answered, and each refusal's reason as the caller got it.
import { Actor, HttpAgent } from "@icp-sdk/core/agent";
import { Ed25519KeyIdentity } from "@icp-sdk/core/identity";
import { AssistantMessage, ChatRequestV1, RouteInfo, connectLlmRoute } from "../../web/llm-route.mjs";
import { failureOf } from "../../web/onchain.mjs";

const [host, llmId, routeId] = process.argv.slice(2);

// dfinity/llm's interface (the part an app calls), from the Candid types the page writes for it
// (canister/llm.did's): the canister's C Candid and @icp-sdk/core's must agree on them
const idlFactory = ({ IDL }) => IDL.Service({
  v1_chat: IDL.Func([ChatRequestV1], [IDL.Record({ message: AssistantMessage })], []),
  route_info: IDL.Func([], [RouteInfo], ["query"]),
});

/** The reason a call was refused, as the caller reads it: the page's reader of the agent's error. */
async function refusal(call) {
  try {
    await call();
  } catch (error) {
    return { line: failureOf(error).line, error: String(error?.message ?? error) };
  }
  throw new Error("the call was answered, not refused");
}

const identity = Ed25519KeyIdentity.generate();
const agent = await HttpAgent.create({ host, identity, shouldFetchRootKey: true });
const llm = Actor.createActor(idlFactory, { agent, canisterId: llmId });
const user = (content) => ({ user: { content } });

// (a) v1_chat, as an app calls DFINITY's LLM canister
const answered = await llm.v1_chat({ model: "", tools: [], messages: [{ system: { content: "Be brief." } }, user("Hello there")] });
// (b) route_info: what anyone may read of the route
const info = await llm.route_info();
// (c) chat through the route canister, by the page's client (its root key as config.json gives it)
const route = await connectLlmRoute({ host, canisterId: routeId, identity, rootKey: agent.rootKey });
const chat = await route.call("chat", { model: "", messages: [{ role: "user", content: "Where are you?" }] });
// (d) requests over the LLM canister's limits: its reason reaches the caller
const eleven = Array.from({ length: 11 }, (_, i) => user(`message ${i + 1}`));
const tooMany = await refusal(() => llm.v1_chat({ model: "", tools: [], messages: eleven }));
const tooLong = await refusal(() => route.call("chat", { model: "", messages: [{ role: "user", content: "x".repeat(10_241) }] }));

console.log(JSON.stringify({
  v1_chat: { content: answered.message.content, tool_calls: answered.message.tool_calls.length },
  route_info: {
    kind: info.kind, model: info.model, endpoint_host: info.endpoint_host[0] ?? null,
    llm_canister: info.llm_canister[0]?.toText() ?? null, api_key_set: info.api_key_set,
    max_response_bytes: Number(info.max_response_bytes),
  },
  page_route_info: route.info,
  chat,
  too_many: tooMany,
  too_long: { ...tooLong, last_failure: route.lastFailure },
}));
