// The chat worker's parts that run without a browser, under Node's test runner
// (tests/web/test_worker_js.py): the model file and engine choice (weights.js, engine.mjs, as the
// loader thread makes it), the manifest's format check, and the idle scheduler (idle.mjs).
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { test } from "node:test";
import { chooseEngine } from "../../web/engine.mjs";
import { IdleScheduler } from "../../web/idle.mjs";
import { bundlePrecisions, fetchManifest, modelFile } from "../../web/weights.js";

const file = (path, role, variant) => ({ path, role, variant, size: 1, sha256: "0".repeat(64) });
const FULL = {
  format: "icchat-model-bundle", format_version: 2,
  files: [file("canister/gpt2-q8.bin", "canister-weights", "q8"), file("canister/gpt2-f32.bin", "canister-weights", "f32"),
    file("onnx/decoder_model_merged_quantized.onnx", "onnx-decoder", "q8"), file("onnx/decoder_model_merged.onnx", "onnx-decoder", "f32"),
    file("vocab.json", "tokenizer", null)],
};
const ONNX_ONLY = { ...FULL, files: FULL.files.filter((f) => f.role !== "canister-weights") };

test("each engine's file at each precision comes from the manifest's role and variant", () => {
  assert.equal(modelFile(FULL, "q8", "icchat"), "canister/gpt2-q8.bin");
  assert.equal(modelFile(FULL, "f32", "icchat"), "canister/gpt2-f32.bin");
  assert.equal(modelFile(FULL, "q8", "onnxruntime-web"), "onnx/decoder_model_merged_quantized.onnx");
  assert.equal(modelFile(FULL, "f32", "onnxruntime-web"), "onnx/decoder_model_merged.onnx");
  assert.equal(modelFile(ONNX_ONLY, "q8", "icchat"), null);
  assert.deepEqual(bundlePrecisions(FULL), ["q8", "f32"]);
  assert.deepEqual(bundlePrecisions({ ...FULL, files: FULL.files.filter((f) => f.variant !== "f32") }), ["q8"]);
});

test("only the precisions q8 and f32 and the two engines are names", () => {
  for (const old of ["int8", "fp32"]) assert.throws(() => modelFile(FULL, old, "icchat"), { kind: "config", message: /Unknown model precision/ });
  assert.throws(() => modelFile(FULL, "q8", "onnx"), { kind: "config", message: /Unknown engine/ });
});

test("auto runs the icchat engine unless onnxruntime-web was measured faster or is the only one", () => {
  assert.equal(chooseEngine("auto", FULL, "q8"), "icchat");
  assert.equal(chooseEngine("auto", FULL, "q8", { icchat: 12, "onnxruntime-web": 30 }), "icchat");
  assert.equal(chooseEngine("auto", FULL, "q8", { icchat: 30, "onnxruntime-web": 12 }), "onnxruntime-web");
  assert.equal(chooseEngine("auto", FULL, "q8", { icchat: 30 }), "icchat"); // half a measurement decides nothing
  assert.equal(chooseEngine("auto", ONNX_ONLY, "q8"), "onnxruntime-web");
  assert.equal(chooseEngine("onnxruntime-web", FULL, "f32", { icchat: 1, "onnxruntime-web": 99 }), "onnxruntime-web");
  assert.throws(() => chooseEngine("icchat", ONNX_ONLY, "f32"), /no f32 file for icchat/);
});

test("a manifest of another format version is refused with how to rebuild it", async () => {
  let served = FULL;
  const server = createServer((_, response) => response.end(JSON.stringify(served)));
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const base = `http://127.0.0.1:${server.address().port}/model/`;
  try {
    assert.equal((await fetchManifest(base)).manifest.format_version, 2);
    served = { ...FULL, format_version: 1 };
    await assert.rejects(fetchManifest(base), { kind: "manifest", message: /format 1, this page reads format 2: export the bundle again/ });
  } finally {
    server.close();
  }
});

const until = async (condition) => { while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5)); };

test("idle jobs run one at a time once the chat is quiet, and let go of the engine when it is busy", { timeout: 20_000 }, async () => {
  const idle = new IdleScheduler(20);
  const log = [];
  let release;
  const engineUse = new Promise((resolve) => { release = resolve; });
  idle.busy(); // a reply is being written: nothing starts
  idle.add("first", async (run) => {
    assert.equal(await run.whenIdle(), true);
    log.push("first idle");
    const use = run.hold(engineUse.then(() => log.push("first let go")));
    run.onBusy(() => { assert.equal(run.cancelled, true); release(); });
    await use;
    assert.equal(await run.whenIdle(), true); // again once quiet
    log.push("first done");
  });
  idle.add("queued", async () => log.push("queued ran")); // called off before its turn
  assert.deepEqual(log, []);
  idle.quiet();
  await until(() => log.includes("first idle"));
  idle.callOff("queued");
  await idle.busy(); // returns once the job let go of the engine
  assert.deepEqual(log, ["first idle", "first let go"]);
  idle.quiet();
  await until(() => log.includes("first done"));
  idle.busy();
  idle.add("second", async (run) => {
    log.push("second started");
    assert.equal(await run.whenIdle(), false); // called off while it waited for quiet
    log.push("second called off");
  });
  await until(() => log.includes("second started"));
  idle.callOff("second");
  await until(() => log.includes("second called off"));
  assert.deepEqual(log, ["first idle", "first let go", "first done", "second started", "second called off"]);
});
