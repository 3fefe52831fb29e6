// In-browser drivers of `icchat bench page`'s peers (transformers.js, bare onnxruntime-web), loaded by the static bench page
// (_page_server.py) and called through Playwright's page.evaluate. Each one decodes greedily:
// the prompt in one run (prefill), then one token per run with the KV cache fed back, and
// returns {fetch_ms, session_ms, prefill_ms, step_ms: [...], tokens: [...]}. ORT fixes its
// thread count once per page: every run gets a fresh page. `inWorker(name, spec)` runs a driver
// in a module Web Worker (this file again), as our page runs its model in one.

const origin = self.location.origin;

function argmaxLast(logits) {
  const vocab = logits.dims[logits.dims.length - 1];
  const data = logits.data;
  const base = data.length - vocab;
  let best = 0;
  for (let i = 1; i < vocab; i++) if (data[base + i] > data[base + best]) best = i;
  return best;
}

/** Bare onnxruntime-web 1.30 (ort.wasm.min.mjs, the plain SIMD-threaded build), driven from JS. */
export async function ortDecode({ file, threads, prompt, newTokens, nHead, headDim }) {
  const ort = await import(`${origin}/ort/ort.wasm.min.mjs`);
  ort.env.wasm.wasmPaths = `${origin}/ort/`;
  ort.env.wasm.numThreads = threads;
  ort.env.wasm.proxy = false;
  let t = performance.now();
  const bytes = new Uint8Array(await (await fetch(`${origin}/model/${file}`)).arrayBuffer());
  const fetchMs = performance.now() - t;
  t = performance.now();
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ["wasm"], graphOptimizationLevel: "all" });
  const sessionMs = performance.now() - t;
  const pastNames = session.inputNames.filter((n) => n.startsWith("past_key_values."));
  const int64 = (values) => new ort.Tensor("int64", BigInt64Array.from(values.map(BigInt)), [1, values.length]);
  let past = Object.fromEntries(pastNames.map((n) => [n, new ort.Tensor("float32", new Float32Array(0), [1, nHead, 0, headDim])]));
  let position = 0;
  const tokens = [];
  const times = [];
  let firstAt = null;
  let ids = prompt;
  for (let i = 0; i < newTokens; i++) {
    const feeds = { input_ids: int64(ids), attention_mask: int64(Array(position + ids.length).fill(1)), position_ids: int64(ids.map((_, j) => position + j)), ...past };
    const start = performance.now();
    const out = await session.run(feeds);
    const token = argmaxLast(out.logits);
    times.push(performance.now() - start);
    firstAt ??= performance.timeOrigin + performance.now(); // epoch ms (a worker has its own origin)
    out.logits.dispose();
    for (const tensor of Object.values(past)) tensor.dispose();
    past = Object.fromEntries(pastNames.map((n) => [n, out[n.replace("past_key_values", "present")]]));
    position += ids.length;
    tokens.push(token);
    ids = [token];
  }
  await session.release();
  return { fetch_ms: fetchMs, session_ms: sessionMs, prefill_ms: times[0], step_ms: times.slice(1), tokens, threads: ort.env.wasm.numThreads, ort_versions: ort.env.versions ?? null, first_token_epoch_ms: firstAt };
}

/** transformers.js 4.3.1 (its own bundled ORT build, asyncify) loading the bundle from /model/;
 * precision "q8" | "f32" (its `dtype` names f32 "fp32": the one place that name is spoken). */
export async function tjsDecode({ precision, threads, prompt, newTokens }) {
  const dtype = { q8: "q8", f32: "fp32" }[precision];
  let t = performance.now();
  const tjs = await import(`${origin}/tjs/transformers.min.js`);
  const { env, AutoModelForCausalLM, Tensor } = tjs;
  env.allowLocalModels = true;
  env.allowRemoteModels = false;
  env.localModelPath = `${origin}/`;
  env.backends.onnx.wasm.wasmPaths = `${origin}/tjs-ort/`;
  env.backends.onnx.wasm.numThreads = threads;
  const model = await AutoModelForCausalLM.from_pretrained("model", { model_file_name: "decoder_model_merged", dtype, device: "wasm" });
  const loadMs = performance.now() - t;
  const stamps = [];
  const tokens = [];
  const streamer = {
    put(value) {
      stamps.push(performance.now());
      if (stamps.length > 1) tokens.push(Number(value[0][0]));
    },
    end() {},
  };
  const n = prompt.length;
  await model.generate({
    input_ids: new Tensor("int64", BigInt64Array.from(prompt.map(BigInt)), [1, n]),
    attention_mask: new Tensor("int64", new BigInt64Array(n).fill(1n), [1, n]),
    max_new_tokens: newTokens, min_new_tokens: newTokens, do_sample: false, streamer,
  });
  const gaps = stamps.slice(1).map((s, i) => s - stamps[i]);
  await model.dispose?.();
  return { fetch_ms: null, load_ms: loadMs, session_ms: null, prefill_ms: gaps[0], step_ms: gaps.slice(1), tokens, threads: env.backends.onnx.wasm.numThreads, ort_versions: env.backends.onnx.versions ?? null, first_token_epoch_ms: performance.timeOrigin + stamps[1] };
}

/** Chromium's own figure for this page and its workers (needs cross-origin isolation). */
export async function uaMemory(timeoutMs = 20000) {
  if (!performance.measureUserAgentSpecificMemory) return null;
  const timeout = new Promise((resolve) => setTimeout(() => resolve(null), timeoutMs));
  const measured = await Promise.race([performance.measureUserAgentSpecificMemory(), timeout]);
  return measured ? measured.bytes : null;
}

const DRIVERS = { ortDecode, tjsDecode };

/** Run a driver in a new module worker; first_token_at_ms is made relative to this page's start. */
export function inWorker(name, spec) {
  const worker = new Worker(import.meta.url, { type: "module" });
  return new Promise((resolve, reject) => {
    worker.onmessage = ({ data }) => {
      worker.terminate();
      if (data.error) return reject(new Error(data.error));
      resolve({ ...data.ok, first_token_at_ms: data.ok.first_token_epoch_ms - performance.timeOrigin });
    };
    worker.onerror = (event) => reject(new Error(event.message || "the bench worker failed"));
    worker.postMessage({ name, spec });
  });
}

if (typeof WorkerGlobalScope !== "undefined" && self instanceof WorkerGlobalScope) {
  self.onmessage = async ({ data }) => {
    try {
      self.postMessage({ ok: await DRIVERS[data.name](data.spec) });
    } catch (error) {
      self.postMessage({ error: String(error?.stack ?? error) });
    }
  };
}
