// web/sampler.mjs's choice for each case, on icchat-sampler.wasm (run by tests/engine/test_sampler_parity.py).
// argv: <icchat-sampler.wasm> <rows.f32: n_rows * n little-endian float32> <n> <cases JSON: [[row, temperature, top_k, top_p, seed, position], ...]>
// prints [token, ...] (an error's message in place of a refused case's token).
import { readFileSync } from "node:fs";
import { loadSampler } from "../../web/sampler.mjs";

const [wasmPath, rowsPath, n, casesPath] = process.argv.slice(2);
const sampler = await loadSampler(readFileSync(wasmPath));
const bytes = readFileSync(rowsPath);
const rows = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
const tokens = JSON.parse(readFileSync(casesPath, "utf8")).map(([row, temperature, topK, topP, seed, position]) => {
  try {
    return sampler.next(rows.subarray(row * n, (row + 1) * n), temperature, topK, topP, seed, position);
  } catch (error) {
    return error.message;
  }
});
process.stdout.write(JSON.stringify(tokens));
