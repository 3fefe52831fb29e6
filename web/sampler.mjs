// sampler.mjs: the gpt2 canister's token choice for engines whose logits live in JS
// (web/ort-engine.mjs). It is not a port: it runs canister/gpt2/sampling.c itself, compiled with
// the canister's mathf.c into icchat-sampler.wasm (canister/gpt2/browser/sampler.c, built by
// icchat.build.engine), so the same logits, settings, seed and position give the same token as
// the icchat engine and the gpt2 canister (tests/engine/test_sampler_parity.py).
//
//   const sampler = await loadSampler(url);   // icchat-sampler.wasm (build.json's "sampler"), once per source
//   sampler.next(logits, temperature, topK, topP, seed, position)  // -> a token id

const decoder = new TextDecoder();
const loaded = new Map(); // source -> Promise<Sampler>: one instance per module source

/** A 64-bit seed (decimal string, number or BigInt) as C's uint64_t. */
function seedBits(seed) {
  try {
    return BigInt.asUintN(64, BigInt(seed));
  } catch {
    throw new Error(`the seed must be an integer, not ${JSON.stringify(String(seed))}`);
  }
}

/** The sampler for `source`: a WebAssembly.Module, the module's bytes, or its URL (the page's:
 * build.json's "sampler", which the worker passes), instantiated once per source. */
export function loadSampler(source) {
  if (source === undefined) throw new Error("loadSampler needs icchat-sampler.wasm (build.json's \"sampler\")");
  if (!loaded.has(source)) {
    const sampler = Sampler.instantiate(source);
    loaded.set(source, sampler);
    sampler.catch(() => loaded.delete(source)); // a failed load is tried again by the next caller
  }
  return loaded.get(source);
}

export class Sampler {
  static async instantiate(source) {
    source = await source;
    let module;
    try {
      if (source instanceof WebAssembly.Module) module = source;
      else if (source instanceof URL || typeof source === "string") module = await WebAssembly.compileStreaming(fetch(source));
      else module = await WebAssembly.compile(source);
    } catch (error) {
      throw new Error(`could not load the sampler (${source instanceof URL || typeof source === "string" ? source : "icchat-sampler.wasm"}): ${error.message}`);
    }
    const sampler = new Sampler();
    const imports = { ic0: { trap: (ptr, len) => { throw new Error(sampler.text(ptr, len)); } } };
    sampler.exports = (await WebAssembly.instantiate(module, imports)).exports;
    return sampler;
  }

  text(ptr, len) {
    return decoder.decode(new Uint8Array(this.exports.memory.buffer, ptr, len));
  }

  /** The next token for `logits` (a Float32Array, left as it is) as the gpt2 canister chooses it:
   * argmax at temperature 0, else temperature / top-k / top-p with the draw keyed by (seed,
   * position). seed: a decimal string, number or BigInt < 2^64. Settings the canister refuses
   * throw an Error with its one line. */
  next(logits, temperature, topK, topP, seed, position) {
    const s = seedBits(seed), n = logits.length, e = this.exports;
    const ptr = e.sampler_logits(n);
    if (!ptr) throw new Error(`the sampler takes 1 to 2^26 logits, not ${n}`);
    new Float32Array(e.memory.buffer, ptr, n).set(logits); // a fresh view: sampler_logits may grow the memory
    const token = e.sampler_next(n, temperature, topK >>> 0, topP, Number(s & 0xffffffffn), Number(s >> 32n), position >>> 0);
    if (token < 0) {
      const at = e.sampler_error(), bytes = new Uint8Array(e.memory.buffer, at, 128);
      throw new Error(this.text(at, bytes.indexOf(0)));
    }
    return token;
  }
}
