// The icchat engine: the gpt2 canister's own C model (canister/gpt2, built by
// icchat.build.engine into icchat-engine.wasm) as an on-device engine beside onnxruntime-web.
// It loads the SAME canister weight file the gpt2 canister serves (the bundle's
// canister/gpt2-q8.bin or -f32.bin), keeps the KV cache, the logits and the sampler in its own
// memory, and chooses tokens exactly as the canister does (docs/on-device-engine.md).
//
//   const engine = await Engine.create(wasmUrlOrModule, weightBytes);          // one thread
//   const engine = await Engine.create(threadedUrlOrModule, weightBytes, {threads: 2});  // shared memory
//   engine.forward(tokens, pos);   // feed tokens at positions pos.. (throws EngineError on bad input)
//   engine.next(temperature, topK, topP, seed, position)  // -> the next token id
//
// Python (icchat.chat.device.DeviceBackend) calls forward/next through Pyodide's FFI; a Python
// list arrives as a PyProxy and is read with toJs().

import { ENGINES } from "./protocol.mjs";
import { modelFile } from "./weights.js";

const INFO = ["n_layer", "n_head", "n_embd", "n_ctx", "vocab_size", "q8", "eos_token_id"];
const PAGE = 65536;
const HELPER_STACK = 1 << 20; // bytes of stack per helper thread

export class EngineError extends Error {
  constructor(message) {
    super(message);
    this.name = "EngineError";
  }
}

const decoder = new TextDecoder();

export class Engine {
  /** Compile (or take) the module, copy the weight file into its memory and check it there.
   * threads > 1 needs a threaded module (icchat-engine-threads*.wasm) and cross-origin isolation:
   * n - 1 helper workers (engine-thread.js) share the matrix products. */
  static async create(wasm, weights, { threads = 1 } = {}) {
    const module = wasm instanceof WebAssembly.Module ? wasm : await compileFrom(wasm);
    const engine = new Engine();
    engine.threads = 1;
    engine.helpers = [];
    const imports = {
      ic0: {
        // rt_alloc out of memory (or a bug): a JS exception instead of a silent wasm trap
        trap: (ptr, len) => { throw new EngineError(engine.text(ptr, len)); },
        debug_print: (ptr, len) => console.log("[icchat engine]", engine.text(ptr, len)),
      },
    };
    // the threaded module imports its memory: shared, so every helper's instance sees it
    const shared = WebAssembly.Module.imports(module).some((i) => i.kind === "memory");
    if (threads > 1 && !shared) throw new EngineError(`this engine build runs 1 to 1 threads, not ${threads} (threads need the shared-memory build, icchat-engine-threads*.wasm)`);
    if (shared) imports.env = { memory: new WebAssembly.Memory({ initial: 256, maximum: 65535, shared: true }) };
    engine.instance = await WebAssembly.instantiate(module, imports);
    engine.exports = engine.instance.exports;
    engine.memory = shared ? imports.env.memory : engine.exports.memory;
    const bytes = weights instanceof Uint8Array ? weights : new Uint8Array(weights);
    let ptr;
    try {
      ptr = engine.exports.engine_alloc(bytes.length);
    } catch (error) {
      throw new EngineError(`no room for the ${(bytes.length / 2 ** 20).toFixed(0)} MB weight file: ${error.message}`);
    }
    new Uint8Array(engine.memory.buffer, ptr, bytes.length).set(bytes);
    if (engine.exports.engine_load(ptr, bytes.length) !== 0) throw new EngineError(engine.error());
    engine.info = Object.fromEntries(INFO.map((name, i) => [name, engine.exports.engine_info(i)]));
    engine.kernel = engine.chooseQ8Kernel();
    if (threads > 1) await engine.startHelpers(module, threads);
    return engine;
  }

  /** The q8 product for this device: relaxed builds carry two, relaxed_dot (one instruction per
   * 16 weights where the CPU has VNNI, but slower than widening where it has not: 1.4x here with
   * V8's VNNI off) and the SIMD128 one. Both give the same sums; a few ms of timing picks the
   * faster. -> "relaxed" | "simd128" (f32 models: null). */
  chooseQ8Kernel() {
    const e = this.exports;
    if (!this.info.q8) return null;
    if (!e.engine_q8_kernel || e.engine_q8_kernel(1) !== 0) return "simd128";
    // interleaved, best of five each: a pause of the thread (GC, another tab) cannot decide it
    const best = [Infinity, Infinity];
    for (let round = 0; round < 5; round++) {
      for (const kernel of [1, 0]) {
        e.engine_q8_kernel(kernel);
        if (round === 0) e.engine_q8_probe(2); // warm: code and weights
        const started = performance.now();
        e.engine_q8_probe(8);
        best[kernel] = Math.min(best[kernel], performance.now() - started);
      }
    }
    const [widen, relaxed] = best;
    e.engine_q8_kernel(relaxed <= widen ? 1 : 0);
    return relaxed <= widen ? "relaxed" : "simd128";
  }

  /** Run the q8 product `kernel` ("relaxed" | "simd128") from now on (tests and benchmarks). */
  useQ8Kernel(kernel) {
    if (this.exports.engine_q8_kernel?.(kernel === "relaxed" ? 1 : 0) !== 0) throw new EngineError(`no ${kernel} q8 kernel in this engine build`);
    this.kernel = kernel;
  }

  /** n - 1 helper workers on the same module and memory, each with a stack of its own. */
  async startHelpers(module, n) {
    if (this.exports.engine_set_threads(n) !== 0) throw new EngineError(this.error());
    const started = [];
    for (let index = 1; index < n; index++) {
      const stackTop = this.exports.engine_alloc(HELPER_STACK) + HELPER_STACK;
      const helper = new Worker(new URL("./engine-thread.js", import.meta.url), { type: "module" });
      this.helpers.push(helper);
      started.push(new Promise((resolve, reject) => {
        helper.onmessage = ({ data }) => (data.type === "started" ? resolve() : reject(new EngineError(`an engine thread failed: ${data.message}`)));
        helper.onerror = (event) => reject(new EngineError(`an engine thread failed: ${event.message ?? "could not start"}`));
      }));
      helper.postMessage({ module, memory: this.memory, index, stackTop });
    }
    try {
      await Promise.all(started); // no product is published before every helper listens
    } catch (error) {
      this.close();
      this.exports.engine_set_threads(1); // never publish to helpers that are not there
      throw error;
    }
    this.threads = n;
  }

  /** Stop the helper threads (the engine must not be used after). */
  close() {
    for (const helper of this.helpers) helper.terminate();
    this.helpers = [];
  }

  text(ptr, len) {
    return decoder.decode(new Uint8Array(this.memory.buffer, ptr, len).slice()); // a copy: shared memory cannot be decoded
  }

  error() {
    const ptr = this.exports.engine_error();
    const bytes = new Uint8Array(this.memory.buffer, ptr, 256);
    const end = bytes.indexOf(0);
    return decoder.decode(bytes.slice(0, end < 0 ? 256 : end));
  }

  /** Feed `tokens` (an array, typed array or Python list) at positions pos, pos + 1, ... */
  forward(tokens, pos) {
    const ids = typeof tokens?.toJs === "function" ? tokens.toJs() : tokens;
    const n = ids.length;
    if (!(n >= 1 && n <= this.info.n_ctx)) throw new EngineError(`${n} tokens do not fit the context of ${this.info.n_ctx}`);
    // a fresh view each call: memory.grow detaches the old buffer
    new Uint32Array(this.memory.buffer, this.exports.engine_tokens(), n).set(ids);
    if (this.exports.engine_forward(n, pos) !== 0) throw new EngineError(this.error());
  }

  /** The next token as the gpt2 canister chooses it; seed: a decimal string, number or BigInt < 2^64. */
  next(temperature, topK, topP, seed, position) {
    const s = BigInt.asUintN(64, BigInt(seed));
    const token = this.exports.engine_next(temperature, topK >>> 0, topP, Number(s & 0xffffffffn), Number(s >> 32n), position >>> 0);
    if (token < 0) throw new EngineError(this.error());
    return token;
  }

  /** A copy of the last position's logits (tests and benchmarks; the chat never reads them). */
  logits() {
    const ptr = this.exports.engine_logits();
    if (!ptr) throw new EngineError("no logits: feed a token first");
    return new Float32Array(this.memory.buffer, ptr, this.info.vocab_size).slice();
  }
}

async function compileFrom(url) {
  let response;
  try {
    response = await fetch(url);
  } catch (error) {
    throw new EngineError(`could not load the icchat engine (${url}): ${error.message}`);
  }
  if (!response.ok) throw new EngineError(`could not load the icchat engine (${url}): HTTP ${response.status}`);
  return WebAssembly.compileStreaming(response);
}

// --- which module ----------------------------------------------------------------------------

// A module of one function that uses i32x4.relaxed_dot_i8x16_i7x16_add_s (0xfd 0x113): it
// validates exactly where the relaxed-SIMD engine modules can run.
const RELAXED_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 19, 1, 17, 0,
  65, 0, 253, 15, 65, 0, 253, 15, 65, 0, 253, 15, 253, 0x93, 2, 11]);

/** Whether this browser runs relaxed SIMD (the faster q8 products: icchat.build.engine). */
export const hasRelaxedSimd = () => WebAssembly.validate(RELAXED_PROBE);

/** build.json's engine module for `threads` (> 1: the shared-memory one), with relaxed SIMD
 * where the browser has it; the same tokens either way. */
export function engineModulePath(build, threads, relaxed = hasRelaxedSimd()) {
  const key = threads > 1 ? "engine_threads" : "engine";
  return (relaxed && build[`${key}_relaxed`]) || build[key];
}

// --- which on-device engine answers ---------------------------------------------------------
// Chosen once per model load, by the model-file loader's thread (weights-worker.js), which loads
// the chosen engine's file; the chat worker runs what it was sent.

/** The key of a speed measurement: the same model file, precision and thread count. */
export const speedKey = (manifestSha256, precision, threads) => `${manifestSha256}:${precision}:${threads}`;

/** "icchat" or "onnxruntime-web" for the engine setting `choice` (protocol.mjs ENGINE_CHOICES);
 * throws if the bundle has no file for the engine asked for. auto: the faster of the two as
 * measured on this device (`measured`: {icchat: ms, "onnxruntime-web": ms} per token, from
 * worker-auto.mjs), else the icchat engine when it can run the model (it was the faster one
 * wherever we measured: BENCHMARKS.md). */
export function chooseEngine(choice, manifest, precision, measured = null) {
  const has = (engine) => modelFile(manifest, precision, engine) !== null;
  if (choice !== "auto") {
    if (!has(choice)) throw new EngineError(`the model bundle has no ${precision} file for ${choice}${choice === "icchat" ? " (a canister weight file)" : ""}`);
    return choice;
  }
  if (!has("icchat")) return "onnxruntime-web";
  if (has("onnxruntime-web") && measuredBoth(measured) && measured["onnxruntime-web"] < measured.icchat) return "onnxruntime-web";
  return "icchat";
}

/** Whether a measurement has both engines' figures. */
export function measuredBoth(measured) {
  return ENGINES.every((e) => Number.isFinite(measured?.[e]) && measured[e] > 0);
}
