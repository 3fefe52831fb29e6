// Identity peer: request envelopes signed the way @icp-sdk/core's HttpAgent signs them.
// stdin:  {"canister": text, "delegationExpiryMs": number (absolute), "targets": [text] | null}
// stdout: [{"identity": name, "principal": text, "der": hex,
//           "envelopes": {"call": hex, "query": hex, "read_state": hex}}]
import { readFileSync } from 'node:fs';
import { Cbor, Expiry, makeNonce, requestIdOf } from '@icp-sdk/core/agent';
import {
  DelegationChain, DelegationIdentity, ECDSAKeyIdentity, Ed25519KeyIdentity,
} from '@icp-sdk/core/identity';
import { Secp256k1KeyIdentity } from '@icp-sdk/core/identity/secp256k1';
import { Principal } from '@icp-sdk/core/principal';

const input = JSON.parse(readFileSync(0, 'utf8'));
const canister = Principal.fromText(input.canister);
const seed = (n) => new Uint8Array(32).fill(n);
const hex = (u8) => Buffer.from(u8).toString('hex');

const ed = Ed25519KeyIdentity.generate(seed(1));
const k1 = Secp256k1KeyIdentity.generate(seed(2));
const p256 = await ECDSAKeyIdentity.generate();
const session = Ed25519KeyIdentity.generate(seed(3));
const expiration = new Date(input.delegationExpiryMs);
const targets = input.targets ? input.targets.map((t) => Principal.fromText(t)) : undefined;
const chain1 = await DelegationChain.create(k1, p256.getPublicKey(), expiration, { targets });
const chain2 = await DelegationChain.create(p256, session.getPublicKey(), expiration, { previous: chain1 });
const delegated = DelegationIdentity.fromDelegation(session, chain2);
const single = DelegationIdentity.fromDelegation(session, await DelegationChain.create(ed, session.getPublicKey(), expiration));

async function envelope(identity, body) {
  const signed = await identity.transformRequest({ endpoint: body.request_type, request: {}, body });
  return hex(Cbor.encode(signed.body));
}

const out = [];
for (const [name, identity] of Object.entries({ ed25519: ed, secp256k1: k1, p256, delegation2: delegated, delegation1: single })) {
  const sender = identity.getPrincipal();
  const common = { sender, ingress_expiry: Expiry.fromDeltaInMilliseconds(5 * 60 * 1000), nonce: makeNonce() };
  const call = { request_type: 'call', canister_id: canister, method_name: 'greet', arg: new Uint8Array([0x44, 0x49, 0x44, 0x4c, 0, 0]), ...common };
  const query = { ...call, request_type: 'query', method_name: 'hello' };
  const readState = { request_type: 'read_state', paths: [[new TextEncoder().encode('request_status'), requestIdOf(call)]], ...common };
  out.push({
    identity: name,
    principal: sender.toText(),
    der: hex(('getDelegation' in identity ? identity.getDelegation().publicKey : identity.getPublicKey().toDer())),
    requestId: hex(requestIdOf(call)),
    envelopes: { call: await envelope(identity, call), query: await envelope(identity, query), read_state: await envelope(identity, readState) },
  });
}
process.stdout.write(JSON.stringify(out));
