// The model manifest, checked against the gpt2 canister's certificate before anything it lists
// is used. Runs in the model-file loader's thread (weights-worker.js): the chat worker is busy
// booting Pyodide, whose long synchronous steps held this check back by up to 1.5 s.

import { fetchManifest, ModelError } from "./weights.js";

/** The IC root key to verify certificates with: a local replica's is fetched from its status
 * endpoint (as the agent's fetchRootKey does: it is generated on the developer's machine); on
 * mainnet ("ic") null: the agent's built-in key, nothing fetched. */
async function rootKeyFor(config, agent) {
  if (config.network === "local") {
    const local = await agent.HttpAgent.create({ host: config.api_host, shouldFetchRootKey: true });
    return local.rootKey;
  }
  if (config.network === "ic") return null;
  throw new ModelError("config", `config.json has an unknown network ${JSON.stringify(config.network)}`);
}

/** The manifest must be the one the gpt2 canister certifies: else nothing runs. -> the root key. */
async function certifyManifest(agent, config, manifestBytes, sha256) {
  let rootKey;
  try {
    if (!config.gpt2_canister || !config.api_host) throw new Error("config.json names no gpt2 canister or API host to check with");
    rootKey = await rootKeyFor(config, agent);
    await agent.verifyManifest({
      host: config.api_host, canisterId: config.gpt2_canister, manifestBytes, ...(rootKey ? { rootKey } : {}),
    });
  } catch (error) {
    if (error instanceof ModelError) throw error;
    // The agent's own errors (network, a reject: the canister stopped) say nothing about the
    // manifest: the check could not be made. verify-manifest.mjs's errors say what differs.
    if (error?.cause?.code !== undefined && error?.cause?.kind !== undefined) {
      throw new ModelError("unreachable", `Could not ask the gpt2 canister (${config.api_host}) to certify the model's manifest: ${agent.rejectReason(error)}`);
    }
    throw new ModelError("uncertified", `The model's manifest is not the one the gpt2 canister certifies: ${error.message ?? error}. Nothing was loaded.`);
  }
  if (config.manifest_sha256 && config.manifest_sha256 !== sha256) {
    throw new ModelError("config", `config.json expects the manifest ${config.manifest_sha256.slice(0, 12)}…, the gpt2 canister certifies ${sha256.slice(0, 12)}…: redeploy the page`);
  }
  return rootKey;
}

/** Fetch the manifest from config.model_base and certify it with the agent at agentUrl.
 * -> {manifest, sha256, rootKey} */
export async function certifiedManifest(config, agentUrl) {
  let rootKey = null;
  const { manifest, sha256 } = await fetchManifest(config.model_base, async (bytes, sha) => {
    let agent;
    try {
      agent = await import(agentUrl);
    } catch (error) {
      throw new ModelError("runtime", `Could not load the IC agent (${agentUrl}): ${error.message}`);
    }
    rootKey = await certifyManifest(agent, config, bytes, sha);
  });
  return { manifest, sha256, rootKey };
}
