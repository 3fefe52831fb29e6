// Checks that a model bundle's manifest.json is the one the gpt2 canister holds and runs onchain,
// with the official JS agent (@icp-sdk/core) and nothing but the IC root key to trust:
//   1. query `model_certificate` → {manifest_sha256, certificate, tree};
//   2. verify the data certificate (BLS signature, subnet delegation, freshness) against the root
//      key and read the canister's certified_data from it;
//   3. the witness `tree` must hash to that certified_data, and its leaf
//      ["http_assets", "/model/manifest.json"] must be manifest_sha256;
//   4. the manifest bytes the page fetched must hash to the same value.
// The manifest then vouches for every other file by size and SHA-256 (docs/model-bundle.md), which
// the canister itself checked at commit. Throws an Error naming the failed step.
//
// In the page this module goes through the web build's esbuild bundle (its imports are bare
// package names); in Node it imports the package directly (tests/js/gpt2_verify_manifest.mjs).
import { Actor, Certificate, Cbor, HttpAgent, lookup_path, lookupResultToBuffer, reconstruct } from "@icp-sdk/core/agent";
import { Principal } from "@icp-sdk/core/principal";

export const MANIFEST_KEY = "/model/manifest.json";

const idlFactory = ({ IDL: I }) =>
  I.Service({
    model_certificate: I.Func(
      [],
      [I.Record({ manifest_sha256: I.Vec(I.Nat8), certificate: I.Vec(I.Nat8), tree: I.Vec(I.Nat8) })],
      ["query"],
    ),
  });

const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
const equal = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

const leb128 = (bytes) => bytes.reduceRight((value, b) => (value << 7n) | BigInt(b & 0x7f), 0n);

async function sha256(bytes) {
  return new Uint8Array(await globalThis.crypto.subtle.digest("SHA-256", bytes));
}

/**
 * @param {object} options
 * @param {HttpAgent} [options.agent]    an agent to query with (else one is made from `host`)
 * @param {string} [options.host]        the IC HTTP interface, e.g. location.origin or the local replica
 * @param {string|Principal} options.canisterId  the gpt2 canister
 * @param {Uint8Array} [options.rootKey] the IC root key (DER); default: the agent's (mainnet's)
 * @param {Uint8Array} options.manifestBytes  manifest.json as fetched
 * @param {number} [options.maxAgeInMinutes]  certificate freshness (default 5, as the agent)
 * @returns {Promise<{manifestSha256: string, certifiedData: string, certificateTimeNs: bigint, manifest: object}>}
 */
export async function verifyManifest({ agent, host, canisterId, rootKey, manifestBytes, maxAgeInMinutes = 5 }) {
  const id = typeof canisterId === "string" ? Principal.fromText(canisterId) : canisterId;
  agent ??= await HttpAgent.create({ host, ...(rootKey ? { rootKey } : {}) });
  const trusted = rootKey ?? agent.rootKey;
  if (!trusted) throw new Error("verifyManifest: no IC root key to verify against");

  const gpt2 = Actor.createActor(idlFactory, { agent, canisterId: id });
  const reply = await gpt2.model_certificate();
  const claimed = Uint8Array.from(reply.manifest_sha256);

  let certificate;
  try {
    certificate = await Certificate.create({
      certificate: Uint8Array.from(reply.certificate), rootKey: trusted, principal: { canisterId: id }, maxAgeInMinutes,
    });
  } catch (error) {
    const reason = String(error.message ?? error).split("\n")[0];
    throw new Error(`the model certificate does not verify against the root key: ${reason}`);
  }
  const certified = lookupResultToBuffer(certificate.lookup_path(["canister", id.toUint8Array(), "certified_data"]));
  if (!certified) throw new Error(`the certificate holds no certified_data for canister ${id.toText()}`);

  const tree = Cbor.decode(Uint8Array.from(reply.tree));
  const root = new Uint8Array(await reconstruct(tree));
  if (!equal(root, certified)) {
    throw new Error(`the witness tree hashes to ${hex(root)}, the certified data is ${hex(certified)}`);
  }
  const leaf = lookupResultToBuffer(lookup_path(["http_assets", MANIFEST_KEY], tree));
  if (!leaf) throw new Error(`the witness does not reveal http_assets/${MANIFEST_KEY}`);
  if (!equal(leaf, claimed)) {
    throw new Error(`the certified ${MANIFEST_KEY} hash is ${hex(leaf)}, model_certificate says ${hex(claimed)}`);
  }
  const fetched = await sha256(manifestBytes);
  if (!equal(fetched, leaf)) {
    throw new Error(`manifest.json has SHA-256 ${hex(fetched)}, the canister certifies ${hex(leaf)}`);
  }
  const certificateTimeNs = leb128(lookupResultToBuffer(certificate.lookup_path(["time"])) ?? new Uint8Array());
  return {
    manifestSha256: hex(leaf), certifiedData: hex(certified), certificateTimeNs,
    manifest: JSON.parse(new TextDecoder().decode(manifestBytes)),
  };
}

/**
 * Check one bundle file the page fetched against the verified manifest (its entry's size and
 * SHA-256); throws an Error saying what differs. `path` is relative to the bundle, e.g. "vocab.json".
 */
export async function checkFile(manifest, path, bytes) {
  const entry = manifest.files.find((f) => f.path === path);
  if (!entry) throw new Error(`${path} is not in the model manifest`);
  if (bytes.length !== entry.size) throw new Error(`${path} is ${bytes.length} bytes, the manifest says ${entry.size}`);
  const digest = hex(await sha256(bytes));
  if (digest !== entry.sha256) throw new Error(`${path} has SHA-256 ${digest}, the manifest says ${entry.sha256}`);
  return entry;
}
