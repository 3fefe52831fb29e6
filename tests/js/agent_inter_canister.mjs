// An update whose canister makes a call that outlasts the synchronous wait, through the
// official JS agent: the v4 call is answered 202, the test (reading stdout) then lets the call
// finish, and the agent polls read_state to the certified reply.
// Usage: node agent_inter_canister.mjs <replica url> <canister id> <argument hex>
// Prints {"status": <HTTP status of the call>} once the call is answered, then the reply.
import { Ed25519KeyIdentity } from "@icp-sdk/core/identity";
import { HttpAgent, pollForResponse } from "@icp-sdk/core/agent";
import { Principal } from "@icp-sdk/core/principal";

const [url, canister, argHex] = process.argv.slice(2);
const cid = Principal.fromText(canister);
const agent = await HttpAgent.create({ host: url, identity: Ed25519KeyIdentity.generate(), shouldFetchRootKey: true });
const sent = await agent.call(cid, { methodName: "call", arg: Buffer.from(argHex, "hex"), callSync: true });
console.log(JSON.stringify({ status: sent.response.status }));
const polled = await pollForResponse(agent, cid, sent.requestId);
console.log(JSON.stringify({ reply: new TextDecoder().decode(polled.reply) }));
