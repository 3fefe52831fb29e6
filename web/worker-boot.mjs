// The chat worker's start: the page's configuration (config.json, build.json, the URL it is
// served from), Pyodide with our packages (restored from the interpreter snapshot when the
// browser keeps one: python-snapshot.mjs), and onnxruntime-web.

import { deploymentFrom } from "./network.mjs";
import { cachedSnapshot, dropSnapshots } from "./python-snapshot.mjs";
import { ModelError } from "./weights.js";

export const absolute = (path) => new URL(path, self.location.href).href;

async function fetchJson(path, what) {
  let response;
  try {
    response = await fetch(absolute(path), { cache: "no-cache" });
  } catch (error) {
    throw new ModelError("config", `Could not load ${what} (${path}): ${error.message}`);
  }
  if (!response.ok) throw new ModelError("config", `Could not load ${what} (${path}): HTTP ${response.status}`);
  try {
    return await response.json();
  } catch (error) {
    throw new ModelError("config", `${what} (${path}) is not valid JSON: ${error.message}`);
  }
}

/** config.json and build.json. The network and canisters come from the URL the page is served
 * from (network.mjs); config.json only fills in what the URL cannot say. The page passes its URL:
 * a worker's own location does not carry the page's ?canisterId=. -> {config, build} */
export async function readConfig(pageUrl) {
  const [config, build] = await Promise.all([fetchJson("config.json", "the page configuration"), fetchJson("build.json", "the build description")]);
  const d = pageUrl ? deploymentFrom(new URL(pageUrl), config) : null;
  const deployed = d ? { ...config, network: d.network, api_host: d.apiHost, gpt2_canister: d.gpt2Canister ?? config.gpt2_canister, model_base: d.modelBase ?? config.model_base } : config;
  if (!deployed.model_base) throw new ModelError("config", "config.json has no model_base");
  return { config: deployed, build };
}

/** Whether this worker can share memory with workers of its own (threads): SharedArrayBuffer
 * itself, not only cross-origin isolation. */
export const sharedMemory = () => self.crossOriginIsolated && typeof SharedArrayBuffer === "function";

/** Threads for either engine: they share memory with their helper workers, which takes
 * SharedArrayBuffer itself, not just cross-origin isolation (WebKitGTK is isolated, yet has no
 * SharedArrayBuffer and cannot send shared memory to a worker: one thread there). `asked`
 * (init's `threads`, a benchmark's choice) wins; else 2..4 (ORT alone would pick 1 on 2 cores). */
export function deviceThreads(asked) {
  return sharedMemory() ? asked ?? Math.max(2, Math.min(4, navigator.hardwareConcurrency || 2)) : 1;
}

/** loadPyodide's options for this build (a boot, a restore and the snapshot's boot alike). */
export function pyodideOptions(build) {
  return {
    indexURL: absolute(build.pyodide),
    lockFileURL: absolute(build.lock),
    packageBaseUrl: absolute(build.lock.slice(0, build.lock.lastIndexOf("/") + 1)),
  };
}

/** Pyodide: restored from this build's interpreter snapshot when the browser keeps one, else
 * booted; then our packages. -> {pyodide, from: "snapshot" | "boot"} */
export async function bootPython(build) {
  const { loadPyodide } = await import(absolute(build.pyodide + "pyodide.mjs"));
  const options = { ...pyodideOptions(build), stdout: (line) => console.log("[python]", line), stderr: (line) => console.warn("[python]", line) };
  const snapshot = await cachedSnapshot(options.indexURL).catch(() => null);
  let pyodide = null;
  let from = "boot";
  if (snapshot) {
    try {
      pyodide = await loadPyodide({ ...options, _loadSnapshot: snapshot });
      from = "snapshot";
    } catch (error) {
      console.warn("the interpreter snapshot did not restore; booting instead:", error?.message ?? error);
      await dropSnapshots().catch(() => {});
    }
  }
  pyodide ??= await loadPyodide(options);
  let failure = null;
  await pyodide.loadPackage(build.packages, {
    messageCallback: () => {},
    errorCallback: (message) => { failure = message; },
  });
  // loadPackage reports integrity and network failures only through errorCallback.
  try {
    pyodide.pyimport("icchat.chat.worker").destroy();
  } catch (error) {
    throw new ModelError("runtime", `The icchat Python package did not install${failure ? ` (${failure})` : ""}: ${error.message}`);
  }
  return { pyodide, from };
}

/** onnxruntime-web's module, set up for `threads` (web/ort-engine.mjs runs the model on it). */
export async function bootOrt(build, threads) {
  const ort = await import(absolute(build.ort + "ort.wasm.min.mjs"));
  ort.env.wasm.wasmPaths = absolute(build.ort);
  ort.env.wasm.numThreads = threads;
  ort.env.wasm.proxy = false;
  return ort;
}
