// Makes the interpreter snapshot (python-snapshot.mjs) in a thread of its own, once, while the
// chat is idle: {pyodide: <pyodide.mjs URL>, options: loadPyodide's} -> {ok, bytes} | {ok: false, message}.

import { makeSnapshot } from "./python-snapshot.mjs";

self.onmessage = async ({ data }) => {
  try {
    const { loadPyodide } = await import(data.pyodide);
    self.postMessage({ ok: true, bytes: await makeSnapshot(loadPyodide, data.options) });
  } catch (error) {
    self.postMessage({ ok: false, message: String(error?.message ?? error) });
  }
};
