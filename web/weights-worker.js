// The model-file loader's own thread: certifies the manifest (certify.mjs), chooses the engine
// that runs the model on this device (engine.mjs chooseEngine: the one place the choice is
// made) and downloads, SHA-256 checks and caches its files (weights.js), while the chat worker
// is busy booting Pyodide, which would otherwise starve all three.
// Progress goes straight to the page through a MessagePort; the verified bytes go back to the
// chat worker as transferred ArrayBuffers (no copy).
//
//   chat worker → here   {type: "port", port}                 where progress goes (the page)
//                        {type: "manifest", id, config, agentUrl}
//                        {type: "model", id, precision, engine, speeds, threads, tokenizer}
//                            engine: the setting (auto | icchat | onnxruntime-web); speeds: the
//                            page's measurements by speedKey; tokenizer: load vocab.json and
//                            merges.txt too. Waits for the manifest (sent first) to be certified;
//                            `prefetched`: it was asked before that, so its files started loading
//                            the moment the manifest was certified (init asks at once).
//   here → chat worker   {type: "manifest", id, manifest, sha256, rootKey}
//                        {type: "model", id, engine, path, files: [[path, Uint8Array]], obstacle,
//                         networkBytes, seconds, prefetched}
//                            engine + path: what was chosen and loaded (null with `obstacle`, why
//                            this device cannot run the model; the tokenizer's files still come)
//                        {type: "failed", id, kind, message}
//   here → port          {type: "progress", loaded, total, networkBytes, rate, eta, file, fromCache, done}

import { certifiedManifest } from "./certify.mjs";
import { chooseEngine, speedKey } from "./engine.mjs";
import { deviceObstacle, loadFiles, modelFile, TOKENIZER_FILES } from "./weights.js";

/** Failures that stop everything: a model this device cannot hold leaves onchain answers. */
const FATAL = new Set(["integrity", "uncertified", "unreachable", "manifest", "config"]);

let port = null;
let certified = null; // Promise<{manifest, sha256, rootKey, config}> once "manifest" was asked
let manifestKnown = false; // certified has settled
const onProgress = (p) => (port ?? self).postMessage({ type: "progress", ...p });

async function load(paths) {
  if (!paths.length) return { files: new Map(), networkBytes: 0, seconds: 0 };
  const { manifest, sha256, config } = await certified;
  return loadFiles({ modelBase: config.model_base, manifest, manifestSha256: sha256, paths, onProgress });
}

/** The engine for the setting `engine` at `precision` and its file, or why this device cannot run it. */
function choose(manifest, sha256, { precision, engine, speeds, threads }) {
  try {
    const chosen = chooseEngine(engine, manifest, precision, speeds?.[speedKey(sha256, precision, threads)]);
    const path = modelFile(manifest, precision, chosen);
    if (!path) return { obstacle: `the model bundle has no ${precision} model` };
    return { engine: chosen, path, obstacle: deviceObstacle(manifest, path) };
  } catch (error) {
    return { obstacle: error.message };
  }
}

async function loadModel(request) {
  if (!certified) throw new Error("the manifest must be asked for first");
  const { manifest, sha256 } = await certified;
  const tokenizer = request.tokenizer ? TOKENIZER_FILES : [];
  const { engine, path, obstacle } = choose(manifest, sha256, request);
  const without = async (reason) => ({ ...(await load(tokenizer)), engine: null, path: null, obstacle: reason });
  if (obstacle) return without(obstacle);
  try {
    return { ...(await load([...tokenizer, path])), engine, path, obstacle: null };
  } catch (error) {
    if (!request.tokenizer || FATAL.has(error.kind)) throw error;
    return without(`the model could not be loaded here: ${error.message}`);
  }
}

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
  } else if (data.type === "model") {
    const prefetched = !manifestKnown;
    try {
      const { files, networkBytes, seconds, engine, path, obstacle } = await loadModel(data);
      const entries = [...files.entries()];
      self.postMessage({ type: "model", id: data.id, engine, path, obstacle, files: entries, networkBytes, seconds, prefetched },
        entries.map(([, bytes]) => bytes.buffer));
    } catch (error) {
      fail(data.id, error);
    }
  }
};
