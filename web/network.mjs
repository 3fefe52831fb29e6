// Which network and canisters the page talks to, from the URL it is served from.
//
//   import { deploymentFrom } from "./network.mjs";
//   const d = deploymentFrom(location, config);   // config: config.json (fallbacks only)
//   // d = { network: "local" | "ic", apiHost, frontendCanister, gpt2Canister, modelBase,
//   //       fetchRootKey, from: { network, frontendCanister, gpt2Canister } }
//
// The URL decides:  <id>.localhost[:port], <id>.raw.localhost  -> local replica on that port
//                   <id>.icp0.io, <id>.ic0.app (and .raw.)       -> mainnet, API https://icp-api.io
//                   raw host ?canisterId=<id>                    -> that host (loopback: local)
// config.json only fills in what the URL cannot say (the gpt2 canister's id) or everything when
// the page is on a host we do not recognise (a custom domain). The root key is fetched only on a
// local replica: mainnet's is built into the agent, and fetching it there would trust anyone.

const PRINCIPAL = /^[a-z2-7]{5}(-[a-z2-7]{5})*(-[a-z2-7]{1,5})?$/;
const BASE32 = "abcdefghijklmnopqrstuvwxyz234567";
const MAINNET_DOMAINS = ["icp0.io", "ic0.app"];
const MAINNET_API = "https://icp-api.io";
const LOOPBACK = new Set(["localhost", "127.0.0.1", "[::1]", "::1"]);

function crc32(bytes) {
  let crc = ~0;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1));
  }
  return ~crc >>> 0;
}

// Principal text (interface spec, "Textual representation of principals"): base32 of
// CRC-32 (big-endian) · bytes, in groups of five — the checksum keeps "hello" from passing.
function isPrincipal(text) {
  if (typeof text !== "string" || text.length > 63 || !PRINCIPAL.test(text)) return false;
  const digits = text.replaceAll("-", "");
  const bytes = [];
  let buffer = 0;
  let bits = 0;
  for (const ch of digits) {
    buffer = (buffer << 5) | BASE32.indexOf(ch);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      bytes.push((buffer >>> bits) & 0xff);
    }
  }
  if (bytes.length < 4 || (buffer & ((1 << bits) - 1)) !== 0) return false;
  const body = bytes.slice(4);
  const check = ((bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3]) >>> 0;
  return body.length <= 29 && crc32(body) === check;
}

// { kind: "local" | "ic", canister } for <id>[.raw].<domain>, null otherwise
function canisterHost(hostname) {
  const labels = hostname.toLowerCase().split(".");
  const id = labels[0];
  const rest = labels.slice(labels[1] === "raw" ? 2 : 1).join(".");
  if (!isPrincipal(id) || !rest) return null;
  if (rest === "localhost") return { kind: "local", canister: id };
  if (MAINNET_DOMAINS.includes(rest)) return { kind: "ic", canister: id };
  return null;
}

function portSuffix(location) {
  return location.port ? `:${location.port}` : "";
}

// The local API origin: config's when it is a loopback URL on the page's port (the CSP names it),
// else http(s)://localhost:<port>.
function localApiHost(location, config) {
  try {
    const api = new URL(config?.api_host ?? "");
    if (LOOPBACK.has(api.hostname) && api.port === location.port) return api.origin;
  } catch { /* no usable api_host in config.json */ }
  return `${location.protocol}//localhost${portSuffix(location)}`;
}

function modelBaseFor(network, location, gpt2) {
  if (network === "ic") return `https://${gpt2}.icp0.io/model/`;
  return `${location.protocol}//${gpt2}.localhost${portSuffix(location)}/model/`;
}

export function deploymentFrom(location, config = {}) {
  config = config ?? {};
  const url = new URL(location.href ?? String(location));
  const fromHost = canisterHost(url.hostname);
  const queryId = url.searchParams.get("canisterId");
  let network = null;
  let frontendCanister = null;
  let apiHost = null;
  if (fromHost) {
    ({ kind: network, canister: frontendCanister } = fromHost);
    apiHost = network === "ic" ? MAINNET_API : localApiHost(url, config);
  } else if (isPrincipal(queryId)) {
    frontendCanister = queryId;
    const host = url.hostname.toLowerCase();
    const mainnet = host === "icp-api.io" || MAINNET_DOMAINS.some((d) => host === d || host.endsWith(`.${d}`));
    network = mainnet ? "ic" : LOOPBACK.has(host) ? "local" : null;
    apiHost = network === "ic" ? MAINNET_API : url.origin;
    if (network === null) network = config.network ?? "local";
  }
  const fromUrl = network !== null;
  if (!fromUrl) {
    network = config.network === "ic" ? "ic" : "local";
    apiHost = config.api_host ?? (network === "ic" ? MAINNET_API : url.origin);
    frontendCanister = isPrincipal(config.frontend_canister) ? config.frontend_canister : null;
  }
  const gpt2Canister = isPrincipal(config.gpt2_canister) ? config.gpt2_canister : null;
  // the model's origin follows the network the URL names; config's model_base otherwise
  const modelBase = fromUrl && gpt2Canister ? modelBaseFor(network, url, gpt2Canister) : (config.model_base ?? null);
  return {
    network,
    apiHost,
    frontendCanister,
    gpt2Canister,
    modelBase,
    fetchRootKey: network === "local",
    from: { network: fromUrl ? "url" : "config", frontendCanister: fromUrl ? "url" : "config", gpt2Canister: "config" },
  };
}
