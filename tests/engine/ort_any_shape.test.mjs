// web/ort-engine.mjs under Node with onnxruntime-web on a bundle of another vocabulary and context
// (50,260 tokens, 512 positions; run by tests/engine/test_any_shape.py: BUNDLE = the bundle's
// directory, ENGINE_WASM = icchat-engine.wasm, SAMPLER_WASM = icchat-sampler.wasm).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import * as ort from "onnxruntime-web";
import { Engine } from "../../web/engine.mjs";
import { OrtEngine } from "../../web/ort-engine.mjs";

const bundle = process.env.BUNDLE;
const manifest = JSON.parse(readFileSync(join(bundle, "manifest.json"), "utf8"));
const file = (role, variant) => new Uint8Array(readFileSync(join(bundle, manifest.files.find((f) => f.role === role && f.variant === variant).path)));
const sampler = await WebAssembly.compile(readFileSync(process.env.SAMPLER_WASM));
const PROMPT = [15496, 11, 616, 50257, 1438, 318, 50258, 257, 1332, 286, 13]; // added tokens among GPT-2's

async function greedy(engine, n) {
  await engine.forward(PROMPT, 0);
  const tokens = [];
  for (let pos = PROMPT.length; tokens.length < n; pos++) {
    tokens.push(engine.next(0, 0, 1, "0", pos));
    await engine.forward([tokens.at(-1)], pos);
  }
  return tokens;
}

test("the ONNX decoder of a 50,260-token, 512-position model gives the icchat engine's greedy tokens", async () => {
  const engine = await OrtEngine.create(ort, file("onnx-decoder", "f32"), manifest.model, { threads: 1, sampler });
  assert.deepEqual([engine.info.n_ctx, engine.info.vocab_size], [512, 50260]);
  const icchat = await Engine.create(await WebAssembly.compile(readFileSync(process.env.ENGINE_WASM)), file("canister-weights", "f32"));
  const tokens = await greedy(engine, 12);
  assert.deepEqual(tokens, await greedy(icchat, 12));
  assert.equal(engine.logits().length, 50260);
  const error = await engine.forward([1, 2], 511).then(() => null, (e) => e);
  assert.match(error.message, /^2 tokens at position 511 do not fit the context of 512$/);
  await engine.close();
});

test("a manifest whose vocab_size is not the graph's is refused at load", async () => {
  const error = await OrtEngine.create(ort, file("onnx-decoder", "f32"), { ...manifest.model, vocab_size: 50257 }, { threads: 1, sampler })
    .then(() => null, (e) => e);
  assert.match(error.message, /^onnxruntime-web failed: the model's logits have 50260 entries, its manifest says vocab_size 50257$/);
});
