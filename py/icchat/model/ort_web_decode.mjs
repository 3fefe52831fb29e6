// Teacher-forced GPT-2 decoding with onnxruntime-web (WASM backend) under Node: the same runtime
// the page uses. Feeds the prompt (past length 0), then one token per step with the KV cache.
// usage: node ort_web_decode.mjs MODEL.onnx OUT.f32 '{"prompt":[...],"steps":[...],"threads":1}'
// Writes the logits of every prompt position and every step as little-endian float32 rows and
// prints {"inputs":[...], "ms_per_run":[...]} on stdout.
import { readFileSync, writeFileSync } from "node:fs";
import * as ort from "onnxruntime-web";

const [modelPath, outPath, specJson] = process.argv.slice(2);
const spec = JSON.parse(specJson);
ort.env.wasm.numThreads = spec.threads ?? 1;
const session = await ort.InferenceSession.create(readFileSync(modelPath));
const pastNames = session.inputNames.filter((n) => n.startsWith("past_key_values."));
const meta = session.inputMetadata?.find?.((m) => m.name === pastNames[0]);
const [heads, headDim] = meta?.shape ? [meta.shape[1], meta.shape[3]] : [spec.heads, spec.head_dim];

const int64 = (values) => new ort.Tensor("int64", BigInt64Array.from(values.map(BigInt)), [1, values.length]);
let past = Object.fromEntries(pastNames.map((n) => [n, new ort.Tensor("float32", new Float32Array(0), [1, heads, 0, headDim])]));
let pastLength = 0;
const rows = [];
const msPerRun = [];
for (const ids of [spec.prompt, ...spec.steps.map((t) => [t])]) {
  const feeds = {
    input_ids: int64(ids),
    attention_mask: int64(Array(pastLength + ids.length).fill(1)),
    position_ids: int64(ids.map((_, i) => pastLength + i)),
    ...past,
  };
  const start = performance.now();
  const out = await session.run(feeds);
  msPerRun.push(performance.now() - start);
  rows.push(out.logits.data);
  past = Object.fromEntries(pastNames.map((n) => [n, out[n.replace("past_key_values", "present")]]));
  pastLength += ids.length;
}
const flat = new Float32Array(rows.reduce((a, r) => a + r.length, 0));
rows.reduce((offset, r) => (flat.set(r, offset), offset + r.length), 0);
writeFileSync(outPath, Buffer.from(flat.buffer));
console.log(JSON.stringify({ inputs: session.inputNames, ms_per_run: msPerRun }));
