// The model-file loader's own thread: downloads, SHA-256 checks and caches the files (weights.js)
// while the chat worker is busy booting Pyodide, which would otherwise starve the download.
// Progress goes straight to the page through a MessagePort; the verified bytes go back to the
// chat worker as transferred ArrayBuffers (no copy).
//
//   chat worker → here   {type: "port", port}                 where progress goes (the page)
//                        {type: "load", id, modelBase, manifest, manifestSha256, paths}
//   here → chat worker   {type: "loaded", id, files: [[path, Uint8Array]], networkBytes, seconds}
//                        {type: "failed", id, kind, message}
//   here → port          {type: "progress", loaded, total, networkBytes, rate, eta, file, fromCache, done}

import { loadFiles } from "./weights.js";

let port = null;

self.onmessage = async ({ data }) => {
  if (data.type === "port") {
    port = data.port;
    return;
  }
  if (data.type !== "load") return;
  const { id, modelBase, manifest, manifestSha256, paths } = data;
  try {
    const result = await loadFiles({
      modelBase, manifest, manifestSha256, paths,
      onProgress: (p) => (port ?? self).postMessage({ type: "progress", ...p }),
    });
    const files = [...result.files.entries()];
    self.postMessage({ type: "loaded", id, files, networkBytes: result.networkBytes, seconds: result.seconds },
      files.map(([, bytes]) => bytes.buffer));
  } catch (error) {
    self.postMessage({ type: "failed", id, kind: error.kind ?? "runtime", message: String(error?.message ?? error) });
  }
};
