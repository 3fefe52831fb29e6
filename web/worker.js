// The chat worker (a module Web Worker): boots Pyodide, installs our `icchat` wheel, checks the
// model manifest against the gpt2 canister's certificate (web/verify-manifest.mjs, official JS
// agent), loads and verifies the model files, creates the onnxruntime-web session, connects to
// the gpt2 canister for onchain answers (web/onchain.mjs), and runs the chat in Python
// (icchat.chat: the same runtime for every backend). The page only sends messages and shows
// what comes back.
//
// The messages it takes and sends: web/protocol.mjs.

import { chooseEngine, canisterWeightsPath, Engine, engineModulePath, measuredBoth, speedKey as speedKeyOf } from "./engine.mjs";
import { deploymentFrom } from "./network.mjs";
import { cachedSnapshot, dropSnapshots } from "./python-snapshot.mjs";
import { deviceObstacle, ModelError, TOKENIZER_FILES, VARIANT_FILES } from "./weights.js";

const state = {
  config: null,
  build: null,
  pyodide: null,
  ort: null,
  kernels: null,
  manifest: null,
  manifestSha256: null,
  variant: null,
  model: null, // the loaded model answering on this device: {engine, session | icchat, files}
  chat: null, // the Python ChatWorker object
  control: null, // {cancelled} for the reply in progress
  stopFlag: null, // Int32Array shared with the page (when cross-origin isolated)
  loader: null, // weights-worker.js
  loads: new Map(), // id -> {resolve, reject}
  busy: false,
  agent: null, // the agent bundle (web/agent-entry.js)
  rootKey: null, // the IC root key (local replica: fetched; mainnet: the agent's own)
  pythonFrom: null, // "snapshot" (python-snapshot.mjs) | "boot"
  snapshotting: false, // this visit's interpreter snapshot is being (or was) made
  snapshotMaker: null, // {worker, resolve} while snapshot-worker.js runs
  gpt2: null, // web/onchain.mjs client, once connected
  device: { available: false, reason: "the model is still loading" },
  speeds: {}, // speedKey -> {icchat, "onnxruntime-web"}: ms per token measured here (the page keeps them)
  measuring: null, // {stopped, timing: the decode being timed (a Promise), probe: its backend label} while measureEngines runs
  measureTimer: 0,
  measureFailed: new Set(), // speedKeys whose measurement failed this visit
  lastReplyAt: 0, // performance.now() when the last reply ended
};

const post = (message) => self.postMessage(message);
const status = (phase, text) => post({ type: "status", phase, text });
const absolute = (path) => new URL(path, self.location.href).href;

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

/** loadPyodide's options for this build (a boot, a restore and the snapshot's boot alike). */
function pyodideOptions(build) {
  return {
    indexURL: absolute(build.pyodide),
    lockFileURL: absolute(build.lock),
    packageBaseUrl: absolute(build.lock.slice(0, build.lock.lastIndexOf("/") + 1)),
  };
}

/** Pyodide: restored from this build's interpreter snapshot when the browser keeps one
 * (python-snapshot.mjs), else booted; then our packages. */
async function bootPython(build) {
  const { loadPyodide } = await import(absolute(build.pyodide + "pyodide.mjs"));
  const options = { ...pyodideOptions(build), stdout: (line) => console.log("[python]", line), stderr: (line) => console.warn("[python]", line) };
  const snapshot = await cachedSnapshot(options.indexURL).catch(() => null);
  let pyodide = null;
  if (snapshot) {
    try {
      pyodide = await loadPyodide({ ...options, _loadSnapshot: snapshot });
      state.pythonFrom = "snapshot";
    } catch (error) {
      console.warn("the interpreter snapshot did not restore; booting instead:", error?.message ?? error);
      await dropSnapshots().catch(() => {});
    }
  }
  pyodide ??= await loadPyodide(options);
  state.pythonFrom ??= "boot";
  let failure = null;
  await pyodide.loadPackage(build.packages, {
    messageCallback: () => {},
    errorCallback: (message) => { failure = message; },
  });
  // loadPackage reports integrity and network failures only through errorCallback.
  try {
    pyodide.pyimport("icchat.chat").destroy();
  } catch (error) {
    throw new ModelError("runtime", `The icchat Python package did not install${failure ? ` (${failure})` : ""}: ${error.message}`);
  }
  return pyodide;
}

/** Threads for either engine: they need cross-origin isolation (SharedArrayBuffer); init's
 * `threads` (a benchmark's choice) wins; else 2..4 (ORT alone would pick 1 on 2 cores). */
function deviceThreads() {
  return self.crossOriginIsolated ? state.threads ?? Math.max(2, Math.min(4, navigator.hardwareConcurrency || 2)) : 1;
}

async function bootOrt(build) {
  const ort = await import(absolute(build.ort + "ort.wasm.min.mjs"));
  ort.env.wasm.wasmPaths = absolute(build.ort);
  ort.env.wasm.numThreads = deviceThreads();
  ort.env.wasm.proxy = false;
  self.ort = ort; // icchat.chat.device finds it as `js.ort`
  return ort;
}

async function loadKernels() {
  try {
    return await import(absolute("kernels.mjs")); // argmax / top-k over the logits, in JS
  } catch (error) {
    throw new ModelError("runtime", `Could not load the sampling kernels (kernels.mjs): ${error.message}`);
  }
}

function startLoader(progressPort) {
  const loader = new Worker(new URL("weights-worker.js", import.meta.url), { type: "module" });
  if (progressPort) loader.postMessage({ type: "port", port: progressPort }, [progressPort]);
  loader.onmessage = ({ data }) => {
    if (data.type === "progress") return post(data); // no page port: relay
    const pending = state.loads.get(data.id);
    state.loads.delete(data.id);
    if (data.type === "loaded") pending?.resolve({ files: new Map(data.files), networkBytes: data.networkBytes, seconds: data.seconds, prefetched: data.prefetched });
    else if (data.type === "manifest") pending?.resolve(data);
    else pending?.reject(new ModelError(data.kind, data.message));
  };
  loader.onerror = (event) => {
    for (const pending of state.loads.values()) pending.reject(new ModelError("runtime", `The model loader stopped: ${event.message}`));
    state.loads.clear();
  };
  return loader;
}

let loadCount = 0;
function askLoader(message) {
  const id = ++loadCount;
  return new Promise((resolve, reject) => {
    state.loads.set(id, { resolve, reject });
    state.loader.postMessage({ ...message, id });
  });
}

function loadInLoader(paths) {
  return askLoader({ type: "load", modelBase: state.config.model_base, manifest: state.manifest, manifestSha256: state.manifestSha256, paths });
}

/** The manifest the gpt2 canister certifies (certify.mjs, in the loader's thread). The loader then
 * loads at once the model init will ask for (`prefetch`: what loadModel's choice depends on):
 * this thread hears nothing while Pyodide boots, and would ask only after. */
async function certifiedManifestInLoader(variant) {
  status("config", "Checking the model manifest against the gpt2 canister's certificate");
  const prefetch = { variant, engine: state.enginePref, speeds: state.speeds, threads: deviceThreads() };
  const { manifest, sha256, rootKey } = await askLoader({ type: "manifest", config: state.config, agentUrl: absolute(state.build.agent), prefetch });
  state.rootKey = rootKey;
  return { manifest, sha256 };
}

const speedKey = (variant) => speedKeyOf(state.manifestSha256, variant, deviceThreads());

/** Load the model for `variant` on `engine`; `report` shows the phases (a background load: none). */
async function loadModel(variant, engine = chooseEngine(state.enginePref, state.manifest, variant, state.speeds[speedKey(variant)]), report = status) {
  if (engine === "icchat") return loadEngineModel(variant, report);
  const path = VARIANT_FILES[variant];
  if (!path) throw new ModelError("config", `Unknown model variant ${variant}`);
  report("weights", `Loading the ${variant} model`);
  const { files, networkBytes, seconds, prefetched } = await loadInLoader([...TOKENIZER_FILES, path]);
  report("session", "Preparing the model");
  const started = performance.now();
  let session;
  try {
    session = await state.ort.InferenceSession.create(files.get(path), {
      executionProviders: ["wasm"],
      graphOptimizationLevel: "all",
    });
  } catch (error) {
    const message = String(error?.message ?? error);
    if (/memory|allocat|RangeError/i.test(message)) {
      throw new ModelError("memory", `Out of memory while preparing the model: ${message}`);
    }
    throw new ModelError("runtime", `onnxruntime-web could not load ${path}: ${message}`);
  }
  await warmUp(session);
  return { files, session, engine: "onnxruntime-web", networkBytes, prefetched, downloadSeconds: seconds, sessionSeconds: (performance.now() - started) / 1000 };
}

/** The icchat engine (engine.mjs) on the bundle's canister weight file for this precision: the
 * file the gpt2 canister serves, verified like every other file, copied into the engine. */
async function loadEngineModel(variant, report) {
  const path = canisterWeightsPath(state.manifest, variant);
  report("weights", `Loading the ${variant} model`);
  const { files, networkBytes, seconds, prefetched } = await loadInLoader([...TOKENIZER_FILES, path]);
  report("session", "Preparing the model");
  const started = performance.now();
  // threads over shared memory when cross-origin isolated (deviceThreads); else the one-thread module
  const threads = state.build.engine_threads ? deviceThreads() : 1;
  let icchat;
  try {
    icchat = await Engine.create(absolute(engineModulePath(state.build, threads)), files.get(path), { threads });
  } catch (error) {
    const message = String(error?.message ?? error);
    if (/memory|RangeError/i.test(message)) throw new ModelError("memory", `Out of memory while preparing the model: ${message}`);
    throw new ModelError("runtime", `the icchat engine could not load ${path}: ${message}`);
  }
  files.delete(path); // the engine holds its own copy
  return { files, icchat, engine: "icchat", networkBytes, prefetched, downloadSeconds: seconds, sessionSeconds: (performance.now() - started) / 1000 };
}

/** Hand a loaded model to Python as the backend `label`: an onnxruntime-web session or an icchat engine. */
function giveToPython(model, label) {
  if (model.icchat) state.chat.set_device_engine(model.icchat, model.icchat.info.n_ctx, label);
  else state.chat.set_device_session(model.session, label);
}

/** Free a model that no backend uses any more. */
async function release(model) {
  model.icchat?.close(); // its helper threads
  await model.session?.release?.();
}

/** The loaded model that answers on this device from now on (the one before it is released). */
async function useDeviceModel(model, variant) {
  giveToPython(model, "device");
  const old = state.model;
  state.model = model;
  state.variant = variant;
  if (old && old !== model) await release(old);
}

// --- auto: which engine decodes faster on this device ---------------------------------------

const MEASURE_AFTER_MS = 3000; // of idleness before (and between) measurement steps

/** With the engine setting on auto and both engines able to run this model, time a short decode
 * on each (icchat.chat.speed: the same request for both) once per model, precision and thread
 * count, in the background while the chat is idle; keep the faster engine and tell the page the
 * figures (it stores them: the next visit starts on the faster engine). A user's message never
 * waits for it: a decode being timed stops within a token and is timed again once the chat is
 * idle; loading the other engine goes on meanwhile (its files come through the loader thread). */
function scheduleMeasure() {
  clearTimeout(state.measureTimer);
  state.measureTimer = setTimeout(() => measureEngines().catch((error) => console.warn("measuring the engines failed:", explain(error).message))
    .finally(snapshotWhenIdle), MEASURE_AFTER_MS);
}

/** Once per visit that booted the interpreter, after auto's measurement had its turn: make the
 * interpreter snapshot the next visit restores, in a worker of its own, when the chat is idle
 * (it is a few seconds of one core's time; a reply calls it off, and it is made again at the next
 * idle moment: see stopSnapshot). */
async function snapshotWhenIdle() {
  if (state.pythonFrom !== "boot" || state.snapshotting || !self.caches) return;
  state.snapshotting = true;
  const idle = { stopped: false };
  for (;;) { // until the chat is idle and auto's measurement is not running
    await whenIdle(idle);
    if (!state.measuring) break;
    await sleep(1000);
  }
  const worker = new Worker(new URL("snapshot-worker.js", import.meta.url), { type: "module" });
  post({ type: "snapshot", phase: "making" });
  const { data } = await new Promise((resolve) => {
    state.snapshotMaker = { worker, resolve };
    worker.onmessage = resolve;
    worker.onerror = (event) => resolve({ data: { ok: false, message: event.message } });
    worker.postMessage({ pyodide: absolute(state.build.pyodide + "pyodide.mjs"), options: pyodideOptions(state.build) });
  });
  worker.terminate();
  state.snapshotMaker = null;
  if (data.ok) console.log(`interpreter snapshot kept for the next visit (${(data.bytes / 2 ** 20).toFixed(0)} MB)`);
  else if (!data.calledOff) console.warn("no interpreter snapshot:", data.message);
  if (!data.calledOff) post({ type: "snapshot", phase: data.ok ? "kept" : "failed" });
}

/** A reply is about to be written: a snapshot being made would take a core from it, so it stops
 * and is made afresh when the chat is idle again (nothing is kept of a half-made one). */
function stopSnapshot() {
  const maker = state.snapshotMaker;
  if (!maker) return;
  state.snapshotMaker = null;
  maker.worker.terminate();
  maker.resolve({ data: { ok: false, calledOff: true } });
  state.snapshotting = false;
  post({ type: "snapshot", phase: "stopped" });
}

let measureRuns = 0;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Wait until no reply has been written for MEASURE_AFTER_MS; false if the run was called off. */
async function whenIdle(run) {
  for (;;) {
    if (run.stopped) return false;
    if (!state.busy && performance.now() - state.lastReplyAt >= MEASURE_AFTER_MS) return true;
    await sleep(250);
  }
}

/** ms per token of the Python backend `label`, timed while idle (again after every interruption). */
async function timeBackend(run, label) {
  while (await whenIdle(run)) {
    run.timing = state.chat.measure(label, { get cancelled() { return run.stopped || state.busy; } });
    const ms = await run.timing;
    run.timing = null;
    if (ms) return ms;
  }
  return null;
}

async function measureEngines() {
  const variant = state.variant;
  const key = speedKey(variant);
  const both = state.enginePref === "auto" && state.device.available && canisterWeightsPath(state.manifest, variant)
    && state.manifest.files.some((f) => f.path === VARIANT_FILES[variant]);
  if (!both || state.measuring || measuredBoth(state.speeds[key]) || state.measureFailed.has(key)) return;
  const run = { stopped: false, timing: null, probe: `probe-${++measureRuns}` }; // its own backend label
  state.measuring = run;
  let other = null;
  try {
    const speeds = { ...state.speeds[key] };
    const current = state.model.engine;
    speeds[current] ??= await timeBackend(run, "device");
    if (!speeds[current]) return;
    const otherEngine = current === "icchat" ? "onnxruntime-web" : "icchat";
    post({ type: "engines", phase: "measuring", engine: otherEngine, key, speeds });
    other = await loadModel(variant, otherEngine, () => {}); // the chat stays usable: no status
    if (run.stopped) return;
    giveToPython(other, run.probe);
    speeds[otherEngine] = await timeBackend(run, run.probe);
    if (!speeds[otherEngine]) return;
    state.speeds[key] = speeds;
    if (chooseEngine("auto", state.manifest, variant, speeds) === otherEngine) {
      await useDeviceModel(other, variant);
      other = null;
    }
    postReady(variant, {});
    post({ type: "engines", phase: "measured", engine: state.model.engine, key, speeds });
  } catch (error) {
    state.measureFailed.add(key); // not again this visit (a model that does not fit twice, say)
    throw error;
  } finally {
    state.chat.drop(run.probe);
    if (other) await release(other);
    if (state.measuring === run) state.measuring = null;
  }
}

/** Before a reply or a switch: a decode being timed lets go within a token (`stopped`: the whole
 * measurement is called off, as for a switch; else it resumes when the chat is idle again), and a
 * snapshot being made stops (stopSnapshot). */
async function yieldMeasurement({ stopped = false } = {}) {
  clearTimeout(state.measureTimer);
  stopSnapshot();
  const run = state.measuring;
  if (!run) return;
  if (stopped) {
    run.stopped = true;
    state.measuring = null; // a new measurement may start (for the new model) while this one unwinds
  }
  await run.timing;
}

/**
 * One tiny run straight after loading: ORT starts its thread pool and sizes its buffers on the
 * first run (over a second here), and a first run awaited from Python did not finish within
 * 30 s in Chromium's workers, so it happens here, in JS.
 */
async function warmUp(session) {
  const m = state.manifest.model;
  const { Tensor } = state.ort;
  const one = (v) => new Tensor("int64", BigInt64Array.from([v]), [1, 1]);
  const feeds = { input_ids: one(0n), attention_mask: one(1n), position_ids: one(0n) };
  for (let i = 0; i < m.n_layer; i++) {
    for (const kv of ["key", "value"]) feeds[`past_key_values.${i}.${kv}`] = new Tensor("float32", new Float32Array(0), [1, m.n_head, 0, m.n_embd / m.n_head]);
  }
  const outputs = await session.run(feeds);
  for (const tensor of Object.values(outputs)) tensor.dispose();
}

/** Onchain answers: the gpt2 canister as this page's own identity (an Ed25519 key the page keeps). */
async function connectOnchain(identitySeed) {
  const identity = identitySeed ? state.agent.identityFromSeed(identitySeed) : undefined;
  state.gpt2 = await state.agent.connectGpt2({
    host: state.config.api_host, canisterId: state.config.gpt2_canister, identity, ...(state.rootKey ? { rootKey: state.rootKey } : {}),
  });
  return state.gpt2;
}

// The Python side: a thin adapter over icchat.chat (ChatRuntime + OnnxWebBackend) that speaks
// JSON strings to JS, so no Python object crosses into the page.
const PYTHON_GLUE = `
import json

from icchat.chat import ChatRuntime, Conversation, GPT2Tokenizer, Settings
from icchat.chat.device import OnnxWebBackend
from icchat.chat.onchain import JsGpt2Client, OnchainBackend


class ChatWorker:
    """The worker's handle on icchat.chat: one runtime, one backend per label."""

    def __init__(self, vocab_json, merges_txt, ort, kernels, dims_json):
        self.runtime = ChatRuntime(GPT2Tokenizer.from_strings(vocab_json, merges_txt))
        self.ort, self.kernels, self.dims = ort, kernels, json.loads(dims_json)
        self.backends = {}

    def set_device_engine(self, engine, n_ctx, label="device"):
        from icchat.chat.engine import EngineBackend

        self.backends[label] = EngineBackend(engine, n_ctx)

    def set_device_session(self, session, label="device"):
        self.backends[label] = OnnxWebBackend(session, self.dims, self.kernels, ort=self.ort)

    def drop(self, label):
        self.backends.pop(label, None)

    async def measure(self, label, control):
        """ms per decoded token of backend \`label\` (icchat.chat.speed), None if stopped."""
        from icchat.chat.speed import step_ms

        return await step_ms(self.backends[label], cancelled=lambda: bool(control.cancelled))

    def set_onchain(self, client, prices_json):
        prices = json.loads(prices_json) or None
        for mode in ("fast", "verified"):
            self.backends[f"onchain-{mode}"] = OnchainBackend(JsGpt2Client(client), mode, self.dims["n_ctx"], prices)

    async def reply(self, conversation_json, settings_json, backend, control, emit):
        if backend not in self.backends:
            raise ValueError(f"answers computed {backend} are not available on this page")
        conversation = Conversation.from_dict(json.loads(conversation_json))
        settings = Settings.from_dict(json.loads(settings_json))
        cancelled = lambda: bool(control.cancelled)  # noqa: E731 - read at every token
        async for event in self.runtime.reply(conversation, self.backends[backend], settings, cancelled):
            emit(json.dumps(event.to_dict()))

ChatWorker
`;

async function setupPython(files) {
  const ChatWorker = state.pyodide.runPython(PYTHON_GLUE);
  const decoder = new TextDecoder();
  const m = state.manifest.model ?? {};
  const dims = { n_layer: m.n_layer, n_head: m.n_head, n_embd: m.n_embd, n_ctx: m.n_ctx, vocab_size: m.vocab_size };
  state.chat = ChatWorker(decoder.decode(files.get("vocab.json")), decoder.decode(files.get("merges.txt")), state.ort, state.kernels, JSON.stringify(dims));
  ChatWorker.destroy();
}

function explain(error) {
  if (error instanceof ModelError) return { kind: error.kind, message: error.message };
  let message = String(error?.message ?? error);
  // A Python exception's message is its whole traceback: the last line says what happened.
  if (error?.constructor?.name === "PythonError") message = message.trim().split("\n").pop();
  if (error instanceof RangeError || /out of memory|memory access out of bounds|Aborted\(OOM\)/i.test(message)) {
    return { kind: "memory", message: `Out of memory: ${message}` };
  }
  return { kind: "runtime", message };
}

/** With #debug in the page's URL the worker's console is relayed to the page's. */
function relayConsole() {
  for (const level of ["log", "info", "warn", "error"]) {
    const original = console[level].bind(console);
    console[level] = (...args) => {
      original(...args);
      post({ type: "log", level, text: args.map(String).join(" ") });
    };
  }
}

// The network and canisters come from the URL the page is served from (network.mjs); config.json
// only fills in what the URL cannot say. The page passes its URL: a worker's own location does not
// carry the page's ?canisterId=.
function onDeployment(config, pageUrl) {
  if (!pageUrl) return config;
  const d = deploymentFrom(new URL(pageUrl), config);
  return { ...config, network: d.network, api_host: d.apiHost, gpt2_canister: d.gpt2Canister ?? config.gpt2_canister,
           model_base: d.modelBase ?? config.model_base };
}

async function init({ variant, debug, stopFlag, progressPort, identitySeed, pageUrl, threads, engine, speeds }) {
  state.enginePref = engine ?? "auto"; // auto | icchat | onnxruntime-web (engine.mjs chooseEngine)
  state.speeds = speeds && typeof speeds === "object" ? { ...speeds } : {};
  state.threads = Number.isInteger(threads) && threads > 0 ? threads : null;
  if (debug) relayConsole();
  state.stopFlag = stopFlag ?? null;
  state.loader = startLoader(progressPort);
  const timings = {};
  const t0 = performance.now();
  const since = () => (performance.now() - t0) / 1000;
  status("config", "Reading the page configuration");
  const [config, build] = await Promise.all([fetchJson("config.json", "the page configuration"), fetchJson("build.json", "the build description")]);
  state.config = onDeployment(config, pageUrl);
  state.build = build;
  if (!state.config.model_base) throw new ModelError("config", "config.json has no model_base");
  post({ type: "config", label: state.config.model_label ?? "GPT-2", meaningful: state.config.model_meaningful !== false, notice: state.config.model_notice ?? "" });
  status("runtime", "Starting Python and the model runtime");
  const agentPromise = import(absolute(state.build.agent)).catch((error) => {
    throw new ModelError("runtime", `Could not load the IC agent (${state.build.agent}): ${error.message}`);
  });
  // Nothing the manifest lists is used before it is known to be the one the canister certifies.
  const manifestPromise = certifiedManifestInLoader(variant);
  const pythonPromise = bootPython(state.build).then((p) => { timings.python = since(); return p; });
  const ortPromise = bootOrt(state.build).then((o) => { timings.ort = since(); return o; });
  ortPromise.catch(() => {}); // awaited only if this device may run the model
  const kernelsPromise = loadKernels();
  ({ manifest: state.manifest, sha256: state.manifestSha256 } = await manifestPromise);
  timings.manifest = since();
  const onchain = agentPromise.then((agent) => { state.agent = agent; return connectOnchain(identitySeed); }).catch((error) => error);
  // The tokenizer first: onchain answers need it even when this device cannot run the model.
  const { files } = await loadInLoader(TOKENIZER_FILES);
  let model = null;
  const obstacle = deviceObstacle(state.manifest, variant);
  if (obstacle) {
    state.device = { available: false, reason: obstacle };
  } else {
    try {
      state.ort = await ortPromise;
      model = await loadModel(variant);
      Object.assign(timings, { model: since(), download: model.downloadSeconds, session: model.sessionSeconds, networkBytes: model.networkBytes, prefetched: model.prefetched });
      state.device = { available: true, reason: null };
    } catch (error) {
      // A file that fails its check, or an unreachable host, stops everything; a model this
      // device cannot hold or run leaves onchain answers.
      if (error instanceof ModelError && (error.kind === "integrity" || error.kind === "unreachable" || error.kind === "manifest")) throw error;
      state.device = { available: false, reason: `the model could not be loaded here: ${explain(error).message}` };
    }
  }
  [state.pyodide, state.kernels] = await Promise.all([pythonPromise, kernelsPromise]);
  timings.pythonReady = since();
  timings.pythonFrom = state.pythonFrom; // "snapshot" | "boot"
  status("python", "Starting the chat");
  await setupPython(files);
  if (model) await useDeviceModel(model, variant);
  const client = await onchain;
  if (client instanceof Error) console.warn("onchain answers are unavailable:", client.message);
  else state.chat.set_onchain(client, JSON.stringify(state.config.ic_prices ?? null));
  timings.total = since();
  console.log("timings", JSON.stringify(timings));
  status("ready", "Ready");
  postReady(variant, timings);
  scheduleMeasure();
}

function backends() {
  return [...(state.device.available ? ["device"] : []), ...(state.gpt2 ? ["onchain-fast", "onchain-verified"] : [])];
}

function postReady(variant, timings) {
  post({
    type: "ready", model: modelSummary(), variant: state.variant ?? variant, backends: backends(), device: state.device,
    principal: state.gpt2?.principal ?? null, prices: state.config.ic_prices ?? null, timings,
    threads: state.model?.icchat ? state.model.icchat.threads : state.ort?.env.wasm.numThreads ?? 0, isolated: self.crossOriginIsolated,
    engine: state.model?.engine ?? null,
  });
}

function modelSummary() {
  const m = state.manifest.model ?? {};
  return { label: state.config.model_label ?? "GPT-2", meaningful: state.config.model_meaningful !== false, notice: state.config.model_notice ?? "", n_layer: m.n_layer, n_head: m.n_head, n_embd: m.n_embd, parameters: m.parameters, manifestSha256: state.manifestSha256, variants: Object.keys(VARIANT_FILES).filter((v) => state.manifest.files.some((f) => f.path === VARIANT_FILES[v])) };
}

async function switchVariant({ variant, engine }) {
  const enginePref = engine ?? state.enginePref;
  if (variant === state.variant && enginePref === state.enginePref) return;
  if (state.busy) throw new Error("finish or stop the answer before switching the model");
  await yieldMeasurement({ stopped: true });
  const obstacle = deviceObstacle(state.manifest, variant);
  if (obstacle) throw new ModelError("memory", `The ${variant} model cannot run here: ${obstacle}`);
  state.ort ??= await bootOrt(state.build);
  const previousPref = state.enginePref;
  state.enginePref = enginePref;
  let model;
  try {
    model = await loadModel(variant);
  } catch (error) {
    state.enginePref = previousPref; // the running model stays
    throw error;
  }
  await useDeviceModel(model, variant);
  state.device = { available: true, reason: null };
  status("ready", "Ready");
  postReady(variant, { download: model.downloadSeconds, session: model.sessionSeconds, networkBytes: model.networkBytes });
  scheduleMeasure();
}

async function generate({ id, seq, conversation, settings, backend = "device" }) {
  if (state.busy) throw new Error("a reply is already being written");
  state.busy = true;
  await yieldMeasurement();
  const flag = state.stopFlag;
  state.control = {
    id,
    stopped: false,
    get cancelled() {
      return this.stopped || (flag !== null && Atomics.load(flag, 0) === seq);
    },
  };
  let last = null;
  if (state.gpt2) state.gpt2.lastFailure = null;
  try {
    await state.chat.reply(JSON.stringify(conversation), JSON.stringify(settings), backend, state.control, (json) => {
      const event = JSON.parse(json);
      last = event;
      if (event.text_delta || event.tokens.length) post({ type: "delta", id, text: event.text_delta, tokens: event.tokens, stats: event.stats });
    });
    if (last?.stop_reason === "error") throw new ModelError(failureKind(backend), last.error || "the reply failed");
    post({ type: "done", id, message: { role: "assistant", text: last.text, origin: last.origin || backend }, stopReason: last.stop_reason, stats: last.stats, trimmedTurns: last.trimmed_turns });
  } finally {
    state.busy = false;
    state.control = null;
    state.lastReplyAt = performance.now();
    scheduleMeasure();
  }
}

/** What kind of failure ended a reply from `backend`: an onchain call the canister refused
 * (the client's record of the failed call, by reject code / HTTP status) or one that failed. */
function failureKind(backend) {
  if (backend === "device") return "generate";
  return state.gpt2?.lastFailure?.refused ? "refused" : "onchain";
}

/** The gpt2 canister's `usage` query (policy, window, what is spent), for the settings. */
async function usage({ id }) {
  if (!state.gpt2) return post({ type: "usage", id, error: "the gpt2 canister is not connected" });
  try {
    post({ type: "usage", id, usage: await state.gpt2.usage() });
  } catch (error) {
    post({ type: "usage", id, error: error.message });
  }
}

/** forget_conversations as this page's identity: the canister empties its slots for it. */
async function forget() {
  if (!state.gpt2) return post({ type: "forgotten", error: "the gpt2 canister is not connected" });
  try {
    await state.gpt2.forget();
    post({ type: "forgotten" });
  } catch (error) {
    post({ type: "forgotten", error: error.message });
  }
}

const handlers = {
  init,
  generate,
  usage,
  forget,
  variant: switchVariant,
  stop: ({ id }) => { if (state.control && (id === undefined || state.control.id === id)) state.control.stopped = true; },
};

self.onmessage = async ({ data }) => {
  const handler = handlers[data?.type];
  if (!handler) return post({ type: "error", kind: "runtime", message: `unknown message ${data?.type}`, fatal: false });
  try {
    await handler(data);
  } catch (error) {
    const { kind, message } = explain(error);
    const fatal = data.type === "init" || (data.type === "variant" && backends().length === 0);
    post({ type: "error", id: data.id, kind: data.type === "generate" && kind === "runtime" ? "generate" : kind, message, fatal, during: data.type });
  }
};
