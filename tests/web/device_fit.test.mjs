// node --test tests/web/device_fit.test.mjs — web/device-fit.mjs: which devices are small and how
// much memory the model may use there; weights.js memoryNeed and deviceObstacle against that
// budget; page-store.mjs's defaults on a small device; auto's measurement never runs there.
import assert from "node:assert/strict";
import { test } from "node:test";

import { deviceFit, formatMemory, IOS_TAB_BYTES, PAGE_BYTES } from "../../web/device-fit.mjs";
import { DEFAULT_PREFS, KEYS, loadPrefs } from "../../web/page-store.mjs";
import { deviceObstacle, memoryNeed, modelFile } from "../../web/weights.js";
import { wantsMeasuring } from "../../web/worker-auto.mjs";

const GIB = 2 ** 30;
// User agents as the browsers send them (Playwright's device descriptors and the browsers' own).
const IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1";
const IPAD_AS_MAC = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15";
const PIXEL = "Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36";
const FIREFOX_ANDROID = "Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0";
const LINUX_CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
const LINUX_FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

test("an iPhone, and an iPad that says it is a Mac, get the tab limit of iOS less the page's own memory", () => {
  for (const nav of [{ userAgent: IPHONE, maxTouchPoints: 5 }, { userAgent: IPAD_AS_MAC, maxTouchPoints: 5 }]) {
    const fit = deviceFit(nav);
    assert.equal(fit.small, true);
    assert.equal(fit.memoryBytes, IOS_TAB_BYTES - PAGE_BYTES);
    assert.match(fit.why, /iOS ends a tab near 1\.5 GB/);
  }
  // a Mac has no touch screen: a desktop whose memory is not reported (Safari has no deviceMemory)
  assert.deepEqual(deviceFit({ userAgent: IPAD_AS_MAC, maxTouchPoints: 0 }), { small: false, memoryBytes: null, why: "a desktop; its memory is not reported" });
});

test("Android and phones that report their memory get half of it; those that do not, as much as iOS would allow", () => {
  assert.deepEqual(deviceFit({ userAgent: PIXEL, deviceMemory: 8, userAgentData: { mobile: true } }),
    { small: true, memoryBytes: 4 * GIB, why: "a phone or tablet reporting 8 GB of memory" });
  assert.equal(deviceFit({ userAgent: PIXEL, deviceMemory: 2 }).memoryBytes, GIB);
  assert.deepEqual(deviceFit({ userAgent: FIREFOX_ANDROID }), { small: true, memoryBytes: IOS_TAB_BYTES - PAGE_BYTES, why: "a phone or tablet" });
  // Client Hints say mobile even where the user agent string is reduced
  assert.equal(deviceFit({ userAgent: LINUX_CHROME, userAgentData: { mobile: true }, deviceMemory: 4 }).small, true);
});

test("a desktop reporting 4 GB or less is small; 8 (Chromium's cap: 8 or more) or unknown is not", () => {
  assert.deepEqual(deviceFit({ userAgent: LINUX_CHROME, deviceMemory: 4, userAgentData: { mobile: false } }),
    { small: true, memoryBytes: 2 * GIB, why: "this device reports 4 GB of memory" });
  assert.deepEqual(deviceFit({ userAgent: LINUX_CHROME, deviceMemory: 8, userAgentData: { mobile: false } }),
    { small: false, memoryBytes: 4 * GIB, why: "a desktop reporting 8 GB or more of memory" });
  assert.deepEqual(deviceFit({ userAgent: LINUX_FIREFOX }), { small: false, memoryBytes: null, why: "a desktop; its memory is not reported" });
  assert.equal(deviceFit(undefined).small, false); // no navigator at all (Node 20)
});

// The GPT-2 124M shape with the sizes of the small-s0 bundle's files (build/models).
const file = (path, role, variant, size) => ({ path, role, variant, size, sha256: "0".repeat(64) });
const GPT2 = {
  model: { n_layer: 12, n_head: 12, n_embd: 768, n_ctx: 1024, vocab_size: 50257 },
  files: [file("canister/gpt2-q8.bin", "canister-weights", "q8", 127733824), file("canister/gpt2-f32.bin", "canister-weights", "f32", 497904896),
    file("onnx/decoder_model_merged_quantized.onnx", "onnx-decoder", "q8", 163240900), file("onnx/decoder_model_merged.onnx", "onnx-decoder", "f32", 497717821)],
};
const need = (precision, engine) => memoryNeed(GPT2, modelFile(GPT2, precision, engine), engine);

test("the memory need: the icchat engine twice its file plus the KV cache and activations; onnxruntime-web about five times its file", () => {
  const kv = 12 * 2 * 1024 * 768 * 4;
  const activations = 1024 * 11 * 768 * 4;
  assert.equal(need("q8", "icchat"), 2 * 127733824 + kv + activations + 16 * 2 ** 20);
  assert.equal(formatMemory(need("q8", "icchat")), "0.4 GB");
  assert.equal(formatMemory(need("f32", "icchat")), "1.1 GB");
  // measured in Node: 812-910 MB for the q8 file, 2255 MB for the f32 one (weights.js)
  assert.ok(need("q8", "onnxruntime-web") > 910e6 && need("q8", "onnxruntime-web") < 1.1e9, need("q8", "onnxruntime-web"));
  assert.ok(need("f32", "onnxruntime-web") > 2255e6, need("f32", "onnxruntime-web"));
  assert.ok(need("q8", "onnxruntime-web") > 2 * need("q8", "icchat"));
  assert.equal(formatMemory(40e6 + 1), "41 MB");
});

test("on an iPhone's budget q8 fits the icchat engine and f32 does not; no budget, no memory obstacle", () => {
  const iphone = deviceFit({ userAgent: IPHONE, maxTouchPoints: 5 }).memoryBytes;
  assert.equal(deviceObstacle(GPT2, "canister/gpt2-q8.bin", "icchat", iphone), null);
  assert.equal(deviceObstacle(GPT2, "canister/gpt2-f32.bin", "icchat", iphone),
    "the f32 model on the icchat engine needs about 1.1 GB of memory, more than the 1.0 GB this page may use on this device");
  assert.match(deviceObstacle(GPT2, "onnx/decoder_model_merged.onnx", "onnxruntime-web", iphone), /^the f32 model on onnxruntime-web needs about 2\.7 GB/);
  assert.equal(deviceObstacle(GPT2, "canister/gpt2-f32.bin", "icchat", null), null);
  assert.equal(deviceObstacle(GPT2, "onnx/decoder_model_merged.onnx", "onnxruntime-web", 4 * GIB), null);
});

test("a small device starts on q8 and the icchat engine unless the user chose otherwise", () => {
  const items = new Map();
  globalThis.localStorage = { getItem: (key) => items.get(key) ?? null, setItem: (key, value) => items.set(key, String(value)) };
  assert.deepEqual(loadPrefs(true), { backend: "device", precision: "q8", engine: "icchat" });
  assert.deepEqual(loadPrefs(false), DEFAULT_PREFS);
  assert.equal(DEFAULT_PREFS.engine, "auto");
  items.set(KEYS.prefs, JSON.stringify({ engine: "auto", precision: "f32" }));
  assert.deepEqual(loadPrefs(true), { backend: "device", precision: "f32", engine: "auto" });
});

test("auto never times the other engine on a small device", () => {
  const worker = (small) => ({
    small, enginePref: "auto", device: { available: true }, model: { precision: "q8", engine: "icchat" },
    manifest: GPT2, speeds: {}, measureFailed: new Set(), speedKey: (precision) => `sha:${precision}:2`,
  });
  assert.equal(wantsMeasuring(worker(false)), true);
  assert.equal(wantsMeasuring(worker(true)), false);
});
