// Which engine module web/engine.mjs picks (run by tests/engine/test_engine_module_js.py, once
// with Node's relaxed SIMD on and once off: Node 20 ships it off, Chromium on).
import assert from "node:assert/strict";
import { test } from "node:test";
import { engineModulePath, hasRelaxedSimd } from "../../web/engine.mjs";

const build = { engine: "e/icchat-engine.wasm", engine_threads: "e/icchat-engine-threads.wasm",
  engine_relaxed: "e/icchat-engine-relaxed.wasm", engine_threads_relaxed: "e/icchat-engine-threads-relaxed.wasm" };

test("the probe module says what this runtime validates", () => {
  assert.equal(hasRelaxedSimd(), process.env.EXPECT_RELAXED === "1");
});

test("relaxed SIMD where the runtime has it, SIMD128 elsewhere, threaded for more than one thread", () => {
  const relaxed = hasRelaxedSimd();
  assert.equal(engineModulePath(build, 1), relaxed ? build.engine_relaxed : build.engine);
  assert.equal(engineModulePath(build, 2), relaxed ? build.engine_threads_relaxed : build.engine_threads);
  assert.equal(engineModulePath(build, 4, false), build.engine_threads);
});

test("a build.json without relaxed modules (an older deployment) still gets an engine", () => {
  assert.equal(engineModulePath({ engine: "a.wasm", engine_threads: "b.wasm" }, 1, true), "a.wasm");
  assert.equal(engineModulePath({ engine: "a.wasm", engine_threads: "b.wasm" }, 2, true), "b.wasm");
});
