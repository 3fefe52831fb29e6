// The official uploader (@dfinity/assets 3.4.3 on @dfinity/agent 3.4.3) against the asset canister
// on the local replica's HTTP interface, root key fetched (as dfx does locally).
// Usage: node upload.mjs <replica url> <canister id> <ed25519 seed hex> principal
//        node upload.mjs <replica url> <canister id> <ed25519 seed hex> upload <folder>
// Prints JSON: {principal} or {keys, listed, roundtrip: {key: bool}, certified: {key: bool}, single}.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { HttpAgent } from "@dfinity/agent";
import { AssetManager } from "@dfinity/assets";
import { Ed25519KeyIdentity } from "@icp-sdk/core/identity";

const [url, canisterId, seedHex, mode, folder] = process.argv.slice(2);
const identity = Ed25519KeyIdentity.generate(Uint8Array.from(Buffer.from(seedHex, "hex")));
if (mode === "principal") {
  console.log(JSON.stringify({ principal: identity.getPrincipal().toText() }));
  process.exit(0);
}

const types = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".bin": "application/octet-stream" };
const walk = (dir) => readdirSync(dir).flatMap((name) => {
  const path = join(dir, name);
  return statSync(path).isDirectory() ? walk(path) : [path];
});

const agent = await HttpAgent.create({ host: url, identity, shouldFetchRootKey: true });
const assets = new AssetManager({ canisterId, agent });
const batch = assets.batch();
const keys = [];
for (const path of walk(folder).sort()) {
  const rel = relative(folder, path).split("\\").join("/");
  const slash = rel.lastIndexOf("/");
  const fileName = rel.slice(slash + 1), dir = slash < 0 ? "" : "/" + rel.slice(0, slash);
  const contentType = types[path.slice(path.lastIndexOf("."))];
  const headers = rel === "index.html" ? [["Cross-Origin-Opener-Policy", "same-origin"]] : undefined;
  keys.push(await batch.store(readFileSync(path), { fileName, path: dir, contentType, headers }));
}
await batch.commit();
// store(): one call for a file under maxSingleFileSize
const single = await assets.store(new TextEncoder().encode("stored in one call\n"), { fileName: "single.txt", contentType: "text/plain" });

const roundtrip = {}, certified = {};
for (const key of keys) {
  const asset = await assets.get(key);
  const bytes = await asset.toUint8Array();
  const original = readFileSync(join(folder, key.slice(1)));
  roundtrip[key] = Buffer.compare(Buffer.from(bytes), original) === 0 && (await asset.verifySha256());
  certified[key] = await asset.isCertified();
}
const listed = (await assets.list()).map((a) => a.key).sort();
console.log(JSON.stringify({ keys, listed, roundtrip, certified, single }));
