// Calls the gpt2 canister through the official JS agent (@icp-sdk/core), certificate
// verification on, with an interface written from canister/gpt2.did, as a fresh Ed25519 identity
// (the anonymous principal gets no update inference).
// Usage: node gpt2_agent.mjs <replica url> <canister id> <comma-separated prompt ids>
import { Actor, HttpAgent } from "@icp-sdk/core/agent";
import { Ed25519KeyIdentity } from "@icp-sdk/core/identity";

const [url, canisterId, promptText] = process.argv.slice(2);
const prompt = promptText.split(",").map(Number);

const idlFactory = ({ IDL }) => {
  const ModelInfo = IDL.Record({
    n_layer: IDL.Nat32, n_head: IDL.Nat32, n_embd: IDL.Nat32, n_ctx: IDL.Nat32, vocab_size: IDL.Nat32,
    dtype: IDL.Text, bytes: IDL.Nat64, sha256: IDL.Vec(IDL.Nat8),
  });
  const GenerateRequest = IDL.Record({
    prompt: IDL.Vec(IDL.Nat32), max_new_tokens: IDL.Opt(IDL.Nat32), temperature: IDL.Opt(IDL.Float32),
    top_k: IDL.Opt(IDL.Nat32), seed: IDL.Opt(IDL.Nat64), stop: IDL.Opt(IDL.Vec(IDL.Nat32)),
  });
  const GenerateReply = IDL.Record({
    tokens: IDL.Vec(IDL.Nat32), prompt_instructions: IDL.Nat64, token_instructions: IDL.Vec(IDL.Nat64),
    instructions: IDL.Nat64,
  });
  const FastRequest = IDL.Record({
    prompt: IDL.Vec(IDL.Nat32), max_new_tokens: IDL.Opt(IDL.Nat32), temperature: IDL.Opt(IDL.Float32),
    top_k: IDL.Opt(IDL.Nat32), top_p: IDL.Opt(IDL.Float32), seed: IDL.Opt(IDL.Nat64), stop: IDL.Opt(IDL.Vec(IDL.Nat32)),
  });
  const FastReply = IDL.Record({
    tokens: IDL.Vec(IDL.Nat32), instructions: IDL.Nat64, stop_reason: IDL.Text, reused: IDL.Nat32, fed: IDL.Nat32,
  });
  return IDL.Service({
    model_info: IDL.Func([], [IDL.Opt(ModelInfo)], ["query"]),
    generate: IDL.Func([GenerateRequest], [GenerateReply], []),
    generate_query: IDL.Func([FastRequest], [FastReply], ["query"]),
    logits: IDL.Func([IDL.Vec(IDL.Nat32)], [IDL.Vec(IDL.Float32)], ["query"]),
  });
};

const agent = await HttpAgent.create({ host: url, shouldFetchRootKey: true, identity: Ed25519KeyIdentity.generate() });
const gpt2 = Actor.createActor(idlFactory, { agent, canisterId });
const [info] = await gpt2.model_info();
const reply = await gpt2.generate({ prompt, max_new_tokens: [6], temperature: [], top_k: [], seed: [], stop: [[]] });
let rejected = null;
try {
  await gpt2.generate({ prompt: [], max_new_tokens: [], temperature: [], top_k: [], seed: [], stop: [] });
} catch (e) {
  rejected = String(e.message ?? e);
}
const fast = await gpt2.generate_query({
  prompt, max_new_tokens: [6], temperature: [0.9], top_k: [400], top_p: [0.95], seed: [42n], stop: [[]],
});
const logits = await gpt2.logits(prompt);
console.log(JSON.stringify({
  dtype: info.dtype, n_layer: info.n_layer, bytes: Number(info.bytes),
  tokens: Array.from(reply.tokens), token_instructions: Array.from(reply.token_instructions, Number),
  fast_tokens: Array.from(fast.tokens), fast_stop_reason: fast.stop_reason,
  rejected, logits_length: logits.length, logits_head: Array.from(logits.slice(0, 4)),
}));
