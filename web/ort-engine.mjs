// The onnxruntime-web engine: a bundle's ONNX decoder (onnx/decoder_model_merged*.onnx) behind the
// icchat engine's shape (web/engine.mjs), so Python drives both the same way
// (icchat.chat.device.DeviceBackend) and never builds an ORT tensor.
//
//   const engine = await OrtEngine.create(ort, modelBytes, manifest.model, { threads, sampler: samplerUrl });
//   await engine.forward(tokens, pos);  // feed tokens at positions pos.. (async: session.run is)
//   engine.next(temperature, topK, topP, seed, position)  // -> the next token id (web/sampler.mjs)
//   engine.close();
//
// The KV cache stays here as ORT tensors (each run's present.* fed back as past_key_values.*).
// Feeding at pos keeps positions 0..pos-1 and drops the rest: the cached keys and values are
// sliced to pos (no recomputation; pos past what is held is refused). Tokens are chosen by the
// gpt2 canister's sampler, its C in icchat-sampler.wasm (web/sampler.mjs over the last position's
// logits), so a seed gives the same draws as on the icchat engine and on chain; the logits
// themselves are onnxruntime's.
// Errors are Errors with one line.

import { loadSampler } from "./sampler.mjs";

/** Prompt tokens per session.run: bounds the [1, T, vocab] logits output (GPT-2: 128 x 50257 floats, 26 MB). */
export const RUN_TOKENS = 128;

export class OrtEngine {
  /** A position's results depend on how its token was batched: int8 models quantize each run's
   * activations as a whole (icchat.chat.device reuses only whole runs of a cached prefix). */
  batch_invariant = false;

  /** Create the session from the decoder's bytes and run it once. `ort`: the onnxruntime-web
   * module; dims: {n_layer, n_head, n_embd, n_ctx (or n_positions), vocab_size} (the manifest's
   * "model"). threads: onnxruntime's thread count, set as ort.env.wasm.numThreads before its WASM
   * starts (it reads it once, at the first session). sampler: icchat-sampler.wasm as a
   * WebAssembly.Module, bytes or URL (the page's: build.json's "sampler"; web/sampler.mjs). */
  static async create(ort, modelBytes, dims, { threads, sampler } = {}) {
    if (threads !== undefined) ort.env.wasm.numThreads = threads;
    const engine = new OrtEngine(ort, dims);
    engine.sampler = await loadSampler(sampler);
    try {
      engine.session = await ort.InferenceSession.create(modelBytes, { executionProviders: ["wasm"], graphOptimizationLevel: "all" });
    } catch (error) {
      throw new Error(`onnxruntime-web could not load the model: ${oneLine(error)}`);
    }
    engine.threads = ort.env.wasm.numThreads || 1;
    try {
      await engine.warmUp();
    } catch (error) {
      await engine.close(); // a model that does not run as `dims` says: nothing kept
      throw error;
    }
    return engine;
  }

  constructor(ort, dims) {
    this.ort = ort;
    const n = (name) => {
      const value = Number(dims?.[name] ?? (name === "n_ctx" ? dims?.n_positions : undefined));
      if (!Number.isInteger(value) || value < 1) throw new Error(`the model's ${name} must be a positive integer, not ${dims?.[name]}`);
      return value;
    };
    this.info = { n_layer: n("n_layer"), n_head: n("n_head"), n_embd: n("n_embd"), n_ctx: n("n_ctx"), vocab_size: n("vocab_size") };
    this.headDim = this.info.n_embd / this.info.n_head;
    this.pastNames = [];
    for (let i = 0; i < this.info.n_layer; i++) this.pastNames.push(`past_key_values.${i}.key`, `past_key_values.${i}.value`);
    this.past = this.emptyPast();
    this.held = 0; // positions whose keys and values `past` holds
    this.last = null; // the last fed position's logits (a Float32Array), until next() consumes them
  }

  /**
   * One one-token run straight after loading, its results dropped: ORT starts its thread pool and
   * sizes its buffers on the first run (over a second here), and a first run
   * awaited from Python did not finish within 30 s in Chromium's workers, so it happens here.
   */
  async warmUp() {
    await this.forward([0], 0);
    this.reset();
  }

  emptyPast() {
    const { Tensor } = this.ort;
    return this.pastNames.map(() => new Tensor("float32", new Float32Array(0), [1, this.info.n_head, 0, this.headDim]));
  }

  /** Forget everything fed (the next forward starts at position 0). */
  reset() {
    dispose(this.past);
    this.past = this.emptyPast();
    this.held = 0;
    this.last = null;
  }

  /** Feed `tokens` (an array, typed array or Python list) at positions pos, pos + 1, ...; keeps
   * the last position's logits for next(). */
  async forward(tokens, pos) {
    // read a Python list now: Pyodide destroys the argument's proxy when this call returns
    const ids = Array.from(typeof tokens?.toJs === "function" ? tokens.toJs() : tokens ?? []);
    const { n_ctx, vocab_size } = this.info;
    this.last = null;
    if (!(ids.length >= 1 && Number.isInteger(pos) && pos >= 0 && pos + ids.length <= n_ctx)) {
      throw new Error(`${ids.length} tokens at position ${pos} do not fit the context of ${n_ctx}`);
    }
    const bad = ids.find((id) => !(Number.isInteger(id) && id >= 0 && id < vocab_size));
    if (bad !== undefined) throw new Error(`token id ${bad} is outside the vocabulary (${vocab_size} tokens)`);
    if (pos > this.held) throw new Error(`position ${pos} is past the ${this.held} tokens fed so far`);
    if (pos < this.held) this.keep(pos);
    try {
      for (let start = 0; start < ids.length; start += RUN_TOKENS) await this.run(ids.slice(start, start + RUN_TOKENS));
    } catch (error) {
      this.reset(); // what the cache holds is unknown now
      throw new Error(`onnxruntime-web failed: ${oneLine(error)}`);
    }
  }

  /** Keep the first n positions of the cache (each tensor [1, heads, held, headDim] sliced on its
   * third axis). */
  keep(n) {
    const { Tensor } = this.ort;
    const rows = this.info.n_head, from = this.held * this.headDim, to = n * this.headDim;
    this.past = this.past.map((tensor) => {
      const data = new Float32Array(rows * to);
      for (let h = 0; h < rows; h++) data.set(tensor.data.subarray(h * from, h * from + to), h * to);
      tensor.dispose();
      return new Tensor("float32", data, [1, rows, n, this.headDim]);
    });
    this.held = n;
  }

  /** One session.run of ids at positions held..; the cache grows by ids.length. */
  async run(ids) {
    if (!this.session) throw new Error("the engine is closed");
    const { Tensor } = this.ort;
    const pos = this.held, n = ids.length, vocab = this.info.vocab_size;
    const int64 = (values) => new Tensor("int64", BigInt64Array.from(values, BigInt), [1, values.length]);
    const feeds = {
      input_ids: int64(ids),
      attention_mask: new Tensor("int64", new BigInt64Array(pos + n).fill(1n), [1, pos + n]),
      position_ids: int64(ids.map((_, i) => pos + i)),
    };
    this.pastNames.forEach((name, i) => { feeds[name] = this.past[i]; });
    const out = await this.session.run(feeds);
    const present = this.pastNames.map((name) => out[name.replace("past_key_values", "present")]);
    if (present.some((t) => !t) || !out.logits) {
      dispose(Object.values(out));
      throw new Error("the model's outputs are not logits and present.* (not a GPT-2 decoder with a KV cache?)");
    }
    if (out.logits.dims.at(-1) !== vocab) { // any vocabulary, but the one the manifest's vocab_size names
      dispose(Object.values(out));
      throw new Error(`the model's logits have ${out.logits.dims.at(-1)} entries, its manifest says vocab_size ${vocab}`);
    }
    this.last = out.logits.data.slice((n - 1) * vocab, n * vocab); // the last position's, a copy
    out.logits.dispose();
    dispose(this.past);
    this.past = present;
    this.held = pos + n;
  }

  /** The next token as the gpt2 canister chooses it; seed: a decimal string, number or BigInt
   * < 2^64; position: the token's absolute position (the draw is keyed by (seed, position)). */
  next(temperature, topK, topP, seed, position) {
    if (!this.last) throw new Error("no logits: feed a token first");
    const token = this.sampler.next(this.last, temperature, topK, topP, seed, position);
    this.last = null; // consumed, as on the icchat engine (settings the sampler refuses consume nothing)
    return token;
  }

  /** A copy of the last position's logits (tests and benchmarks; the chat never reads them). */
  logits() {
    if (!this.last) throw new Error("no logits: feed a token first");
    return this.last.slice();
  }

  /** Free the session and the cache (the engine must not be used after). */
  async close() {
    dispose(this.past);
    this.past = [];
    this.last = null;
    await this.session?.release();
    this.session = null;
  }
}

function dispose(tensors) {
  for (const tensor of tensors) tensor?.dispose?.();
}

function oneLine(error) {
  const lines = String(error?.message ?? error).split("\n").map((line) => line.trim()).filter(Boolean);
  return lines.at(-1) ?? "unknown error";
}
