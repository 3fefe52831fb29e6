// The threaded products of the icchat engine (browser/ops_browser.c: rows, or batches of eight tokens,
// handed out to whichever thread asks) against the naive reference, in the threaded kernel-check
// module (icchat.build.kernel_check "threads"). The helpers are started as web/engine.mjs starts
// them: an instance of the module per thread over one shared memory, each with its own stack,
// running engine_thread_main(index) for good. Run by tests/kernels/test_kernels_threads.py:
//   node --experimental-wasm-relaxed-simd threads_check.mjs MODULE.wasm KERNELS THREADS...
// KERNELS: the q8 kernels to run, "widened" and/or "relaxed" joined by commas. Prints one JSON
// line: [{threads, dtype, kernel, rows, n, T, values, differ, first}], one entry per case.
import { readFileSync } from "node:fs";
import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads";

const HELPER_STACK = 1 << 20;
const MAX_ROWS = 256; // the helpers' f32 scratch is sized for products of up to this many rows
const Q8_KERNELS = { widened: 0, relaxed: 1 };

function imports(memory) {
  const text = (ptr, len) => new TextDecoder().decode(new Uint8Array(memory.buffer, ptr, len).slice());
  return { env: { memory }, ic0: { trap: (ptr, len) => { throw new Error(text(ptr, len)); } } };
}

/** run(exports, memory, threads) on a fresh instance whose products `threads` threads share. */
async function withThreads(module, threads, run) {
  const memory = new WebAssembly.Memory({ initial: 256, maximum: 65535, shared: true });
  const e = new WebAssembly.Instance(module, imports(memory)).exports;
  if (e.check_threads(threads, MAX_ROWS) !== 0) throw new Error(`the module refuses ${threads} threads`);
  const helpers = [];
  try {
    for (let index = 1; index < threads; index++) {
      const stackTop = e.check_keep(HELPER_STACK) + HELPER_STACK;
      const helper = new Worker(new URL(import.meta.url), { workerData: { module, memory, index, stackTop } });
      helpers.push(helper);
      await new Promise((resolve, reject) => {
        helper.once("message", resolve);
        helper.once("error", reject);
      });
    }
    return run(e, memory, threads);
  } finally {
    await Promise.all(helpers.map((helper) => helper.terminate()));
  }
}

// seeded values: mulberry32, normal by Box-Muller
function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const normals = (next, count, scale = 1) =>
  Float32Array.from({ length: count }, () => scale * Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next()));

// (rows, n, T): rows shared in units of four (one row, rows off fours); one token, tokens off
// eights, enough batches of eight to share; n of one q8 block (16), one f32 block (128), 768 + 128, 3072
const Q8_SHAPES = [[256, 128, 1], [1, 128, 1], [13, 48, 3], [255, 256, 9], [64, 768, 8], [130, 3072, 2], [96, 16, 20]];
const F32_SHAPES = [[256, 128, 1], [13, 896, 1], [61, 768, 9], [40, 1664, 17], [24, 256, 40], [5, 128, 3]];

function runCases(e, memory, threads, kernels) {
  const put = (array) => {
    const ptr = e.check_alloc(Math.max(array.byteLength, 1));
    new Uint8Array(memory.buffer, ptr, array.byteLength).set(new Uint8Array(array.buffer, array.byteOffset, array.byteLength));
    return ptr;
  };
  const bits = (ptr, count) => new Uint32Array(memory.buffer, ptr, count).slice();
  const compare = (fast, ref, count) => {
    const a = bits(fast, count), b = bits(ref, count);
    let differ = 0, first = -1;
    for (let i = 0; i < count; i++) if (a[i] !== b[i] && differ++ === 0) first = i;
    return { values: count, differ, first };
  };
  const padded = (count) => (count + 3) & ~3;
  const out = [];
  for (const [rows, n, T] of Q8_SHAPES) {
    const next = random(rows * 1000003 + n * 101 + T);
    e.check_reset();
    const w = put(Int8Array.from({ length: rows * n }, () => Math.floor(next() * 256) - 128));
    const scale = put(Float32Array.from({ length: padded(rows) }, () => 1e-3 + 0.02 * next()));
    const bias = put(normals(next, padded(rows)));
    const x = put(normals(next, T * n, 3));
    const ref = e.check_alloc(T * rows * 4);
    e.ref_matmul_q8(ref, w, scale, x, bias, rows, n, T);
    for (const kernel of kernels) {
      if (e.check_q8_kernel(Q8_KERNELS[kernel]) !== 0) throw new Error(`no ${kernel} q8 kernel in this module`);
      const fast = e.check_alloc(T * rows * 4);
      e.threaded_linear_q8(fast, w, scale, x, bias, rows, n, T);
      out.push({ threads, dtype: "q8", kernel, rows, n, T, ...compare(fast, ref, T * rows) });
    }
  }
  for (const [rows, n, T] of F32_SHAPES) {
    const next = random(rows * 1000003 + n * 101 + T + 7);
    e.check_reset();
    const w = put(normals(next, rows * n, 0.05));
    const bias = put(normals(next, rows));
    const x = put(normals(next, T * n));
    const ref = e.check_alloc(T * rows * 4), fast = e.check_alloc(T * rows * 4);
    e.ref_matmul_f32(ref, w, x, bias, rows, n, T);
    e.threaded_linear_f32(fast, w, x, bias, rows, n, T);
    out.push({ threads, dtype: "f32", kernel: null, rows, n, T, ...compare(fast, ref, T * rows) });
  }
  return out;
}

function helperThread() {
  const { module, memory, index, stackTop } = workerData;
  const instance = new WebAssembly.Instance(module, imports(memory));
  instance.exports.__stack_pointer.value = stackTop; // the stack grows down from here
  parentPort.postMessage("started");
  instance.exports.engine_thread_main(index); // never returns: terminated by the main thread
}

async function main() {
  const [wasm, kernels, ...threadCounts] = process.argv.slice(2);
  const module = new WebAssembly.Module(readFileSync(wasm));
  const run = (e, memory, threads) => runCases(e, memory, threads, kernels.split(","));
  const results = [];
  for (const threads of threadCounts.map(Number)) results.push(...(await withThreads(module, threads, run)));
  console.log(JSON.stringify(results));
}

if (isMainThread) await main();
else helperThread();
