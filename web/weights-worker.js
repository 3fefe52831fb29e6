// The model-file loader's own thread: certifies the manifest (certify.mjs), chooses the engine
// that runs the model on this device (engine.mjs chooseEngine: the one place the choice is
// made) and downloads, SHA-256 checks and caches its files (weights.js), while the chat worker
// is busy booting Pyodide, which would otherwise starve all three.
// Progress goes straight to the page through a MessagePort; the verified bytes go back to the
// chat worker as transferred ArrayBuffers (no copy).
//
//   chat worker → here   {type: "port", port}                 where progress goes (the page)
//                        {type: "manifest", id, config, agentUrl}
//                        {type: "tokenizer", id}
//                            vocab.json and merges.txt alone, checked like every file: the chat
//                            (and onchain answers) start on them while the model still loads
//                        {type: "model", id, precision, engine, speeds, threads, memoryBudget, fallback, plan}
//                            engine: the setting (auto | icchat | onnxruntime-web); speeds: the
//                            page's measurements by speedKey; memoryBudget: bytes the model may use
//                            (the page's device-fit.mjs; null: unknown); fallback: another precision
//                            (q8 first) instead of one that does not fit; plan: tell the page first.
//                            Both wait for the manifest (sent first) to be certified; `prefetched`:
//                            asked before that, so the files started loading the moment it was
//                            certified (init asks at once).
//   here → chat worker   {type: "manifest", id, manifest, sha256, rootKey}
//                        {type: "tokenizer", id, files: [[path, Uint8Array]], networkBytes, seconds, prefetched}
//                        {type: "model", id, engine, path, precision, files: [[path, Uint8Array]], obstacle,
//                         networkBytes, seconds, prefetched}
//                            engine + path + precision: what was chosen and loaded (engine and path
//                            null with `obstacle`, why this device cannot run the model)
//                        {type: "failed", id, kind, message}
//   here → port          {type: "plan", precision, engine, path, download_bytes, size_bytes,
//                         memory_bytes, instead, sizes}   before the model file loads (protocol.mjs)
//                        {type: "progress", loaded, total, networkBytes, rate, eta, file, fromCache, done}

import { certifiedManifest } from "./certify.mjs";
import { chooseEngine, speedKey } from "./engine.mjs";
import { PRECISIONS } from "./protocol.mjs";
import { bytesToDownload, deviceObstacle, loadFiles, manifestEntry, memoryNeed, modelFile, TOKENIZER_FILES } from "./weights.js";

let port = null;
let certified = null; // Promise<{manifest, sha256, rootKey, config}> once "manifest" was asked
let manifestKnown = false; // certified has settled
const onProgress = (p) => (port ?? self).postMessage({ type: "progress", ...p });

/** The certified manifest: every file request waits for it (the manifest is asked first). */
function manifestFirst() {
  if (!certified) throw new Error("the manifest must be asked for first");
  return certified;
}

/** `paths`, checked (the tokenizer's few files quietly: the progress shown is the model's). */
async function load(paths, report = onProgress) {
  const { manifest, sha256, config } = await manifestFirst();
  return loadFiles({ modelBase: config.model_base, manifest, manifestSha256: sha256, paths, onProgress: report });
}

/** The engine for the setting `engine` at `precision` and its file, or why this device cannot run it. */
function chooseAt(manifest, sha256, precision, { engine, speeds, threads, memoryBudget }) {
  try {
    const chosen = chooseEngine(engine, manifest, precision, speeds?.[speedKey(sha256, precision, threads)]);
    const path = modelFile(manifest, precision, chosen);
    if (!path) return { precision, obstacle: `the model bundle has no ${precision} model` };
    return { precision, engine: chosen, path, obstacle: deviceObstacle(manifest, path, chosen, memoryBudget ?? null) };
  } catch (error) {
    return { precision, obstacle: error.message };
  }
}

/** What to load for `request`; with `fallback`, another precision when the one asked for does not
 * fit this device (or has no file for the engine setting): the first in PRECISIONS that does, q8
 * (the smaller) first; `instead` says why the one asked for was not loaded. */
function choose(manifest, sha256, request) {
  const asked = chooseAt(manifest, sha256, request.precision, request);
  if (!asked.obstacle || !request.fallback) return { ...asked, instead: null };
  const other = PRECISIONS.filter((p) => p !== request.precision).map((p) => chooseAt(manifest, sha256, p, request)).find((c) => !c.obstacle);
  return other ? { ...other, instead: asked.obstacle } : { ...asked, instead: null };
}

/** The page hears what is about to load, before the download starts: the `plan` message. */
async function postPlan(manifest, sha256, config, { precision, engine, path, instead }) {
  const sizes = {}; // each precision's file on this engine (the settings show them)
  for (const p of PRECISIONS) {
    const file = modelFile(manifest, p, engine);
    if (file) sizes[p] = manifestEntry(manifest, file).size;
  }
  const download = await bytesToDownload({ modelBase: config.model_base, manifest, manifestSha256: sha256, paths: [path] });
  (port ?? self).postMessage({
    type: "plan", precision, engine, path, download_bytes: download, size_bytes: manifestEntry(manifest, path).size,
    memory_bytes: memoryNeed(manifest, path, engine), instead, sizes,
  });
}

async function loadModel(request) {
  const { manifest, sha256, config } = await manifestFirst();
  const chosen = choose(manifest, sha256, request);
  const { engine, path, obstacle, precision } = chosen;
  if (obstacle) return { files: new Map(), networkBytes: 0, seconds: 0, engine: null, path: null, precision, obstacle };
  if (request.plan) await postPlan(manifest, sha256, config, chosen);
  return { ...(await load([path])), engine, path, precision, obstacle: null };
}

const loadTokenizer = () => load(TOKENIZER_FILES, () => {});

const fail = (id, error) => self.postMessage({ type: "failed", id, kind: error.kind ?? "runtime", message: String(error?.message ?? error) });

self.onmessage = async ({ data }) => {
  if (data.type === "port") {
    port = data.port;
  } else if (data.type === "manifest") {
    certified = certifiedManifest(data.config, data.agentUrl).then((c) => ({ ...c, config: data.config }));
    certified.catch(() => {}).finally(() => { manifestKnown = true; }); // reported here, and to every model request
    try {
      const { manifest, sha256, rootKey } = await certified;
      self.postMessage({ type: "manifest", id: data.id, manifest, sha256, rootKey });
    } catch (error) {
      fail(data.id, error);
    }
  } else if (data.type === "model" || data.type === "tokenizer") {
    const prefetched = !manifestKnown;
    try {
      const { files, ...loaded } = await (data.type === "model" ? loadModel(data) : loadTokenizer());
      const entries = [...files.entries()];
      self.postMessage({ type: data.type, id: data.id, ...loaded, files: entries, prefetched }, entries.map(([, bytes]) => bytes.buffer));
    } catch (error) {
      fail(data.id, error);
    }
  }
};
