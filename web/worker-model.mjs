// The on-device model: the loader thread (weights-worker.js) certifies the manifest, chooses the
// engine for a precision and sends its verified file; here the engine is started on it: the
// icchat engine (engine.mjs) or onnxruntime-web's (ort-engine.mjs), both with the decoder shape
// forward(tokens, pos) / next(...) that icchat.chat.device.DeviceBackend drives.

import { Engine, engineModulePath, hasRelaxedSimd } from "./engine.mjs";
import { OrtEngine } from "./ort-engine.mjs";
import { hasSimd, ModelError, outOfMemory } from "./weights.js";
import { absolute, sharedMemory } from "./worker-boot.mjs";

/** The chat worker's handle on the loader thread: requests by id, progress relayed to `post`
 * when the page gave no port of its own. memoryBudget: bytes the page lets the model use (init's;
 * null: unknown), sent with every model request. */
export class ModelLoader {
  constructor(progressPort, post, memoryBudget = null) {
    this.memoryBudget = memoryBudget;
    this.pending = new Map(); // id -> {resolve, reject}
    this.count = 0;
    this.worker = new Worker(new URL("weights-worker.js", import.meta.url), { type: "module" });
    if (progressPort) this.worker.postMessage({ type: "port", port: progressPort }, [progressPort]);
    this.worker.onmessage = ({ data }) => {
      if (data.type === "progress" || data.type === "plan") return post(data);
      const pending = this.pending.get(data.id);
      this.pending.delete(data.id);
      if (data.type === "failed") pending?.reject(new ModelError(data.kind, data.message));
      else pending?.resolve(data);
    };
    this.worker.onerror = (event) => {
      for (const pending of this.pending.values()) pending.reject(new ModelError("runtime", `The model loader stopped: ${event.message}`));
      this.pending.clear();
    };
  }

  ask(message) {
    const id = ++this.count;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...message, id });
    });
  }

  /** The manifest the gpt2 canister certifies. -> {manifest, sha256, rootKey} */
  manifest(config, agentUrl) {
    return this.ask({ type: "manifest", config, agentUrl });
  }

  /** The model at `precision` for the engine setting `engine`, as the loader chose and loaded it:
   * -> {engine, path, precision, files: Map, obstacle, networkBytes, seconds, prefetched} (engine
   * null and `obstacle` set: this device cannot run it). fallback: another precision (q8 first)
   * instead of one that does not fit (`precision` says which loaded); plan: the page hears first. */
  async model({ precision, engine, speeds, threads, fallback = false, plan = false }) {
    const reply = await this.ask({ type: "model", precision, engine, speeds, threads, fallback, plan, memoryBudget: this.memoryBudget });
    return { ...reply, files: new Map(reply.files) };
  }

  /** The tokenizer's files, apart from the model's: the chat starts on them. -> {files: Map, ...} */
  async tokenizer() {
    const reply = await this.ask({ type: "tokenizer" });
    return { ...reply, files: new Map(reply.files) };
  }
}

/** The engine `loaded.engine` started on its file: {engine, decoder (what Python drives),
 * precision, threads, ...the load's figures}. The file's bytes are let go of (the engine holds
 * its own copy). */
export async function startEngine(loaded, { precision, build, ort, manifest, threads }) {
  const bytes = loaded.files.get(loaded.path);
  loaded.files.delete(loaded.path);
  const started = performance.now();
  let decoder;
  try {
    if (loaded.engine === "icchat") {
      // threads over shared memory when cross-origin isolated; else the one-thread module
      const n = build.engine_threads ? threads : 1;
      decoder = await Engine.create(absolute(engineModulePath(build, n)), bytes, { threads: n });
    } else {
      const m = manifest.model;
      const dims = { n_layer: m.n_layer, n_head: m.n_head, n_embd: m.n_embd, n_ctx: m.n_ctx, vocab_size: m.vocab_size };
      decoder = await OrtEngine.create(ort, bytes, dims, { threads, sampler: absolute(build.sampler) });
    }
  } catch (error) {
    const message = String(error?.message ?? error);
    if (outOfMemory(error)) throw new ModelError("memory", `Out of memory while preparing the model: ${message}`);
    // ort-engine.mjs's errors say "onnxruntime-web could not load the model: ..." themselves
    throw new ModelError("runtime", loaded.engine === "icchat" ? `the icchat engine could not load ${loaded.path}: ${message}` : `${message} (${loaded.path})`);
  }
  return {
    engine: loaded.engine, decoder, precision, threads: decoder.threads, networkBytes: loaded.networkBytes, prefetched: loaded.prefetched,
    downloadSeconds: loaded.seconds, sessionSeconds: (performance.now() - started) / 1000,
  };
}

/** What this browser gives the on-device model, and what `model` (startEngine's record, null when
 * none runs) got of it: `ready`'s `features` (the tests and the README's table of engines read it).
 * Threads need SharedArrayBuffer itself, not only cross-origin isolation (worker-boot.mjs). */
export function deviceFeatures(model) {
  return {
    shared_memory: sharedMemory(),
    simd: hasSimd(),
    relaxed_simd: hasRelaxedSimd(),
    threads: model?.threads ?? 0,
    engine: model?.engine ?? null,
    kernel: model?.decoder.kernel ?? null, // the icchat engine's q8 product; onnxruntime-web: none
  };
}
