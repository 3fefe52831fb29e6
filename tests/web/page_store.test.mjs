// node --test tests/web/page_store.test.mjs — web/page-store.mjs: what an earlier page stored
// (precision as "variant" int8/fp32, an answer's stats in camelCase) reads in today's words, once.
import assert from "node:assert/strict";
import { test } from "node:test";

import { DEFAULT_PREFS, KEYS, loadConversations, loadEngineSpeeds, loadPrefs, migrateConversations, migrateEngineSpeeds, migratePrefs } from "../../web/page-store.mjs";

/** localStorage's interface over a Map (Node has none); counts the writes. */
function browserStorage(entries) {
  const items = new Map(Object.entries(entries).map(([key, value]) => [key, JSON.stringify(value)]));
  const storage = { writes: 0, getItem: (key) => items.get(key) ?? null, setItem: (key, value) => { storage.writes += 1; items.set(key, String(value)); } };
  globalThis.localStorage = storage;
  return storage;
}

test("an earlier page's variant is the precision", () => {
  assert.deepEqual(migratePrefs({ backend: "onchain-fast", variant: "int8", engine: "icchat", onchainUsed: true }),
    { backend: "onchain-fast", precision: "q8", engine: "icchat", onchainUsed: true });
  assert.deepEqual(migratePrefs({ variant: "fp32" }), { precision: "f32" });
  assert.deepEqual(migratePrefs({ precision: "f32", variant: "int8" }), { precision: "f32" }); // today's word wins
});

test("values this page does not know are dropped: their defaults apply", () => {
  assert.deepEqual(migratePrefs({ variant: "int4", engine: "webgpu", backend: "cloud" }), {});
  assert.deepEqual(migratePrefs(null), {});
  browserStorage({ [KEYS.prefs]: { variant: "int4", backend: "onchain-verified" } });
  assert.deepEqual(loadPrefs(), { ...DEFAULT_PREFS, backend: "onchain-verified" });
});

test("stored answers' stats are renamed to the worker's words, everything else kept", () => {
  const answer = { role: "assistant", text: "hi", origin: "onchain-fast",
    stats: { tokens: 5, tokensPerSecond: 12.5, stopReason: "max_tokens", seed: 7, pythonShare: 0.1, trimmedTurns: 1, calls: 2, cycles: 9, pricesDate: "2026-12-01" } };
  const stored = { current: "a", list: [{ id: "a", title: "t", messages: [{ role: "user", text: "q" }, answer] }] };
  const migrated = migrateConversations(stored);
  assert.deepEqual(migrated.list[0].messages[1].stats,
    { tokens: 5, tokens_per_s: 12.5, stop_reason: "max_tokens", seed: 7, python_share: 0.1, trimmed_turns: 1, calls: 2, cycles: 9, prices_read_on: "2026-12-01" });
  assert.deepEqual(migrated.list[0].messages[0], { role: "user", text: "q" });
  assert.equal(migrated.current, "a");
  assert.deepEqual(migrateConversations(migrated), migrated); // today's form stays as it is
  assert.deepEqual(migrateConversations(null), { current: null, list: [] });
});

test("auto's engine speeds keep their figures under the precision's new name", () => {
  const speeds = { icchat: 14.2, "onnxruntime-web": 20.1 };
  assert.deepEqual(migrateEngineSpeeds({ "ab12:int8:2": speeds, "ab12:fp32:4": speeds, "cd34:q8:2": speeds }),
    { "ab12:q8:2": speeds, "ab12:f32:4": speeds, "cd34:q8:2": speeds });
});

test("an earlier page's storage is rewritten once, on the first read", () => {
  const storage = browserStorage({
    [KEYS.conversations]: { current: "a", list: [{ id: "a", messages: [{ role: "assistant", text: "x", stats: { stopReason: "eot" } }] }] },
    [KEYS.engineSpeeds]: { "ab12:int8:2": { icchat: 14 } },
  });
  assert.equal(loadConversations().list[0].messages[0].stats.stop_reason, "eot");
  assert.deepEqual(loadEngineSpeeds(), { "ab12:q8:2": { icchat: 14 } });
  assert.equal(storage.writes, 2);
  assert.equal(JSON.parse(storage.getItem(KEYS.conversations)).list[0].messages[0].stats.stop_reason, "eot");
  loadConversations();
  loadEngineSpeeds();
  loadPrefs();
  assert.equal(storage.writes, 2); // nothing left to migrate: nothing written
});
