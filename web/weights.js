// Model files: the bundle's manifest first, then the files it lists, each checked against its
// SHA-256 before anything uses it, and kept in Cache Storage under a cache named by the
// manifest's own SHA-256 — so a reload downloads nothing and a new manifest starts afresh.
// Runs in the model-file loader's thread (weights-worker.js: the bytes go to the chat worker's
// engine, never through the page).

import { formatMemory } from "./device-fit.mjs";
import { RUN_TOKENS } from "./ort-engine.mjs";
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

/** Whether this browser runs WebAssembly SIMD at all (every engine module needs it). */
export const hasSimd = () => WebAssembly.validate(SIMD_PROBE);

// What running a model file takes in memory, per engine: weighed against the page's memory budget
// (device-fit.mjs, init's memoryBudget) before anything is downloaded. Measured in Node 20 on the
// GPT-2 124M-shape bundle (process RSS, one thread, a prompt of 1000 positions):
//   icchat engine     q8 (128 MB file) 251 MB at the peak, f32 (498 MB) 1001 MB: twice the file
//                     while the engine copies the bytes into its memory; at 1000 positions the
//                     file plus the KV cache and the activations stay (180 and 596 MB).
//   onnxruntime-web   1.30, q8 (163 MB) 812 MB once the session runs, 910 MB at 1000 positions;
//                     f32 (498 MB) 2255 MB: 4.5-5x the file (the bytes, its copy in ORT's heap,
//                     the initializers graph optimisation re-lays out), and the KV cache twice
//                     (ORT tensors on the JS side, copied into its heap at every run).
// The icchat figure below is the sum of both phases (the downloaded bytes may wait for garbage
// collection while the KV cache fills), at the whole context: a bound, not a typical figure.
const F32 = 4;
/** The icchat engine's module: its code (165 kB) and the shared memory's first 256 pages (engine.mjs). */
const ICCHAT_MODULE_BYTES = 16 * 2 ** 20;
/** onnxruntime-web's peak, as a multiple of the model file's size (measured above, rounded up). */
const ORT_FILE_FACTOR = 5;

/** Bytes of memory the engine ("icchat" | "onnxruntime-web") needs to run the bundle's model file
 * `path` over the model's whole context window. */
export function memoryNeed(manifest, path, engine) {
  const { size } = manifestEntry(manifest, path);
  const { n_layer = 0, n_embd = 0, n_ctx = 0, vocab_size = 0 } = manifest.model ?? {};
  // every position's keys and values at f32 (q8 models with 32- or 64-wide heads keep them in int16: half)
  const kvCache = n_layer * 2 * n_ctx * n_embd * F32;
  if (engine === "icchat") {
    const activations = n_ctx * 11 * n_embd * F32; // canister/gpt2/buffer_plan.c plan_buffers: x, xn, qkv, att, proj, fc rows
    return 2 * size + kvCache + activations + ICCHAT_MODULE_BYTES;
  }
  return ORT_FILE_FACTOR * size + 2 * kvCache + RUN_TOKENS * vocab_size * F32; // + one run's logits
}

/** Why this device cannot run the bundle's model file `path` on `engine` (null if it may): checked
 * before anything is loaded. memoryBudget: bytes the page may use for the model (null: unknown). */
export function deviceObstacle(manifest, path, engine, memoryBudget = null) {
  if (!hasSimd()) return "this browser has no WebAssembly SIMD, which the on-device model needs";
  const need = memoryNeed(manifest, path, engine);
  if (memoryBudget && need > memoryBudget) {
    return `the ${manifestEntry(manifest, path).variant} model on ${engine === "icchat" ? "the icchat engine" : engine} needs about ${formatMemory(need)} of memory, more than the ${formatMemory(memoryBudget)} this page may use on this device`;
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

// the content hash in the URL: the model host may let caches keep it forever (immutable)
const fileUrl = (modelBase, entry) => new URL(`${entry.path}?sha256=${entry.sha256}`, modelBase).href;

/** Bytes of the bundle's `paths` that are not in this browser's cache: what loading them downloads. */
export async function bytesToDownload({ modelBase, manifest, manifestSha256, paths }) {
  const cache = await openCache(manifestSha256);
  let bytes = 0;
  for (const entry of paths.map((p) => manifestEntry(manifest, p))) {
    if (!(await cache?.match(fileUrl(modelBase, entry)))) bytes += entry.size;
  }
  return bytes;
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
    const url = fileUrl(modelBase, entry);
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
