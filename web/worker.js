// The chat worker (a module Web Worker): takes the page's messages (web/protocol.mjs) and answers
// them. It starts the rest (worker-boot.mjs: configuration, Pyodide, onnxruntime-web), has the
// model loaded (worker-model.mjs, through the loader thread weights-worker.js, which certifies
// the manifest and chooses the engine), connects to the gpt2 canister for onchain answers
// (onchain.mjs: they start before the on-device model has loaded) and to the route canister for
// the LLM service's (llm-route.mjs), and runs the chat in Python: icchat.chat.worker's JsChatWorker, the same runtime
// for every backend. Work done only while the chat is quiet (auto's engine measurement,
// worker-auto.mjs; the interpreter snapshot, python-snapshot.mjs) goes through one idle
// scheduler (idle.mjs). The page only sends messages and shows what comes back.

import { hasRelaxedSimd, speedKey } from "./engine.mjs";
import { IdleScheduler, yieldToMessages } from "./idle.mjs";
import { TO_WORKER } from "./protocol.mjs";
import { snapshotJob } from "./python-snapshot.mjs";
import { bundlePrecisions, ModelError, outOfMemory } from "./weights.js";
import { absolute, bootOrt, bootPython, deviceThreads, pyodideOptions, readConfig, sharedMemory } from "./worker-boot.mjs";
import { measureJob, wantsMeasuring } from "./worker-auto.mjs";
import { deviceFeatures, ModelLoader, startEngine } from "./worker-model.mjs";

const post = (message) => self.postMessage(message);
const status = (phase, text) => post({ type: "status", phase, text });

/** The chat worker's state, in one place (worker-auto.mjs reads and changes it too). */
const w = {
  config: null,
  build: null,
  manifest: null,
  manifestSha256: null,
  rootKey: null, // the IC root key (local replica: fetched; mainnet: the agent's own)
  enginePref: "auto", // the engine setting: auto | icchat | onnxruntime-web
  threads: 1, // for either engine (worker-boot.mjs deviceThreads)
  speeds: {}, // speedKey -> {icchat, "onnxruntime-web"}: ms per token measured here (the page keeps them)
  measureFailed: new Set(), // speedKeys whose measurement failed this visit
  small: false, // a phone or a small device (the page's device-fit.mjs): no auto measurement, which holds both engines
  ort: null, // onnxruntime-web's module, once booted (ortBoot: its boot, begun at init unless the engine setting is icchat)
  ortBoot: null,
  loader: null, // ModelLoader (weights-worker.js)
  chat: null, // the Python JsChatWorker
  model: null, // the model answering on this device: startEngine's record
  precision: null, // the precision asked for (the model's once one runs)
  device: { available: false, loading: true, reason: "the model is still loading" },
  gpt2: null, // onchain.mjs's client, once connected
  route: null, // llm-route.mjs's client, once connected (config.json's llm_route_canister)
  idle: new IdleScheduler(),
  reply: null, // {id, cancelled} of the reply being written
  busy: false, // a reply or a switch is running
  pythonFrom: null, // "snapshot" | "boot"
  snapshotScheduled: false,
  post,
  speedKey: (precision) => speedKey(w.manifestSha256, precision, w.threads),
  startModel,
  useDeviceModel,
  postReady,
};

/** The model answering on this device from now on (the one before it is closed). */
async function useDeviceModel(model) {
  w.chat.use_engine(model.decoder, "device");
  const old = w.model;
  w.model = model;
  w.precision = model.precision;
  if (old && old !== model) await old.decoder.close();
}

/** The model at `precision` on the engine the loader chooses for the engine setting, as loaded:
 * {engine, path, precision, files, obstacle, ...} (fallback: another precision, q8 first, if
 * `precision` does not fit this device). The page hears the plan first. */
function askModel(precision, { fallback = false } = {}) {
  return w.loader.model({ precision, engine: w.enginePref, speeds: w.speeds, threads: w.threads, fallback, plan: true });
}

/** The engine started on a loaded model (`report` shows the phase; auto's measurement: none). */
async function startModel(precision, loaded, report = status) {
  if (loaded.engine === "onnxruntime-web") w.ort ??= await (w.ortBoot ??= bootOrt(w.build, w.threads));
  report("session", "Preparing the model");
  return startEngine(loaded, { precision: loaded.precision ?? precision, build: w.build, ort: w.ort, manifest: w.manifest, threads: w.threads });
}

/** Onchain answers: the gpt2 canister as this page's own identity (an Ed25519 key the page keeps). */
async function connectOnchain(agent, identitySeed) {
  const identity = identitySeed ? agent.identityFromSeed(identitySeed) : undefined;
  return agent.connectGpt2({
    host: w.config.api_host, canisterId: w.config.gpt2_canister, identity, ...(w.rootKey ? { rootKey: w.rootKey } : {}),
  });
}

/** The LLM service through the route canister, as the same identity (its policy counts per caller). */
async function connectRoute(agent, identitySeed) {
  const identity = identitySeed ? agent.identityFromSeed(identitySeed) : undefined;
  return agent.connectLlmRoute({
    host: w.config.api_host, canisterId: w.config.llm_route_canister, identity, ...(w.rootKey ? { rootKey: w.rootKey } : {}),
  });
}

/** The Python side: icchat.chat.worker.JsChatWorker over the tokenizer's files and the manifest
 * (context window, added tokens, chat format). */
function startChat(pyodide, files) {
  const JsChatWorker = pyodide.pyimport("icchat.chat.worker").JsChatWorker;
  const decoder = new TextDecoder();
  w.chat = JsChatWorker(decoder.decode(files.get("vocab.json")), decoder.decode(files.get("merges.txt")), w.manifest);
  JsChatWorker.destroy();
}

/** What the idle scheduler does next: auto's measurement for the model running now; once per
 * visit that booted the interpreter, its snapshot for the next visit. */
function scheduleIdleWork() {
  if (wantsMeasuring(w)) w.idle.add("measure", measureJob(w));
  if (w.pythonFrom === "boot" && self.caches && !w.snapshotScheduled) {
    w.snapshotScheduled = true;
    w.idle.add("snapshot", snapshotJob({ pyodideUrl: absolute(w.build.pyodide + "pyodide.mjs"), options: pyodideOptions(w.build), post }));
  }
}

function explain(error) {
  if (error instanceof ModelError) return { kind: error.kind, message: error.message };
  let message = String(error?.message ?? error);
  // A Python exception's message is its whole traceback: the last line says what happened.
  if (error?.constructor?.name === "PythonError") message = message.trim().split("\n").pop();
  if (outOfMemory(error)) return { kind: "memory", message: `Out of memory: ${message}` };
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

/** What this browser lacks for the fastest on-device model, in the status line's words (empty
 * when nothing): one thread without shared memory, SIMD128 for q8 without relaxed SIMD. */
function featureSteps(engine, precision) {
  const steps = [];
  if (!sharedMemory()) steps.push("one thread (this browser shares no memory between threads)");
  if (engine === "icchat" && precision === "q8" && !hasRelaxedSimd()) steps.push("SIMD128 (no relaxed SIMD here)");
  return steps.map((step) => ` · ${step}`).join("");
}

/** The on-device model at init: loaded (asked of the loader at once) and started, while the chat
 * starts beside it. -> {model} or {reason} (this device cannot run it); rejects on the loader's
 * failures that stop everything (a file that fails its check, an unreachable host). */
async function startDevice(precision, modelPromise, deviceStatus) {
  const loaded = await modelPromise;
  if (loaded.obstacle) return { reason: loaded.obstacle };
  try {
    return { model: await startModel(precision, loaded, (phase, text) => deviceStatus(phase, text + featureSteps(loaded.engine, loaded.precision))) };
  } catch (error) {
    return { reason: `the model could not be loaded here: ${explain(error).message}` };
  }
}

/** The loader's failures that stop everything; any other leaves onchain answers. */
const FATAL = new Set(["integrity", "uncertified", "unreachable", "manifest", "config"]);

/** Start-up, in two steps: onchain answers as soon as Python runs the chat on the tokenizer and
 * the gpt2 canister is connected (a first `ready`, device loading), then the on-device model
 * once its file is loaded and its engine started (a second `ready`; one `ready` only when it
 * was settled before the chat). */
async function init({ precision, engine, speeds, debug, progressPort, identitySeed, pageUrl, threads, memoryBudget, small }) {
  w.enginePref = engine ?? "auto";
  w.precision = precision;
  w.speeds = speeds && typeof speeds === "object" ? { ...speeds } : {};
  w.threads = deviceThreads(Number.isInteger(threads) && threads > 0 ? threads : undefined);
  if (debug) relayConsole();
  w.small = small === true;
  w.loader = new ModelLoader(progressPort, post, memoryBudget ?? null);
  const timings = {};
  const t0 = performance.now();
  const since = () => (performance.now() - t0) / 1000;
  status("config", "Reading the page configuration");
  ({ config: w.config, build: w.build } = await readConfig(pageUrl));
  post({ type: "config", label: w.config.model_label ?? "GPT-2", meaningful: w.config.model_meaningful !== false, notice: w.config.model_notice ?? "" });
  status("runtime", "Starting Python and the model runtime");
  const agentPromise = import(absolute(w.build.agent)).catch((error) => {
    throw new ModelError("runtime", `Could not load the IC agent (${w.build.agent}): ${error.message}`);
  });
  // Nothing the manifest lists is used before it is known to be the one the canister certifies;
  // the tokenizer and the model are asked for at once: the loader starts on them the moment the
  // manifest is certified, while this thread boots Pyodide.
  const manifestPromise = w.loader.manifest(w.config, absolute(w.build.agent));
  const tokenizerPromise = w.loader.tokenizer();
  const modelPromise = askModel(precision, { fallback: true }).catch((error) => {
    if (FATAL.has(error.kind)) throw error;
    return { obstacle: `the model could not be loaded here: ${error.message}` };
  });
  const pythonPromise = bootPython(w.build).then((p) => { timings.python = since(); return p; });
  if (w.enginePref !== "icchat") { // on the icchat engine (a phone's default) only a switch boots it: memory
    w.ortBoot = bootOrt(w.build, w.threads).then((o) => { timings.ort = since(); return o; });
    w.ortBoot.catch(() => {}); // awaited only if onnxruntime-web runs the model
  }
  for (const later of [tokenizerPromise, modelPromise, pythonPromise]) later.catch(() => {}); // awaited below, after the manifest
  ({ manifest: w.manifest, sha256: w.manifestSha256, rootKey: w.rootKey } = await manifestPromise);
  timings.manifest = since();
  const onchain = agentPromise.then((agent) => connectOnchain(agent, identitySeed)).catch((error) => error);
  const route = w.config.llm_route_canister ? agentPromise.then((agent) => connectRoute(agent, identitySeed)).catch((error) => error) : null;
  let devicePhase; // the device's last status: said again after the first ready
  const deviceStatus = (phase, text) => { devicePhase = { phase, text }; status(phase, text); };
  deviceStatus("weights", `Loading the on-device model (${precision})`);
  let deviceSettled = false;
  let chatPhase = "runtime"; // the chat's start-up step: runtime (Python boots), python, or started
  const device = startDevice(precision, modelPromise, deviceStatus).then((outcome) => {
    deviceSettled = true;
    // said while the chat still starts: what it waits for (onchain is offered at once when the device cannot run the model)
    if (chatPhase !== "started" && outcome.reason) status(chatPhase, `Starting onchain answers: ${outcome.reason}`);
    else if (chatPhase === "runtime") status("runtime", "Starting Python (the on-device model is loaded)");
    if (outcome.model) Object.assign(timings, { model: since(), download: outcome.model.downloadSeconds, session: outcome.model.sessionSeconds, networkBytes: outcome.model.networkBytes, prefetched: outcome.model.prefetched });
    return outcome;
  });
  const chat = (async () => {
    const [python, tokenizer] = await Promise.all([pythonPromise, tokenizerPromise]);
    w.pythonFrom = python.from;
    timings.pythonReady = since();
    timings.pythonFrom = python.from; // "snapshot" | "boot"
    chatPhase = "python";
    status("python", "Starting the chat");
    startChat(python.pyodide, tokenizer.files);
    const client = await onchain;
    if (client instanceof Error) {
      console.warn("onchain answers are unavailable:", client.message);
    } else {
      w.gpt2 = client;
      w.chat.use_onchain(client, w.config.ic_prices ?? null);
    }
    const routed = await route;
    if (routed instanceof Error) console.warn("the LLM service is unavailable:", routed.message);
    else if (routed) {
      w.route = routed;
      w.chat.use_llm_service(routed, routed.info.model);
    }
    chatPhase = "started";
  })();
  for (const either of [chat, device]) either.catch(() => {}); // the race below reports the first failure
  // A failure that stops everything stops it at once, whichever of the two comes first.
  await Promise.race([chat, device.then(() => chat)]);
  timings.onchain = since();
  if (!deviceSettled) {
    postReady(timings);
    status(devicePhase.phase, devicePhase.text);
  }
  const { model, reason } = await device;
  if (model) await useDeviceModel(model);
  w.device = model ? { available: true, loading: false, reason: null } : { available: false, loading: false, reason };
  timings.total = since();
  console.log("timings", JSON.stringify(timings));
  status("ready", "Ready");
  postReady(timings);
  if (!w.busy) w.idle.quiet(); // the idle work waits for a quiet chat from here (an onchain reply may be running)
  scheduleIdleWork();
}

function backends() {
  return [...(w.device.available ? ["device"] : []), ...(w.gpt2 ? ["onchain-fast", "onchain-verified"] : []), ...(w.route ? ["llm-service"] : [])];
}

function postReady(timings) {
  const m = w.manifest.model ?? {};
  const p = w.manifest.provenance ?? {};
  post({
    type: "ready",
    model: {
      label: w.config.model_label ?? "GPT-2", meaningful: w.config.model_meaningful !== false, notice: w.config.model_notice ?? "",
      n_layer: m.n_layer, n_head: m.n_head, n_embd: m.n_embd, vocab_size: m.vocab_size, parameters: m.parameters, manifestSha256: w.manifestSha256,
      precisions: bundlePrecisions(w.manifest),
      name: p.name ?? null, license: p.license ?? null, source: p.origin ?? p.pretrained ?? p.source ?? null,
    },
    precision: w.model?.precision ?? w.precision, backends: backends(), device: w.device,
    principal: w.gpt2?.principal ?? null, service: w.route?.info ?? null, prices: w.config.ic_prices ?? null, timings,
    engine: w.model?.engine ?? null, threads: w.model?.threads ?? 0, isolated: self.crossOriginIsolated,
    speedKey: w.model ? w.speedKey(w.model.precision) : null,
    features: deviceFeatures(w.model),
  });
}

async function switchModel({ precision, engine }) {
  const enginePref = engine ?? w.enginePref;
  if (precision === w.model?.precision && enginePref === w.enginePref) return;
  if (w.device.loading) throw new Error("the model is still loading: switch once it runs");
  if (w.busy) throw new Error("finish or stop the answer before switching the model");
  w.busy = true;
  w.idle.callOff("measure");
  const previousPref = w.enginePref;
  try {
    await w.idle.busy();
    w.enginePref = enginePref;
    status("weights", `Loading the ${precision} model`);
    const loaded = await askModel(precision);
    if (loaded.obstacle) throw new ModelError("memory", `The ${precision} model cannot run here: ${loaded.obstacle}`);
    await useDeviceModel(await startModel(precision, loaded));
  } catch (error) {
    w.enginePref = previousPref; // the running model stays
    throw error;
  } finally {
    w.busy = false;
    w.idle.quiet();
  }
  w.device = { available: true, loading: false, reason: null };
  status("ready", "Ready");
  postReady({ download: w.model.downloadSeconds, session: w.model.sessionSeconds, networkBytes: w.model.networkBytes });
  scheduleIdleWork();
}

async function generate({ id, conversation, settings, backend = "device" }) {
  if (w.busy) throw new Error("a reply is already being written");
  w.busy = true;
  w.reply = { id, cancelled: false }; // Python reads `cancelled` at every token
  try {
    await w.idle.busy();
    await w.chat.reply(id, conversation, settings, backend, w.reply, post, yieldToMessages);
  } finally {
    w.busy = false;
    w.reply = null;
    w.idle.quiet();
  }
}

/** The only stop channel: the reply loop yields to this worker's messages once per token. */
function stop({ id }) {
  if (w.reply && w.reply.id === id) w.reply.cancelled = true;
}

/** The gpt2 canister's `usage` query (policy, window, what is spent), for the settings. */
async function usage({ id }) {
  if (!w.gpt2) return post({ type: "usage", id, error: "the gpt2 canister is not connected" });
  try {
    post({ type: "usage", id, usage: await w.gpt2.usage() });
  } catch (error) {
    post({ type: "usage", id, error: error.message });
  }
}

/** forget_conversations as this page's identity: the canister empties its slots for it. */
async function forget() {
  if (!w.gpt2) return post({ type: "forgotten", error: "the gpt2 canister is not connected" });
  try {
    await w.gpt2.forget();
    post({ type: "forgotten" });
  } catch (error) {
    post({ type: "forgotten", error: error.message });
  }
}

const handlers = { init, generate, stop, switch: switchModel, usage, forget };

self.onmessage = async ({ data }) => {
  const handler = TO_WORKER.includes(data?.type) ? handlers[data.type] : null;
  if (!handler) return post({ type: "error", kind: "runtime", message: `unknown message ${data?.type}`, fatal: false, during: data?.type });
  try {
    await handler(data);
  } catch (error) {
    const { kind, message } = explain(error);
    const fatal = data.type === "init" || (data.type === "switch" && backends().length === 0);
    post({ type: "error", id: data.id, kind: data.type === "generate" && kind === "runtime" ? "generate" : kind, message, fatal, during: data.type });
  }
};
