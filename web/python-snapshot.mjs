// A memory snapshot of Pyodide's interpreter just after its boot, so that later visits restore
// it (≈ 0.3 s here) instead of booting the interpreter again (≈ 1.4 s warm on this machine's
// 2 cores; the boot was most of a warm start). Made once per Pyodide build, by
// snapshot-worker.js in a thread of its own while the chat is idle; kept in Cache Storage under
// the build's content-hashed URL, so a new Pyodide build never restores an old image. Only the
// bare interpreter is in it: our packages are installed after the restore as after a boot.
//
// Pyodide calls the options behind this private (`_makeSnapshot`, `_loadSnapshot`,
// makeMemorySnapshot); they are pinned with pyodide itself (package-lock.json), and a snapshot
// that fails to restore is dropped and the interpreter booted as usual.

const CACHE = "icchat-python-snapshot";
const keyOf = (pyodideUrl) => new URL("interpreter.snapshot", pyodideUrl).href;

/** The snapshot made for the Pyodide build at pyodideUrl, or null. */
export async function cachedSnapshot(pyodideUrl) {
  if (!self.caches) return null;
  const response = await (await caches.open(CACHE)).match(keyOf(pyodideUrl));
  return response ? new Uint8Array(await response.arrayBuffer()) : null;
}

/** Forget every snapshot (one that did not restore, or of another build). */
export async function dropSnapshots() {
  if (self.caches) await caches.delete(CACHE);
}

/** Boot Pyodide (loadPyodide from pyodide.mjs, `options` as for a boot) to make its snapshot, and
 * keep it for this build (called by snapshot-worker.js). -> its size in bytes */
export async function makeSnapshot(loadPyodide, options) {
  const pyodide = await loadPyodide({ ...options, _makeSnapshot: true });
  const bytes = pyodide.makeMemorySnapshot();
  await dropSnapshots(); // one build's image at a time: an old one is 30 MB of nothing
  await (await caches.open(CACHE)).put(keyOf(options.indexURL), new Response(bytes));
  return bytes.length;
}

/** The idle scheduler's job (idle.mjs) for a visit that booted the interpreter: make the snapshot
 * the next visit restores, in a thread of its own (snapshot-worker.js; a few seconds of one
 * core) while the chat is quiet. A reply stops it (nothing is kept of a half-made one) and it is
 * made afresh at the next quiet moment. `post` tells the page each phase (protocol.mjs). */
export function snapshotJob({ pyodideUrl, options, post }) {
  return async (run) => {
    while (await run.whenIdle()) {
      const worker = new Worker(new URL("snapshot-worker.js", import.meta.url), { type: "module" });
      post({ type: "snapshot", phase: "making" });
      const data = await new Promise((resolve) => {
        worker.onmessage = ({ data }) => resolve(data);
        worker.onerror = (event) => resolve({ ok: false, message: event.message });
        run.onBusy(() => resolve({ ok: false, calledOff: true }));
        worker.postMessage({ pyodide: pyodideUrl, options });
      });
      worker.terminate();
      if (data.calledOff) {
        post({ type: "snapshot", phase: "stopped" });
        continue;
      }
      if (data.ok) console.log(`interpreter snapshot kept for the next visit (${(data.bytes / 2 ** 20).toFixed(0)} MB)`);
      else console.warn("no interpreter snapshot:", data.message);
      post({ type: "snapshot", phase: data.ok ? "kept" : "failed" });
      return;
    }
  };
}
