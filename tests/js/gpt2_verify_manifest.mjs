// The page's manifest check (web/verify-manifest.mjs, official JS agent) against the gpt2 canister
// in the local replica: fetch /model/manifest.json through the replica's HTTP gateway, verify it,
// check every file it lists, fetched the same way, and show that a changed manifest or file and
// another root key are refused.
// Usage: node gpt2_verify_manifest.mjs <replica url> <canister id> <root key DER hex> <another root key DER hex>
// Prints JSON: {ok, manifest_sha256, certified_data, certificate_time_ns, manifest_files, checked_files,
//               fetched_sha256, tampered_error, wrong_root_key_error, tampered_file_error}
import { createHash } from "node:crypto";
import http from "node:http";

import { HttpAgent } from "@icp-sdk/core/agent";

import { MANIFEST_KEY, checkFile, verifyManifest } from "../../web/verify-manifest.mjs";

const [url, canisterId, rootKeyHex, otherKeyHex] = process.argv.slice(2);
const rootKey = Uint8Array.from(Buffer.from(rootKeyHex, "hex"));
const otherKey = Uint8Array.from(Buffer.from(otherKeyHex, "hex"));
const { port } = new URL(url);

// GET through the gateway as a browser on http://<id>.localhost:<port>/ would.
function gatewayGet(path) {
  return new Promise((resolve, reject) => {
    const request = http.get(
      { host: "127.0.0.1", port, path, headers: { Host: `${canisterId}.localhost:${port}` } },
      (response) => {
        const parts = [];
        response.on("data", (part) => parts.push(part));
        response.on("end", () => {
          if (response.statusCode !== 200) reject(new Error(`GET ${path}: HTTP ${response.statusCode}`));
          else resolve(new Uint8Array(Buffer.concat(parts)));
        });
      },
    );
    request.on("error", reject);
  });
}

async function refusal(options) {
  try {
    await verifyManifest(options);
    return null;
  } catch (error) {
    return String(error.message ?? error);
  }
}

const manifestBytes = await gatewayGet(MANIFEST_KEY);
const agent = await HttpAgent.create({ host: url, rootKey });
const verified = await verifyManifest({ agent, canisterId, rootKey, manifestBytes });

const checked = {};
for (const file of verified.manifest.files) {
  const bytes = await gatewayGet(`/model/${file.path}`);
  checked[file.path] = (await checkFile(verified.manifest, file.path, bytes)).sha256;
}
const first = verified.manifest.files[0];
const changedFile = await gatewayGet(`/model/${first.path}`);
changedFile[0] ^= 1;

const tampered = Uint8Array.from(manifestBytes);
tampered[tampered.length - 2] ^= 1;

console.log(JSON.stringify({
  ok: true,
  manifest_sha256: verified.manifestSha256,
  certified_data: verified.certifiedData,
  certificate_time_ns: String(verified.certificateTimeNs),
  manifest_files: verified.manifest.files.map((f) => f.path),
  checked_files: checked,
  fetched_sha256: createHash("sha256").update(manifestBytes).digest("hex"),
  tampered_error: await refusal({ agent, canisterId, rootKey, manifestBytes: tampered }),
  wrong_root_key_error: await refusal({ agent, canisterId, rootKey: otherKey, manifestBytes }),
  tampered_file_error: await checkFile(verified.manifest, first.path, changedFile).then(() => null, (e) => e.message),
}));
