// Bundled by the browser test (esbuild) into a page the http_echo test canister serves: the
// page calls its own canister through the JS agent, on the same origin, verification on.
import { HttpAgent } from "@icp-sdk/core/agent";
import { IDL } from "@icp-sdk/core/candid";
import { Principal } from "@icp-sdk/core/principal";

async function main() {
  const canisterId = Principal.fromText(location.hostname.split(".")[0]);
  const agent = await HttpAgent.create({ host: location.origin, shouldFetchRootKey: true });
  const Chunk = IDL.Record({ body: IDL.Vec(IDL.Nat8), token: IDL.Opt(IDL.Nat32) });
  const reply = await agent.query(canisterId, { methodName: "http_stream", arg: IDL.encode([IDL.Nat32], [1]) });
  if (reply.status !== "replied") throw new Error(`query rejected: ${reply.reject_message}`);
  const [chunk] = IDL.decode([Chunk], reply.reply.arg);
  document.querySelector("#out").textContent = new TextDecoder().decode(new Uint8Array(chunk.body));
  document.querySelector("#isolated").textContent = String(self.crossOriginIsolated);
}

main().catch((error) => { document.querySelector("#out").textContent = `error: ${error.message}`; });
