// web/ort-engine.mjs under Node with onnxruntime-web, on a seeded tiny bundle (run by
// tests/engine/test_ort_engine_js.py: BUNDLE = the bundle's directory, ENGINE_WASM = icchat-engine.wasm,
// SAMPLER_WASM = icchat-sampler.wasm).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import * as ort from "onnxruntime-web";
import { Engine } from "../../web/engine.mjs";
import { OrtEngine, RUN_TOKENS } from "../../web/ort-engine.mjs";

const bundle = process.env.BUNDLE;
const manifest = JSON.parse(readFileSync(join(bundle, "manifest.json"), "utf8"));
// precision q8 | f32; bundles of format 1 name the f32 ONNX decoder "fp32"
const file = (role, precision) => new Uint8Array(readFileSync(join(bundle, manifest.files.find((f) => f.role === role && [precision, { f32: "fp32" }[precision]].includes(f.variant)).path)));
const PROMPT = [15496, 11, 616, 1438, 318, 257, 1332, 286, 262, 3992, 13];

const sampler = await WebAssembly.compile(readFileSync(process.env.SAMPLER_WASM));
const ortEngine = (variant) => OrtEngine.create(ort, file("onnx-decoder", variant), manifest.model, { threads: 1, sampler });
const icchatEngine = async (variant) => Engine.create(await WebAssembly.compile(readFileSync(process.env.ENGINE_WASM)), file("canister-weights", variant));

/** n tokens after the prompt, fed one at a time, chosen by the engine's next(). */
async function generate(engine, n, [temperature, topK, topP, seed] = [0, 0, 1, "0"], prompt = PROMPT) {
  await engine.forward(prompt, 0);
  const tokens = [];
  for (let pos = prompt.length; tokens.length < n; pos++) {
    tokens.push(engine.next(temperature, topK, topP, seed, pos));
    await engine.forward([tokens.at(-1)], pos);
  }
  return tokens;
}

/** The same greedy decoding straight on an ORT session (the KV cache fed back by hand, argmax in
 * plain JS): what the engine must equal. */
async function sessionGreedy(n) {
  const session = await ort.InferenceSession.create(file("onnx-decoder", "f32"));
  const { n_layer, n_head, n_embd } = manifest.model;
  const names = Array.from({ length: n_layer }, (_, i) => [`past_key_values.${i}.key`, `past_key_values.${i}.value`]).flat();
  let past = Object.fromEntries(names.map((name) => [name, new ort.Tensor("float32", new Float32Array(0), [1, n_head, 0, n_embd / n_head])]));
  const int64 = (values) => new ort.Tensor("int64", BigInt64Array.from(values, BigInt), [1, values.length]);
  const tokens = [];
  let ids = PROMPT, held = 0;
  while (tokens.length < n) {
    const out = await session.run({ input_ids: int64(ids), attention_mask: int64(Array(held + ids.length).fill(1)), position_ids: int64(ids.map((_, i) => held + i)), ...past });
    const last = out.logits.data.subarray((ids.length - 1) * manifest.model.vocab_size);
    let best = 0;
    for (let i = 1; i < last.length; i++) if (last[i] > last[best]) best = i;
    tokens.push(best);
    past = Object.fromEntries(names.map((name) => [name, out[name.replace("past_key_values", "present")]]));
    held += ids.length;
    ids = [best];
  }
  await session.release();
  return tokens;
}

test("greedy tokens equal the ORT session's and the icchat engine's on the same f32 model", async () => {
  const engine = await ortEngine("f32");
  assert.deepEqual(engine.info, { n_layer: 2, n_head: 4, n_embd: 128, n_ctx: 1024, vocab_size: 50257 });
  assert.equal(engine.threads, 1);
  const tokens = await generate(engine, 16);
  assert.deepEqual(tokens, await sessionGreedy(16));
  assert.deepEqual(tokens, await generate(await icchatEngine("f32"), 16));
  await engine.close();
});

test("a seed draws the icchat engine's numbers: the same sampled tokens on the same f32 model", async () => {
  const engine = await ortEngine("f32");
  for (const settings of [[0.9, 40, 0.95, "12345"], [1.3, 0, 1, "18446744073709551609"]]) {
    const tokens = await generate(engine, 12, settings);
    assert.deepEqual(tokens, await generate(await icchatEngine("f32"), 12, settings));
    assert.deepEqual(tokens, await generate(engine, 12, settings)); // again: same seed, same tokens
    assert.notDeepEqual(tokens, await generate(engine, 12, [...settings.slice(0, 3), "7"]));
  }
  await engine.close();
});

for (const variant of ["f32", "q8"]) {
  test(`feeding at a position before the end drops the rest: the logits of a fresh feed (${variant})`, async () => {
    const reused = await ortEngine(variant), fresh = await ortEngine(variant);
    const follow = [198, 464, 3290];
    // the same runs on both sides (dynamic int8 quantization scales each run as a whole)
    await reused.forward(PROMPT.slice(0, 6), 0);
    await reused.forward(PROMPT.slice(6), 6);
    await reused.forward([11], PROMPT.length);
    await reused.forward(follow, 6); // keeps positions 0..5
    await fresh.forward(PROMPT.slice(0, 6), 0);
    await fresh.forward(follow, 6);
    assert.deepEqual(reused.logits(), fresh.logits());
    assert.equal(reused.held, 6 + follow.length);
    await reused.forward(follow, 0); // at 0: everything dropped
    await fresh.forward(follow, 0);
    assert.deepEqual(reused.logits(), fresh.logits());
    await reused.close();
    await fresh.close();
  });
}

test("a prompt longer than one run goes in runs of RUN_TOKENS", async () => {
  const engine = await ortEngine("q8");
  const prompt = Array.from({ length: 2 * RUN_TOKENS + 5 }, (_, i) => (i * 7919) % 50257);
  await engine.forward(prompt, 0);
  assert.equal(engine.held, prompt.length);
  assert.equal(engine.logits().length, 50257);
  assert.equal(typeof engine.next(0.8, 40, 0.95, "1", prompt.length), "number");
  await engine.close();
});

test("bad input is refused with one line and loses nothing", async () => {
  const engine = await ortEngine("q8");
  await engine.forward(PROMPT, 0);
  const good = engine.logits();
  const refused = async (promise, pattern) => {
    const error = await promise.then(() => null, (e) => e);
    assert.ok(error instanceof Error, `expected ${pattern}`);
    assert.match(error.message, pattern);
    assert.ok(!error.message.includes("\n"));
  };
  await refused(engine.forward([50257], 0), /^token id 50257 is outside the vocabulary \(50257 tokens\)$/);
  await refused(engine.forward([1, 2], 1023), /^2 tokens at position 1023 do not fit the context of 1024$/);
  await refused(engine.forward([], 0), /do not fit/);
  await refused(engine.forward([1], 99), /^position 99 is past the 11 tokens fed so far$/);
  await refused((async () => engine.next(0.5, 0, 1, "0", 11))(), /^no logits: feed a token first$/);
  await engine.forward(PROMPT, 0);
  assert.deepEqual(engine.logits(), good);
  await refused((async () => engine.next(0.5, 0, 0, "0", 11))(), /^top_p must be greater than 0 and at most 1$/);
  await refused((async () => engine.next(-1, 0, 1, "0", 11))(), /^temperature must be between 0 and 100$/);
  await refused((async () => engine.next(0.5, 0, 1, "x", 11))(), /^the seed must be an integer/);
  assert.equal(typeof engine.next(0, 0, 1, "0", 11), "number"); // refused settings consumed nothing
  await refused(OrtEngine.create(ort, new TextEncoder().encode("not an onnx file"), manifest.model, { sampler }), /^onnxruntime-web could not load the model: /);
  await refused(OrtEngine.create(ort, new Uint8Array(1), { ...manifest.model, n_head: 0 }, { sampler }), /^the model's n_head must be a positive integer, not 0$/);
  // dims that do not match the graph: the warm-up run fails, and says so
  await refused(OrtEngine.create(ort, file("onnx-decoder", "q8"), { ...manifest.model, n_layer: 1 }, { sampler }), /^onnxruntime-web failed: /);
  await refused(OrtEngine.create(ort, file("onnx-decoder", "q8"), manifest.model, { sampler: new Uint8Array(8) }), /^could not load the sampler \(icchat-sampler.wasm\): /);
  await engine.close();
  await refused(engine.forward(PROMPT, 0), /^onnxruntime-web failed: the engine is closed$/);
});
