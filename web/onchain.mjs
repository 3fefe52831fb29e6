// The gpt2 canister's chat methods (canister/gpt2.did) through the official JS agent
// (@icp-sdk/core), for the worker's Python (icchat.chat.onchain): JSON in, JSON out, so nothing
// but strings crosses the FFI. Bundled into agent/<hash>/agent.js by the web build.
//
// Calls go through agent.update / agent.query rather than an Actor: @icp-sdk/core 6.1's Actor
// throws a TypeError while re-wrapping a reject that arrived by polling, which hid the
// canister's reason; here every reject becomes an Error whose message is that reason.
import { HttpAgent } from "@icp-sdk/core/agent";
import { IDL } from "@icp-sdk/core/candid";
import { Ed25519KeyIdentity } from "@icp-sdk/core/identity";
import { Principal } from "@icp-sdk/core/principal";

const GenerateRequest = IDL.Record({
  prompt: IDL.Vec(IDL.Nat32),
  max_new_tokens: IDL.Opt(IDL.Nat32),
  temperature: IDL.Opt(IDL.Float32),
  top_k: IDL.Opt(IDL.Nat32),
  top_p: IDL.Opt(IDL.Float32),
  seed: IDL.Opt(IDL.Nat64),
  stop: IDL.Opt(IDL.Vec(IDL.Nat32)),
});
const PrefillRequest = IDL.Record({ prompt: IDL.Vec(IDL.Nat32) });
const GenerateReply = IDL.Record({
  tokens: IDL.Vec(IDL.Nat32),
  prompt_instructions: IDL.Nat64,
  token_instructions: IDL.Vec(IDL.Nat64),
  instructions: IDL.Nat64,
  stop_reason: IDL.Text,
  reused: IDL.Nat32,
  fed: IDL.Nat32,
});
const METHODS = {
  generate: { arg: GenerateRequest, query: false },
  generate_query: { arg: GenerateRequest, query: true },
  prefill: { arg: PrefillRequest, query: false },
};

const opt = (value, convert = (v) => v) => (value === null || value === undefined ? [] : [convert(value)]);

/** A plain request (JSON: nulls for defaults) as the Candid record the method takes. */
function toCandid(method, request) {
  const prompt = Uint32Array.from(request.prompt ?? []);
  if (method === "prefill") return { prompt };
  return {
    prompt,
    max_new_tokens: opt(request.max_new_tokens),
    temperature: opt(request.temperature),
    top_k: opt(request.top_k),
    top_p: opt(request.top_p),
    seed: opt(request.seed, BigInt),
    stop: opt(request.stop, (s) => Uint32Array.from(s)),
  };
}

/** The reply as plain JSON: nat64 counters as numbers (exact below 2^53; a call stops at 40B). */
function fromCandid(reply) {
  return {
    tokens: Array.from(reply.tokens),
    prompt_instructions: Number(reply.prompt_instructions),
    token_instructions: Array.from(reply.token_instructions, Number),
    instructions: Number(reply.instructions),
    stop_reason: reply.stop_reason,
    reused: reply.reused,
    fed: reply.fed,
  };
}

/** The reason a call failed, as one line: the canister's reject message when there is one. */
export function rejectReason(error) {
  for (let e = error; e; e = e.cause) {
    const code = e.code ?? e;
    const message = code?.rejectMessage ?? code?.reject_message;
    if (message) return String(message);
  }
  return String(error?.message ?? error).split("\n").find((line) => line.trim()) ?? "unknown error";
}

/** Whether `error` (or a cause) is the browser failing to reach the host at all, not a reply. */
export function unreachable(error) {
  for (let e = error; e; e = e.cause) {
    if (/Failed to fetch|NetworkError|fetch failed|Load failed/.test(String(e?.message ?? ""))) return true;
  }
  return false;
}

/**
 * The page's own identity: an Ed25519 key from a 32-byte seed the page keeps in the browser, so
 * the gpt2 canister's per-caller prefix cache holds this browser's conversation across answers.
 */
export function identityFromSeed(seed) {
  return Ed25519KeyIdentity.generate(Uint8Array.from(seed));
}

/**
 * A client for the gpt2 canister. `rootKey`: the IC root key (DER) to verify replies with
 * (omit it on mainnet: the agent's built-in key). Returns {principal, call(method, json)}.
 */
export async function connectGpt2({ host, canisterId, identity, rootKey }) {
  const agent = await HttpAgent.create({ host, identity, ...(rootKey ? { rootKey } : {}) });
  const canister = Principal.fromText(canisterId);

  async function call(method, requestJson) {
    const spec = METHODS[method];
    if (!spec) throw new Error(`unknown gpt2 method ${method}`);
    const arg = IDL.encode([spec.arg], [toCandid(method, JSON.parse(requestJson))]);
    let bytes;
    try {
      if (spec.query) {
        const response = await agent.query(canister, { methodName: method, arg });
        if (response.status !== "replied") throw new Error(response.reject_message ?? `the query was ${response.status}`);
        bytes = response.reply.arg;
      } else {
        ({ reply: bytes } = await agent.update(canister, { methodName: method, arg }));
      }
    } catch (error) {
      // A dead replica or network gives the agent a bare "Failed to fetch": say what it means.
      const reason = unreachable(error) ? `${host} cannot be reached (the replica or the network is down)` : rejectReason(error);
      throw new Error(`the gpt2 canister did not answer ${method}: ${reason}`);
    }
    const [reply] = IDL.decode([GenerateReply], bytes);
    return JSON.stringify({ ...fromCandid(reply), arg_bytes: arg.byteLength });
  }

  return { principal: identity ? identity.getPrincipal().toText() : "2vxsx-fae", call };
}
