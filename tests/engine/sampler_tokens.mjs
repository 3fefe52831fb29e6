// web/sampler.mjs's choice for each case (run by tests/engine/test_sampler_parity.py).
// argv: <rows.f32: n_rows * n little-endian float32> <n> <cases JSON: [[row, temperature, top_k, top_p, seed, position], ...]>
// prints [token, ...] (an error's message in place of a refused case's token).
import { readFileSync } from "node:fs";
import { nextToken } from "../../web/sampler.mjs";

const [rowsPath, n, casesPath] = process.argv.slice(2);
const bytes = readFileSync(rowsPath);
const rows = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
const tokens = JSON.parse(readFileSync(casesPath, "utf8")).map(([row, temperature, topK, topP, seed, position]) => {
  const logits = rows.slice(row * n, (row + 1) * n); // a copy: nextToken consumes it
  try {
    return nextToken(logits, temperature, topK, topP, seed, position);
  } catch (error) {
    return error.message;
  }
});
process.stdout.write(JSON.stringify(tokens));
