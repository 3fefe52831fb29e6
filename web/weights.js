// Model files: the bundle's manifest first, then the files it lists, each checked against its
// SHA-256 before anything uses it, and kept in Cache Storage under a cache named by the
// manifest's own SHA-256 — so a reload downloads nothing and a new manifest starts afresh.
// Runs in the model-file loader's thread (weights-worker.js: the bytes go to the chat worker's
// engine, never through the page).

import { PRECISIONS } from "./protocol.mjs";

const CACHE_PREFIX = "icchat-model-";
/** The manifest format this page reads (docs/model-bundle.md). */
export const FORMAT_VERSION = 2;

export const TOKENIZER_FILES = ["vocab.json", "merges.txt"];
/** The manifest `role` of the file each engine runs (its `variant` is the precision). */
const ENGINE_ROLES = { icchat: "canister-weights", "onnxruntime-web": "onnx-decoder" };

/** The bundle file `engine` ("icchat" | "onnxruntime-web") runs at `precision` ("q8" | "f32"),
 * from the manifest's role and variant; null if the bundle has none. */
export function modelFile(manifest, precision, engine) {
  if (!PRECISIONS.includes(precision)) throw new ModelError("config", `Unknown model precision ${JSON.stringify(precision)} (${PRECISIONS.join(" or ")})`);
  const role = ENGINE_ROLES[engine];
  if (!role) throw new ModelError("config", `Unknown engine ${JSON.stringify(engine)}`);
  return manifest.files.find((f) => f.role === role && f.variant === precision)?.path ?? null;
}

/** The precisions the bundle has a model file for, on either engine. */
export const bundlePrecisions = (manifest) => PRECISIONS.filter((p) => Object.keys(ENGINE_ROLES).some((e) => modelFile(manifest, p, e)));

// WebAssembly SIMD (onnxruntime-web's only WASM build here needs it): a module using v128.
const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11]);

/** Why this device cannot run the bundle's model file `path` (null if it may): checked before
 * anything is loaded. */
export function deviceObstacle(manifest, path) {
  if (!WebAssembly.validate(SIMD_PROBE)) return "this browser has no WebAssembly SIMD, which the on-device model needs";
  const entry = manifest.files.find((f) => f.path === path);
  const gib = navigator.deviceMemory; // Chromium: a rounded lower bound, in GiB
  if (entry && gib && gib * 2 ** 30 < 3 * entry.size) {
    return `this device reports ${gib} GB of memory; the ${entry.variant} model needs about ${(3 * entry.size / 2 ** 30).toFixed(1)} GB`;
  }
  return null;
}

/** A failure the page explains to the user: `kind` picks the message and the way forward. */
export class ModelError extends Error {
  constructor(kind, message) {
    super(message);
    this.name = "ModelError";
    this.kind = kind; // one of protocol.mjs's ERROR_KINDS
  }
}

/** Whether `error` (from WebAssembly, onnxruntime-web or the icchat engine, which give no kind of
 * their own) says the memory ran out: a RangeError, or a WASM allocation failure by its words. */
export function outOfMemory(error) {
  return error instanceof RangeError || /out of memory|memory access out of bounds|Aborted\(OOM\)|allocat/i.test(String(error?.message ?? error));
}

export async function sha256Hex(bytes) {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function fetchOrExplain(url, options) {
  let response;
  try {
    response = await fetch(url, { mode: "cors", credentials: "omit", ...options });
  } catch (error) {
    throw new ModelError("unreachable", `The model host is unreachable (${new URL(url).host}): ${error.message}`);
  }
  if (!response.ok) {
    throw new ModelError("unreachable", `The model host answered ${response.status} ${response.statusText} for ${new URL(url).pathname}`);
  }
  return response;
}

/** manifest.json of the bundle at `modelBase`, with its SHA-256 (the cache key) and its bytes.
 * `certify(bytes, sha256)` (async) runs on the bytes as fetched, before they are even parsed:
 * the worker checks them against the gpt2 canister's certificate there. */
export async function fetchManifest(modelBase, certify = null) {
  const url = new URL("manifest.json", modelBase).href;
  const bytes = new Uint8Array(await (await fetchOrExplain(url, { cache: "no-cache" })).arrayBuffer());
  const sha256 = await sha256Hex(bytes);
  if (certify) await certify(bytes, sha256);
  let manifest;
  try {
    manifest = JSON.parse(new TextDecoder().decode(bytes));
  } catch (error) {
    throw new ModelError("manifest", `The model manifest is not valid JSON: ${error.message}`);
  }
  if (manifest.format !== "icchat-model-bundle" || !Array.isArray(manifest.files)) {
    throw new ModelError("manifest", "The model manifest is not an icchat model bundle");
  }
  if (manifest.format_version !== FORMAT_VERSION) {
    throw new ModelError("manifest", `The model bundle is format ${manifest.format_version}, this page reads format ${FORMAT_VERSION}: export the bundle again (icchat model export; icchat up rebuilds its own) and redeploy it`);
  }
  return { manifest, sha256, url, bytes };
}

/** The manifest entry of the file with this path (refuses files the manifest does not list). */
export function manifestEntry(manifest, path) {
  const entry = manifest.files.find((f) => f.path === path);
  if (!entry) throw new ModelError("manifest", `The model bundle has no ${path}`);
  return entry;
}

/** Open this manifest's cache and drop the caches of earlier manifests (they are stale). */
async function openCache(manifestSha256) {
  if (!self.caches) return null; // not a secure context: load without caching
  try {
    const name = CACHE_PREFIX + manifestSha256;
    for (const old of await caches.keys()) {
      if (old.startsWith(CACHE_PREFIX) && old !== name) await caches.delete(old);
    }
    return await caches.open(name);
  } catch {
    return null;
  }
}

async function readCached(cache, url, entry) {
  if (!cache) return null;
  const hit = await cache.match(url);
  if (!hit) return null;
  const bytes = new Uint8Array(await hit.arrayBuffer());
  // A damaged cache entry is dropped and fetched again, never used.
  if (bytes.length === entry.size && (await sha256Hex(bytes)) === entry.sha256) return bytes;
  await cache.delete(url);
  return null;
}

async function download(url, entry, onBytes) {
  const response = await fetchOrExplain(url, { cache: "no-store" });
  let bytes;
  try {
    bytes = new Uint8Array(entry.size);
  } catch {
    throw new ModelError("memory", `Out of memory: ${(entry.size / 1e6).toFixed(0)} MB for ${entry.path} could not be allocated`);
  }
  const reader = response.body.getReader();
  let offset = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (offset + value.length > bytes.length) {
      await reader.cancel();
      throw new ModelError("integrity", `${entry.path} is larger than the manifest says (${entry.size} bytes): refused, not used.`);
    }
    bytes.set(value, offset);
    offset += value.length;
    onBytes(value.length);
  }
  if (offset !== entry.size) {
    throw new ModelError("integrity", `${entry.path} has ${offset} bytes, the manifest says ${entry.size}: refused, not used.`);
  }
  return bytes;
}

/**
 * Load `paths` of the bundle: from the cache when present and intact, else from the network.
 * Every file is checked against the manifest's SHA-256; a mismatch throws ModelError
 * ("integrity") and the file is neither cached nor returned. `onProgress` gets
 * {loaded, total, networkBytes, rate (B/s), eta (s), file, fromCache, done}.
 */
export async function loadFiles({ modelBase, manifest, manifestSha256, paths, onProgress }) {
  const entries = paths.map((p) => manifestEntry(manifest, p));
  const total = entries.reduce((sum, e) => sum + e.size, 0);
  const cache = await openCache(manifestSha256);
  const started = performance.now();
  let loaded = 0;
  let networkBytes = 0;
  let lastReport = 0;
  const report = (file, fromCache, force = false) => {
    const now = performance.now();
    if (!force && now - lastReport < 100) return;
    lastReport = now;
    const seconds = Math.max((now - started) / 1000, 1e-3);
    const rate = networkBytes / seconds;
    const eta = rate > 0 ? (total - loaded) / rate : null;
    onProgress({ loaded, total, networkBytes, rate, eta, file, fromCache, done: loaded >= total });
  };
  report(entries[0]?.path ?? "", false, true);
  const files = new Map();
  for (const entry of entries) {
    // the content hash in the URL: the model host may let caches keep it forever (immutable)
    const url = new URL(`${entry.path}?sha256=${entry.sha256}`, modelBase).href;
    let bytes = await readCached(cache, url, entry);
    const fromCache = bytes !== null;
    if (!fromCache) {
      bytes = await download(url, entry, (n) => {
        loaded += n;
        networkBytes += n;
        report(entry.path, false);
      });
      const actual = await sha256Hex(bytes);
      if (actual !== entry.sha256) {
        throw new ModelError("integrity", `${entry.path} does not match the model's manifest (SHA-256 ${actual.slice(0, 12)}…, expected ${entry.sha256.slice(0, 12)}…). The file was refused and nothing was run.`);
      }
      if (cache) {
        try {
          await cache.put(url, new Response(bytes, { headers: { "Content-Type": "application/octet-stream" } }));
        } catch {
          // Quota exceeded or storage off: this session still runs, the next load downloads again.
        }
      }
    }
    if (fromCache) loaded += entry.size;
    files.set(entry.path, bytes);
    report(entry.path, fromCache, true);
  }
  report("", false, true);
  return { files, networkBytes, seconds: (performance.now() - started) / 1000 };
}
