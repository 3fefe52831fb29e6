// Drives the local replica with the official JS agents, certificate and query-signature
// verification on (root key fetched from /api/v2/status, as dfx users do).
// Usage: node agent_calls.mjs <replica url> <sysapi.wasm>; prints one JSON object of results.
import { readFileSync } from "node:fs";
import {
  Actor, Certificate, CanisterStatus, HttpAgent, SubnetStatus, check_canister_ranges, lookupResultToBuffer, pollForResponse,
} from "@icp-sdk/core/agent";
import { IDL } from "@icp-sdk/core/candid";
import { DelegationChain, DelegationIdentity, Ed25519KeyIdentity } from "@icp-sdk/core/identity";
import { Secp256k1KeyIdentity } from "@icp-sdk/core/identity/secp256k1";
import { Principal } from "@icp-sdk/core/principal";
import * as legacy from "@dfinity/agent";

const [url, wasmPath] = process.argv.slice(2);
const out = {};
const hex = (bytes) => Buffer.from(bytes).toString("hex");
const u64 = (bytes) => Number(Buffer.from(bytes).readBigUInt64LE(0));
const empty = new Uint8Array();

// The part of the management canister's interface these tests use.
const management = ({ IDL }) => {
  const settings = IDL.Record({ controllers: IDL.Opt(IDL.Vec(IDL.Principal)) });
  return IDL.Service({
    provisional_create_canister_with_cycles: IDL.Func(
      [IDL.Record({ amount: IDL.Opt(IDL.Nat), settings: IDL.Opt(settings) })],
      [IDL.Record({ canister_id: IDL.Principal })], []),
    install_code: IDL.Func(
      [IDL.Record({
        mode: IDL.Variant({ install: IDL.Null, reinstall: IDL.Null }),
        canister_id: IDL.Principal, wasm_module: IDL.Vec(IDL.Nat8), arg: IDL.Vec(IDL.Nat8),
      })], [], []),
  });
};

async function errorOf(promise) {
  try { await promise; return null; } catch (e) { return { name: e.constructor.name, message: String(e.message ?? e) }; }
}

const owner = Ed25519KeyIdentity.generate();
const agent = await HttpAgent.create({ host: url, identity: owner, shouldFetchRootKey: true });
out.root_key = hex(agent.rootKey);

// Management canister through an Actor: create (any effective id) and install (that canister).
const ic = (effectiveCanisterId) => Actor.createActor(management, { agent, canisterId: Principal.managementCanister(), effectiveCanisterId });
const { canister_id: cid } = await ic(Principal.fromText("aaaaa-aa")).provisional_create_canister_with_cycles({
  amount: [10n ** 13n], settings: [{ controllers: [[owner.getPrincipal()]] }],
});
await ic(cid).install_code({ mode: { install: null }, canister_id: cid, wasm_module: readFileSync(wasmPath), arg: empty });
out.canister_id = cid.toText();
out.owner = owner.getPrincipal().toText();

// Update (v4 sync call, certificate verified) and query (signature verified).
const first = await agent.update(cid, { methodName: "inc", arg: empty });
out.inc_reply = u64(first.reply);
const second = await agent.update(cid, { methodName: "inc", arg: empty });
out.inc_reply_2 = u64(second.reply);
const read = await agent.query(cid, { methodName: "read", arg: empty });
out.query_status = read.status;
out.query_reply = u64(read.reply.arg);

// Asynchronous call (v2) and polling read_state of its request status.
const asyncCall = await agent.call(cid, { methodName: "inc", arg: empty, callSync: false });
out.async_http_status = asyncCall.response.status;
const polled = await pollForResponse(agent, cid, asyncCall.requestId);
out.polled_reply = u64(polled.reply);
const status = await agent.readState(cid, { paths: [[new TextEncoder().encode("request_status"), asyncCall.requestId]] });
const cert = await Certificate.create({ certificate: status.certificate, rootKey: agent.rootKey, principal: { canisterId: cid } });
out.request_status = new TextDecoder().decode(lookupResultToBuffer(cert.lookup_path(["request_status", asyncCall.requestId, "status"])));

// Canister facts from the state tree.
const facts = await CanisterStatus.request({ canisterId: cid, agent, paths: ["module_hash", "controllers", "time"] });
out.module_hash = facts.get("module_hash");
out.controllers = facts.get("controllers").map((p) => p.toText());

// Certified data: set in an update, read back in a query with the data certificate.
const data = new Uint8Array(32).fill(7);
await agent.update(cid, { methodName: "set_certified", arg: data });
const certQuery = await agent.query(cid, { methodName: "certificate", arg: empty });
const dataCert = await Certificate.create({ certificate: certQuery.reply.arg.slice(4), rootKey: agent.rootKey, principal: { canisterId: cid } });
out.certified_data = hex(lookupResultToBuffer(dataCert.lookup_path(["canister", cid.toUint8Array(), "certified_data"])));

// The subnet: its read_state (the root subnet, since certificates carry no delegation), the
// sharded canister ranges, and a subnet-scoped canister creation (/api/v4/subnet/<id>/call).
const subnetId = Principal.selfAuthenticating(agent.rootKey);
const subnet = await SubnetStatus.request({ subnetId, agent, paths: ["publicKey", "nodeKeys", "canisterRanges", "time"] });
out.subnet = {
  id: subnetId.toText(),
  public_key: hex(subnet.get("publicKey")),
  node_keys: [...subnet.get("nodeKeys").keys()],
  ranges: subnet.get("canisterRanges").map(([lo, hi]) => [lo.toText(), hi.toText()]),
};
const rangesState = await agent.readSubnetState(subnetId, { paths: [[new TextEncoder().encode("canister_ranges"), subnetId.toUint8Array()]] });
const rangesCert = await Certificate.create({ certificate: rangesState.certificate, rootKey: agent.rootKey, principal: { subnetId } });
out.subnet.sharded_ranges_hold_canister = check_canister_ranges({ canisterId: cid, subnetId, tree: rangesCert.cert.tree });
const createArg = IDL.encode(
  [IDL.Record({ amount: IDL.Opt(IDL.Nat), settings: IDL.Opt(IDL.Record({ controllers: IDL.Opt(IDL.Vec(IDL.Principal)) })) })],
  [{ amount: [], settings: [] }]);
const created = await agent.update(Principal.managementCanister(), {
  methodName: "provisional_create_canister_with_cycles", arg: createArg, effectiveTarget: { subnetId },
});
out.subnet.created = IDL.decode([IDL.Record({ canister_id: IDL.Principal })], created.reply)[0].canister_id.toText();

// Signed calls: each identity is seen by the canister as its own principal.
const callerOf = async (identity) => {
  const a = await HttpAgent.create({ host: url, identity, shouldFetchRootKey: true });
  const viaUpdate = await a.update(cid, { methodName: "caller_u", arg: empty });
  const viaQuery = await a.query(cid, { methodName: "caller", arg: empty });
  return { expected: identity.getPrincipal().toText(), update: Principal.fromUint8Array(viaUpdate.reply).toText(), query: Principal.fromUint8Array(viaQuery.reply.arg).toText() };
};
out.ed25519 = await callerOf(Ed25519KeyIdentity.generate());
out.secp256k1 = await callerOf(Secp256k1KeyIdentity.generate());
const session = Ed25519KeyIdentity.generate();
const chain = await DelegationChain.create(owner, session.getPublicKey(), new Date(Date.now() + 10 * 60 * 1000));
out.delegation = await callerOf(DelegationIdentity.fromDelegation(session, chain));
const wrongTarget = await DelegationChain.create(owner, session.getPublicKey(), new Date(Date.now() + 10 * 60 * 1000), { targets: [Principal.fromText("aaaaa-aa")] });
const restricted = await HttpAgent.create({ host: url, identity: DelegationIdentity.fromDelegation(session, wrongTarget), shouldFetchRootKey: true, retryTimes: 0 });
out.delegation_wrong_target = await errorOf(restricted.update(cid, { methodName: "caller_u", arg: empty }));

// Rejections reach the caller with the IC's codes.
out.trap = await errorOf(agent.update(cid, { methodName: "trap", arg: new TextEncoder().encode("boom") }));
out.missing_query = await errorOf(agent.query(cid, { methodName: "no_such_method", arg: empty }).then((r) => { if (r.status === "rejected") throw new Error(`rejected ${r.reject_code}: ${r.reject_message}`); }));
out.inspect_refused = await errorOf(agent.update(cid, { methodName: "deny_me", arg: empty }));

// The previous agent generation (@dfinity/agent 3.4: v3 call, v2 query and read_state).
const old = await legacy.HttpAgent.create({ host: url, identity: owner, shouldFetchRootKey: true });
const oldCall = await old.call(cid, { methodName: "inc", arg: empty });
const oldPolled = oldCall.response.body?.certificate
  ? null
  : await legacy.pollForResponse(old, cid, oldCall.requestId);
out.legacy_call_http_status = oldCall.response.status;
out.legacy_call_reply = oldPolled ? u64(oldPolled.reply) : "certificate";
const oldRead = await old.query(cid, { methodName: "read", arg: empty });
out.legacy_query_reply = u64(oldRead.reply.arg);

console.log(JSON.stringify(out));
