// The page's state, in one place: what is stored (page-store.mjs) and what the worker said.
// The other page modules read and change it; only page-store.mjs writes it to the browser.

import { loadConversations, loadPrefs, loadSettings } from "./page-store.mjs";

const conversations = loadConversations();
const prefs = loadPrefs();
// A message sent before the chosen backend could answer waits in its conversation (`pending`) and
// survives a reload; only one waits at a time, and its conversation is the one shown.
const pending = conversations.list.find((c) => c.messages.at(-1)?.pending)?.id ?? null;
if (pending) conversations.current = pending;
// "Forget my onchain conversation" is offered once this browser has sent one onchain (kept in
// prefs; a store from before that flag tells by its answers' origins).
prefs.onchainUsed ??= conversations.list.some((c) => c.messages.some((m) => String(m.origin ?? "").startsWith("onchain")));

export const state = {
  settings: loadSettings(), // sampling: temperature, top_k, top_p, max_new_tokens, seed (null: a new one per answer)
  prefs, // backend, precision, engine, onchainUsed
  conversations, // {current: id, list: [{id, title, created, updated, messages}]}
  ready: false, // the worker can answer (its "ready"), until a switch, an error or a crash
  model: null, // the worker's model summary (ready.model)
  running: { precision: null, enginePref: null }, // what runs, and the engine setting before a switch (restored if the switch fails)
  available: [], // backends that can answer now (ready.backends)
  device: { available: false, loading: false, reason: null }, // whether this device runs the model (or still loads it), and why not
  plan: null, // the model being loaded: the loader's `plan` (precision, engine, sizes, memory need)
  prices: null, // the IC price table's few numbers (config.json via the worker)
  service: null, // the route canister's route_info (ready.service): the LLM service's model, or null
  reply: null, // the answer being written (page-chat.mjs)
  pending: pending, // the conversation whose last message waits for the model (page-chat.mjs), or null
  stopped: false, // the worker stopped (a fatal error or a crash): nothing is taken until a restart
  forgetting: false, // a forget_conversations call is on its way
  usageAsked: 0, // numbers the usage requests: only the newest one's answer is shown
  stall: null, // the start-up watchdog's stall (page-watchdog.mjs): {phase, waitsFor, seconds}, or null
};

/** Whether the page takes a message for `backend` now: it can answer, or it will once started
 * (before the first `ready`; the device while its model still loads after onchain answers began). */
export const takesMessagesFor = (backend) => !state.ready || state.available.includes(backend) || (backend === "device" && state.device.loading);

/** The device model still loads while onchain answers already run (after the first `ready`). */
export const onchainFirst = () => state.ready && state.device.loading && state.available.length > 0;
