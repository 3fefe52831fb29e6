// The official JS agent (@icp-sdk/core), bundled by the web build (esbuild) into
// agent/<hash>/agent.js: one ES module the worker imports to call canisters and to check
// certified data (the model manifest's hash against the gpt2 canister's certificate).
export { HttpAgent, Certificate, lookupResultToBuffer, AnonymousIdentity } from "@icp-sdk/core/agent";
export { IDL } from "@icp-sdk/core/candid";
export { Principal } from "@icp-sdk/core/principal";
export { Ed25519KeyIdentity } from "@icp-sdk/core/identity";
export { verifyManifest, checkFile } from "./verify-manifest.mjs";
export { connectGpt2, identityFromSeed, rejectReason } from "./onchain.mjs";
export { connectLlmRoute } from "./llm-route.mjs";
