// What the page keeps in this browser (localStorage: small, synchronous, survives reloads): the
// sampling settings, the prefs, the conversations, the unsent draft, the onchain identity and
// auto's engine speeds. What earlier pages stored is migrated once, when it is read here.

import { deviceFit } from "./device-fit.mjs";
import { BACKENDS, ENGINE_CHOICES, PRECISIONS } from "./protocol.mjs";

export const KEYS = { settings: "icchat.settings.v1", prefs: "icchat.prefs.v1", conversations: "icchat.conversations.v1", draft: "icchat.draft.v1", identity: "icchat.identity.v1", engineSpeeds: "icchat.engine-speeds.v1" };
export const DEFAULT_SETTINGS = { temperature: 0.8, top_k: 40, top_p: 0.95, max_new_tokens: 128, seed: null };
export const DEFAULT_PREFS = { backend: "device", precision: "q8", engine: "auto" };
/** The prefs of a small device (device-fit.mjs) the user has not chosen otherwise: q8 on the
 * icchat engine (auto would also load onnxruntime-web to time it, and that needs about five
 * times its file in memory: weights.js memoryNeed). */
export const SMALL_DEVICE_PREFS = { ...DEFAULT_PREFS, precision: "q8", engine: "icchat" };

// Earlier pages named the precision "variant" (int8 | fp32) and stored an answer's stats in camelCase.
const OLD_PRECISIONS = { int8: "q8", fp32: "f32" };
const OLD_STATS = { tokensPerSecond: "tokens_per_s", stopReason: "stop_reason", trimmedTurns: "trimmed_turns", pythonShare: "python_share", pricesDate: "prices_read_on" };

function load(key, fallback) {
  try {
    const value = JSON.parse(localStorage.getItem(key));
    return value ?? fallback;
  } catch {
    return fallback;
  }
}
function save(key, value) {
  try {
    localStorage.setItem(key, JSON.stringify(value));
  } catch {
    // Storage full or disabled: the page keeps working, this state just is not kept.
  }
}
/** Read `key` through `migrate`; what an earlier page stored is written back in today's form. */
function loadMigrated(key, fallback, migrate) {
  const stored = load(key, fallback);
  const value = migrate(stored);
  if (JSON.stringify(value) !== JSON.stringify(stored)) save(key, value);
  return value;
}

/** Stored prefs in this page's words (an earlier page's variant is the precision); a value this
 * page does not know is dropped (its default applies). */
export function migratePrefs(stored) {
  const { variant, ...prefs } = stored && typeof stored === "object" ? stored : {};
  if (variant !== undefined) prefs.precision ??= OLD_PRECISIONS[variant] ?? variant;
  const known = { precision: PRECISIONS, engine: ENGINE_CHOICES, backend: BACKENDS };
  for (const [name, values] of Object.entries(known)) {
    if (name in prefs && !values.includes(prefs[name])) delete prefs[name];
  }
  return prefs;
}

/** The conversations with every answer's stats in the worker's words (snake_case). */
export function migrateConversations(stored) {
  if (!stored || !Array.isArray(stored.list)) return { current: null, list: [] };
  const list = stored.list.map((conversation) => ({
    ...conversation,
    messages: conversation.messages.map((message) => (message.stats ? { ...message, stats: migrateStats(message.stats) } : message)),
  }));
  return { ...stored, list };
}
function migrateStats(stats) {
  return Object.fromEntries(Object.entries(stats).map(([key, value]) => [OLD_STATS[key] ?? key, value]));
}

/** Engine speeds keyed `<manifest sha256>:<precision>:<threads>`, an earlier page's int8/fp32 renamed. */
export function migrateEngineSpeeds(stored) {
  const speeds = stored && typeof stored === "object" ? stored : {};
  return Object.fromEntries(Object.entries(speeds).map(([key, value]) => {
    const [sha256, precision, threads] = key.split(":");
    return [OLD_PRECISIONS[precision] ? `${sha256}:${OLD_PRECISIONS[precision]}:${threads}` : key, value];
  }));
}

export const loadSettings = () => ({ ...DEFAULT_SETTINGS, ...load(KEYS.settings, {}) });
export const saveSettings = (settings) => save(KEYS.settings, settings);
/** The stored prefs over this device's defaults (`small`: device-fit.mjs's verdict): a stored choice wins. */
export const loadPrefs = (small = deviceFit().small) => ({ ...(small ? SMALL_DEVICE_PREFS : DEFAULT_PREFS), ...loadMigrated(KEYS.prefs, {}, migratePrefs) });
export const savePrefs = (prefs) => save(KEYS.prefs, prefs);
export const loadConversations = () => loadMigrated(KEYS.conversations, null, migrateConversations);
export const saveConversations = (conversations) => save(KEYS.conversations, conversations);
export const loadDraft = () => load(KEYS.draft, "");
export const saveDraft = (text) => save(KEYS.draft, text);
export const loadEngineSpeeds = () => loadMigrated(KEYS.engineSpeeds, {}, migrateEngineSpeeds);
/** auto's figures for one model, precision and thread count (the worker's `engines` key). */
export const saveEngineSpeeds = (key, speeds) => save(KEYS.engineSpeeds, { ...loadEngineSpeeds(), [key]: speeds });

/** The page's onchain identity: the seed of an Ed25519 key, made once and kept in this browser,
 * so the gpt2 canister's per-caller prefix cache keeps this conversation between answers. */
export function identitySeed() {
  let hex = load(KEYS.identity, null);
  if (typeof hex !== "string" || !/^[0-9a-f]{64}$/.test(hex)) {
    hex = Array.from(crypto.getRandomValues(new Uint8Array(32)), (b) => b.toString(16).padStart(2, "0")).join("");
    save(KEYS.identity, hex);
  }
  return Uint8Array.from(hex.match(/../g), (h) => parseInt(h, 16));
}
