// The model-file loader's own thread: certifies the manifest (certify.mjs) and downloads, SHA-256
// checks and caches the files (weights.js) while the chat worker is busy booting Pyodide, which
// would otherwise starve both.
// Progress goes straight to the page through a MessagePort; the verified bytes go back to the
// chat worker as transferred ArrayBuffers (no copy).
//
//   chat worker → here   {type: "port", port}                 where progress goes (the page)
//                        {type: "manifest", id, config, agentUrl, prefetch?: {variant, engine, speeds, threads}}
//                        {type: "load", id, modelBase, manifest, manifestSha256, paths}
//   here → chat worker   {type: "manifest", id, manifest, sha256, rootKey}
//                        {type: "loaded", id, files: [[path, Uint8Array]], networkBytes, seconds, prefetched}
//                        {type: "failed", id, kind, message}
//   here → port          {type: "progress", loaded, total, networkBytes, rate, eta, file, fromCache, done}

import { certifiedManifest } from "./certify.mjs";
import { chooseEngine, modelFile, speedKey } from "./engine.mjs";
import { deviceObstacle, loadFiles, TOKENIZER_FILES } from "./weights.js";

let port = null;
// The model the chat worker's init will ask for, loading since the manifest was certified:
// {key: its paths, promise}. The chat worker hears nothing while Pyodide boots, so it asks late.
let prefetched = null;
const onProgress = (p) => (port ?? self).postMessage({ type: "progress", ...p });

/** Start loading the files chat-worker init's loadModel will ask for (same choice, same order). */
function prefetch({ manifest, sha256 }, config, { variant, engine, speeds, threads }) {
  if (deviceObstacle(manifest, variant)) return;
  let path;
  try {
    path = modelFile(manifest, variant, chooseEngine(engine, manifest, variant, speeds?.[speedKey(sha256, variant, threads)]));
  } catch {
    return; // the chat worker will explain
  }
  if (!path) return;
  const paths = [...TOKENIZER_FILES, path];
  const promise = loadFiles({ modelBase: config.model_base, manifest, manifestSha256: sha256, paths, onProgress })
    .then((result) => ({ ...result, prefetched: true }));
  promise.catch(() => {}); // reported when asked for
  prefetched = { key: paths.join("\n"), promise };
}

/** The prefetch's result for `paths`, or null: all of it when they are its paths (its buffers are
 * transferred once, so it is let go), copies of some of its files when they are among them (the
 * tokenizer, which init asks for first: not downloaded twice; if the prefetch failed, `load` them
 * on their own, as if there had been none); any other request lets it go. */
function fromPrefetch(paths, load) {
  if (!prefetched) return null;
  const { key, promise } = prefetched;
  const held = key.split("\n");
  if (key === paths.join("\n")) {
    prefetched = null;
    return promise;
  }
  if (paths.every((p) => held.includes(p))) {
    return promise.then((result) => ({ ...result, networkBytes: 0, files: new Map(paths.map((p) => [p, result.files.get(p).slice()])) }), load);
  }
  prefetched = null;
  return null;
}

self.onmessage = async ({ data }) => {
  if (data.type === "port") {
    port = data.port;
    return;
  }
  if (data.type === "manifest") {
    try {
      const certified = await certifiedManifest(data.config, data.agentUrl);
      self.postMessage({ type: "manifest", id: data.id, ...certified });
      if (data.prefetch) prefetch(certified, data.config, data.prefetch);
    } catch (error) {
      self.postMessage({ type: "failed", id: data.id, kind: error.kind ?? "runtime", message: String(error?.message ?? error) });
    }
    return;
  }
  if (data.type !== "load") return;
  const { id, modelBase, manifest, manifestSha256, paths } = data;
  try {
    const load = () => loadFiles({ modelBase, manifest, manifestSha256, paths, onProgress });
    const result = await (fromPrefetch(paths, load) ?? load());
    const files = [...result.files.entries()];
    self.postMessage({ type: "loaded", id, files, networkBytes: result.networkBytes, seconds: result.seconds, prefetched: Boolean(result.prefetched) },
      files.map(([, bytes]) => bytes.buffer));
  } catch (error) {
    self.postMessage({ type: "failed", id, kind: error.kind ?? "runtime", message: String(error?.message ?? error) });
  }
};
