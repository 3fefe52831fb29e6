// An attacker (and a few honest callers) against the gpt2 canister, through the official JS agent
// (@icp-sdk/core) over the local replica's real HTTP interface, certificates verified.
//
// Usage: node _onchain_abuse.mjs < request.json > result.json
//
// Request (one JSON object on stdin):
//   {"url": "http://localhost:PORT", "canister": "<id>",
//    "steps": [ {"caller": CALLER, "kind": KIND, ...params}, ... ],      // run one after the other
//    "hammer": {"seconds": S, "max_calls": N, "concurrency": C,          // then, optionally, this
//               "kinds": [KIND, ...], "anonymous_every": K,              // every K-th attack call is anonymous
//               "honest": {"caller": CALLER, "every": M, "kind": KIND, ...params},  // every M-th call
//               "until": {"line": TEXT, "then": K}}}  // stop K calls after a refusal containing TEXT
//   CALLER: "fresh" (a new Ed25519 identity for this call), "anonymous", or {"seed": "<64 hex>"}
//           (a fixed Ed25519 identity: the victim, the allow-listed friend).
//   KIND and its params: generate {prompt, max_new_tokens} · prefill {prompt} · generate_query (a query)
//     · generate_query_update / logits_update (query methods sent as update calls)
//     · generate_oversized / prefill_oversized (a valid request just under the 2 MiB ingress limit)
//     · create_batch · create_chunk · store_oversized · commit_batch · clear · authorize
//       (asset-store writes) · set_inference_policy · allow_inference (controller-only methods)
//   Missing prompts are random token ids (of `prompt_length`, default 16).
//
// Result (one JSON object on stdout): {"calls": [CALL, ...], "seconds": S}, one CALL per call made:
//   {"kind", "method", "caller": "fresh"|"anonymous"|"seed", "principal", "honest": bool, "arg_bytes",
//    "ingress_bytes" (the signed HTTP request's size, update calls),
//    "outcome": "replied" | "rejected" (certified: it reached execution) |
//               "refused" (not certified: refused before execution, e.g. by canister_inspect_message) |
//               "error" (anything else: transport, protocol),
//    "reject_code", "reject_message", "error_code", "reply": {tokens, instructions, reused, fed, stop_reason},
//    "error": text (outcome "error" only)}
import { readFileSync } from "node:fs";
import { HttpAgent, CertifiedRejectErrorCode, UncertifiedRejectErrorCode, UncertifiedRejectUpdateErrorCode }
  from "@icp-sdk/core/agent";
import { IDL } from "@icp-sdk/core/candid";
import { Ed25519KeyIdentity } from "@icp-sdk/core/identity";
import { AnonymousIdentity } from "@icp-sdk/core/agent";

const request = JSON.parse(readFileSync(0, "utf8"));
const VOCAB = 50257;
const INGRESS_LIMIT = 2 * 1024 * 1024;  // argument + method name (the IC's ingress payload limit)

// The parts of canister/gpt2.did the attacker uses.
const GenerateRequest = IDL.Record({
  prompt: IDL.Vec(IDL.Nat32), max_new_tokens: IDL.Opt(IDL.Nat32), temperature: IDL.Opt(IDL.Float32),
  top_k: IDL.Opt(IDL.Nat32), top_p: IDL.Opt(IDL.Float32), seed: IDL.Opt(IDL.Nat64), stop: IDL.Opt(IDL.Vec(IDL.Nat32)),
});
const PrefillRequest = IDL.Record({ prompt: IDL.Vec(IDL.Nat32) });
const GenerateReply = IDL.Record({
  tokens: IDL.Vec(IDL.Nat32), prompt_instructions: IDL.Nat64, token_instructions: IDL.Vec(IDL.Nat64),
  instructions: IDL.Nat64, stop_reason: IDL.Text, reused: IDL.Nat32, fed: IDL.Nat32,
});
const Access = IDL.Variant({ open: IDL.Null, allow_list: IDL.Null, controllers: IDL.Null });
const InferencePolicy = IDL.Record({
  access: IDL.Opt(Access), window_seconds: IDL.Opt(IDL.Nat64), window_instructions: IDL.Opt(IDL.Nat64),
  caller_instructions: IDL.Opt(IDL.Nat64),
});
const Operation = IDL.Variant({ Clear: IDL.Record({}) });

const randomPrompt = (n) => Array.from({ length: n }, () => Math.floor(Math.random() * (VOCAB - 1)));
const generateArg = (prompt, maxNew) => IDL.encode([GenerateRequest], [{
  prompt, max_new_tokens: [maxNew], temperature: [], top_k: [], top_p: [], seed: [], stop: [[]],
}]);
// A valid request whose whole ingress payload (argument + method name) is just under 2 MiB.
const oversizedPrompt = (method) => randomPrompt(Math.floor((INGRESS_LIMIT - method.length - 1024) / 4));
const bigBlob = (method) => new Uint8Array(INGRESS_LIMIT - method.length - 1024);

// kind -> [method, arg bytes, replies with a GenerateReply]
function message(kind, step, principal) {
  const prompt = step.prompt ?? randomPrompt(step.prompt_length ?? 16);
  const maxNew = step.max_new_tokens ?? 16;
  switch (kind) {
    case "generate": return ["generate", generateArg(prompt, maxNew), true];
    case "prefill": return ["prefill", IDL.encode([PrefillRequest], [{ prompt }]), true];
    case "generate_query": return ["generate_query", generateArg(prompt, maxNew), true];
    case "generate_query_update": return ["generate_query", generateArg(prompt, maxNew), true];
    case "logits_update": return ["logits", IDL.encode([IDL.Vec(IDL.Nat32)], [prompt]), false];
    case "generate_oversized": return ["generate", generateArg(oversizedPrompt("generate"), 1), true];
    case "prefill_oversized":
      return ["prefill", IDL.encode([PrefillRequest], [{ prompt: oversizedPrompt("prefill") }]), true];
    case "create_batch": return ["create_batch", IDL.encode([IDL.Record({})], [{}]), false];
    case "create_chunk":
      return ["create_chunk", IDL.encode([IDL.Record({ batch_id: IDL.Nat, content: IDL.Vec(IDL.Nat8) })],
        [{ batch_id: 1n, content: new Uint8Array(1_000_000) }]), false];
    case "store_oversized":
      return ["store", IDL.encode([IDL.Record({
        key: IDL.Text, content_type: IDL.Text, content_encoding: IDL.Text, content: IDL.Vec(IDL.Nat8),
        sha256: IDL.Opt(IDL.Vec(IDL.Nat8)),
      })], [{ key: "/index.html", content_type: "text/html", content_encoding: "identity",
        content: bigBlob("store").subarray(0, INGRESS_LIMIT - 2048), sha256: [] }]), false];
    case "commit_batch":
      return ["commit_batch", IDL.encode([IDL.Record({ batch_id: IDL.Nat, operations: IDL.Vec(Operation) })],
        [{ batch_id: 1n, operations: [{ Clear: {} }] }]), false];
    case "clear": return ["clear", IDL.encode([IDL.Record({})], [{}]), false];
    case "authorize": return ["authorize", IDL.encode([IDL.Principal], [principal]), false];
    case "set_inference_policy":
      return ["set_inference_policy", IDL.encode([InferencePolicy], [{
        access: [{ open: null }], window_seconds: [], window_instructions: [10n ** 15n], caller_instructions: [10n ** 15n],
      }]), false];
    case "allow_inference": return ["allow_inference", IDL.encode([IDL.Vec(IDL.Principal)], [[principal]]), false];
    default: throw new Error(`unknown kind ${kind}`);
  }
}

function identityOf(caller) {
  if (caller === "anonymous") return new AnonymousIdentity();
  if (caller === "fresh") return Ed25519KeyIdentity.generate();
  return Ed25519KeyIdentity.generate(Uint8Array.from(Buffer.from(caller.seed, "hex")));
}

// One agent per call, trusting the root key fetched once, with a fetch that records the size of
// the signed call it sends (the IC charges ingress by the whole HTTP request body).
const rootAgent = await HttpAgent.create({ host: request.url, shouldFetchRootKey: true });
const rootKey = rootAgent.rootKey;
function agentFor(caller) {
  const sent = { bytes: 0 };
  const recording = (url, init) => {
    if (String(url).endsWith("/call") && init?.body) sent.bytes = init.body.byteLength ?? init.body.length;
    return fetch(url, init);
  };
  const agent = HttpAgent.createSync({ host: request.url, identity: identityOf(caller), rootKey, retryTimes: 0,
    fetch: recording });
  return [agent, sent];
}

const reply = (bytes) => {
  const [r] = IDL.decode([GenerateReply], bytes);
  return { tokens: r.tokens.length, instructions: Number(r.instructions), reused: r.reused, fed: r.fed,
    stop_reason: r.stop_reason, token_instructions: Array.from(r.token_instructions, Number) };
};

async function call(step, honest) {
  const [agent, sent] = agentFor(step.caller);
  const principal = await agent.getPrincipal();
  const [method, arg, generateReply] = message(step.kind, step, principal);
  const out = { kind: step.kind, method, caller: typeof step.caller === "string" ? step.caller : "seed",
    principal: principal.toText(), honest, arg_bytes: arg.byteLength };
  try {
    if (step.kind === "generate_query") {
      const answer = await agent.query(request.canister, { methodName: method, arg });
      if (answer.status !== "replied") {
        return { ...out, outcome: "rejected", reject_code: answer.reject_code, reject_message: answer.reject_message,
          error_code: answer.error_code ?? null };
      }
      return { ...out, outcome: "replied", reply: reply(answer.reply.arg) };
    }
    const answer = await agent.update(request.canister, { methodName: method, arg });
    return { ...out, outcome: "replied", ingress_bytes: sent.bytes, reply: generateReply ? reply(answer.reply) : null };
  } catch (e) {
    const code = e?.cause?.code;
    if (code instanceof CertifiedRejectErrorCode || code instanceof UncertifiedRejectUpdateErrorCode
        || code instanceof UncertifiedRejectErrorCode) {
      return { ...out, outcome: code instanceof CertifiedRejectErrorCode ? "rejected" : "refused",
        ingress_bytes: sent.bytes, reject_code: Number(code.rejectCode), reject_message: code.rejectMessage, error_code: code.rejectErrorCode ?? null };
    }
    return { ...out, outcome: "error", error: String(e?.message ?? e).slice(0, 2000) };
  }
}

const started = performance.now();
const calls = [];
for (const step of request.steps ?? []) calls.push(await call(step, false));

if (request.hammer) {
  const h = request.hammer;
  const deadline = started + h.seconds * 1000;
  let made = 0;
  let stopAt = Infinity;  // set once the `until` line is seen
  const next = () => {
    if (made >= Math.min(h.max_calls, stopAt) || performance.now() >= deadline) return null;
    const n = made++;
    if (h.honest && n % h.honest.every === 0) return [h.honest, true];
    const kind = h.kinds[n % h.kinds.length];
    const caller = h.anonymous_every && n % h.anonymous_every === 1 ? "anonymous" : "fresh";
    return [{ ...(h.params ?? {}), kind, caller }, false];
  };
  const seen = (result) => h.until && stopAt === Infinity && result.outcome !== "replied"
    && (result.reject_message ?? "").includes(h.until.line);
  const worker = async () => {
    for (let job = next(); job; job = next()) {
      const result = await call(...job);
      if (seen(result)) stopAt = made + h.until.then;
      calls.push(result);
    }
  };
  await Promise.all(Array.from({ length: h.concurrency }, worker));
}
console.log(JSON.stringify({ calls, seconds: (performance.now() - started) / 1000 }));
