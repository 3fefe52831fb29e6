// The gpt2 canister's chat methods (canister/gpt2.did) through the official JS agent
// (@icp-sdk/core), for the worker's Python (icchat.chat.onchain, through icchat.chat.worker's
// JsCanisterClient): plain objects in and out, Candid stays on this side. Bundled into
// agent/<hash>/agent.js by the web build.
//
// Calls go through agent.update / agent.query rather than an Actor: @icp-sdk/core 6.1's Actor
// throws a TypeError while re-wrapping a reject that arrived by polling, which hid the
// canister's reason; here every reject becomes an Error whose message is that reason.
import { HttpAgent, HttpErrorCode, HttpFetchErrorCode } from "@icp-sdk/core/agent";
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
const Access = IDL.Variant({ open: IDL.Null, allow_list: IDL.Null, controllers: IDL.Null });
// What the canister lets inference spend and what is spent (canister/gpt2.did `usage`).
const Usage = IDL.Record({
  access: Access,
  window_seconds: IDL.Nat64,
  window_instructions: IDL.Nat64,
  caller_instructions: IDL.Nat64,
  window_start: IDL.Nat64,
  window_end: IDL.Nat64,
  window_spent: IDL.Nat64,
  caller_spent: IDL.Nat64,
  callers: IDL.Nat32,
  refused: IDL.Nat64,
  allowed: IDL.Nat32,
  spent_total: IDL.Nat64,
});
const METHODS = {
  generate: { arg: GenerateRequest, query: false },
  generate_query: { arg: GenerateRequest, query: true },
  prefill: { arg: PrefillRequest, query: false },
};

const opt = (value, convert = (v) => v) => (value === null || value === undefined ? [] : [convert(value)]);

/** A plain request object (nulls for defaults) as the Candid record the method takes. */
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

/** The reply as a plain object: nat64 counters as numbers (exact below 2^53; a call stops at 40B). */
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

// The IC's reject codes and error codes (interface spec, "Reject codes"; the replica's ErrorCode).
const CANISTER_REJECT = 4; // the canister itself rejected the call (ic0.msg_reject)
const CANISTER_CALLED_TRAP = "IC0503"; // the canister trapped with a message of its own (ic0.trap)
// How the replica words a trap: "Error from Canister <id>: Canister called `ic0.trap` with
// message: '<the canister's message>'.\n<help>" (older replicas leave out the quotes).
const TRAP_PREFIX = "Canister called `ic0.trap` with message: ";

const firstLine = (text) => String(text ?? "").split("\n").map((line) => line.trim()).find(Boolean) ?? "";

/** The message a canister trapped with, out of the replica's text around it; null if none. */
function trapMessage(text) {
  const at = text.indexOf(TRAP_PREFIX);
  if (at < 0) return null;
  let line = text.slice(at + TRAP_PREFIX.length).split("\n")[0].trim();
  if (line.endsWith("'.")) line = line.slice(0, -1); // the replica's sentence ends after the quote
  if (line.length >= 2 && line.startsWith("'") && line.endsWith("'")) line = line.slice(1, -1);
  return line || null;
}

/** A reject (its reject code, message and IC error code) as failureOf describes it. */
function failureOfReject(rejectCode, message, errorCode) {
  const refused = Number(rejectCode) === CANISTER_REJECT || errorCode === CANISTER_CALLED_TRAP;
  return { line: trapMessage(String(message)) ?? firstLine(message), refused, rejectCode: Number(rejectCode) };
}

/**
 * Why a call failed, from the agent's error structure (never by reading its words for a kind):
 * {line, refused, rejectCode?, httpStatus?}. `line` is one line: the canister's own when it said
 * one (its reject, or the message it trapped with in the method or in canister_inspect_message),
 * else the replica's first line. `refused`: the canister (or the replica, for the message) turned
 * the call down with a reason of its own — reject code 4, a trap's IC0503, or an HTTP 4xx on the
 * call — rather than something failing on the way (a stopped canister, the network).
 *
 * canister_inspect_message's trap reaches the agent two ways: today's replicas answer the call
 * with a CBOR reject (reject code 5, IC0503); older ones answered HTTP 400 with the text as body.
 */
export function failureOf(error) {
  for (let e = error; e; e = e.cause) {
    const code = e.code ?? e; // an AgentError's code, or a cause holding one
    const message = code?.rejectMessage ?? code?.reject_message;
    if (message) return failureOfReject(code.rejectCode ?? code.reject_code, message, code.rejectErrorCode ?? code.error_code);
    if (code instanceof HttpErrorCode) {
      const body = String(code.bodyText ?? "");
      const trapped = trapMessage(body);
      const line = trapped ?? `HTTP ${code.status}${body.trim() ? `: ${firstLine(body)}` : ` ${code.statusText ?? ""}`.trimEnd()}`;
      return { line, refused: code.status >= 400 && code.status < 500, httpStatus: code.status };
    }
  }
  return { line: firstLine(error?.message ?? error) || "unknown error", refused: false };
}

/** The reason a call failed, as one line: the canister's own when there is one. */
export function rejectReason(error) {
  return failureOf(error).line;
}

/** Whether `error` (or a cause) is the browser failing to reach the host at all, not a reply. */
export function unreachable(error) {
  for (let e = error; e; e = e.cause) {
    if ((e.code ?? e) instanceof HttpFetchErrorCode) return true; // the agent's fetch threw
    if (/Failed to fetch|NetworkError|fetch failed|Load failed/.test(String(e?.message ?? ""))) return true;
  }
  return false;
}

/**
 * One raw call of `method` on `canister`: the reply's bytes. A failure is kept as
 * `client.lastFailure` (failureOf's record, with the method) and thrown as an Error whose message
 * is `say(failure, method)`: one line.
 */
export async function callCanister({ agent, canister, host, client, say }, method, arg, query) {
  let failure;
  try {
    if (!query) return (await agent.update(canister, { methodName: method, arg })).reply;
    const response = await agent.query(canister, { methodName: method, arg });
    if (response.status === "replied") return response.reply.arg;
    failure = failureOfReject(response.reject_code, response.reject_message ?? `the query was ${response.status}`, response.error_code);
  } catch (error) {
    // A dead replica or network gives the agent a bare "Failed to fetch": say what it means.
    failure = unreachable(error)
      ? { line: `${host} cannot be reached (the replica or the network is down)`, refused: false }
      : failureOf(error);
  }
  client.lastFailure = { ...failure, method };
  throw new Error(say(failure, method));
}

/**
 * The page's own identity: an Ed25519 key from a 32-byte seed the page keeps in the browser, so
 * the gpt2 canister's per-caller prefix cache holds this browser's conversation across answers.
 */
export function identityFromSeed(seed) {
  return Ed25519KeyIdentity.generate(Uint8Array.from(seed));
}

/** nat64 counters as numbers (instructions and ns since 1970: exact below 2^53). */
function usageFromCandid(usage) {
  const out = { access: Object.keys(usage.access)[0] };
  for (const [key, value] of Object.entries(usage)) if (key !== "access") out[key] = Number(value);
  return out;
}

/**
 * A client for the gpt2 canister. `rootKey`: the IC root key (DER) to verify replies with
 * (omit it on mainnet: the agent's built-in key). Returns {principal, call(method, request) -> reply (plain objects),
 * usage(), forget(), lastFailure}: `lastFailure` is the last failed call's failureOf (with its
 * method), for the worker to tell a refusal from a failure without reading the message.
 */
export async function connectGpt2({ host, canisterId, identity, rootKey }) {
  const agent = await HttpAgent.create({ host, identity, ...(rootKey ? { rootKey } : {}) });
  const canister = Principal.fromText(canisterId);
  const client = { principal: identity ? identity.getPrincipal().toText() : "2vxsx-fae", lastFailure: null };
  // A refusal is the canister's own line; anything else says which call it was.
  const say = (failure, method) => (failure.refused ? failure.line : `the gpt2 canister did not answer ${method}: ${failure.line}`);
  const raw = (method, arg, query) => callCanister({ agent, canister, host, client, say }, method, arg, query);

  client.call = async (method, request) => {
    const spec = METHODS[method];
    if (!spec) throw new Error(`unknown gpt2 method ${method}`);
    const arg = IDL.encode([spec.arg], [toCandid(method, request)]);
    const [reply] = IDL.decode([GenerateReply], await raw(method, arg, spec.query));
    return { ...fromCandid(reply), arg_bytes: arg.byteLength };
  };
  /** The canister's inference policy and what is spent of its window (a query: free, anyone). */
  client.usage = async () => usageFromCandid(IDL.decode([Usage], await raw("usage", IDL.encode([], []), true))[0]);
  /** Empty this identity's prefix-cache slots in the canister (an update as this identity). */
  client.forget = async () => {
    await raw("forget_conversations", IDL.encode([], []), false);
  };
  return client;
}
