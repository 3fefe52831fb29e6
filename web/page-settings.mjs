// The settings panel: sampling, the model's precision and engine (a change switches the worker's
// model), auto's engine figures, the gpt2 canister's usage, and "forget my onchain conversation".

import { els } from "./page-dom.mjs";
import { ENGINE_LABELS, formatCount, ORIGIN_LABELS, renderControls, setProgress, setState, showSettings } from "./page-render.mjs";
import { state } from "./page-state.mjs";
import { DEFAULT_SETTINGS, savePrefs, saveSettings } from "./page-store.mjs";
import * as worker from "./page-worker-client.mjs";

const ACCESS_TEXT = {
  open: "Open to anyone with an identity (this page has its own; the anonymous principal gets no update inference).",
  allow_list: "For allow-listed principals and the canister's controllers.",
  controllers: "For the canister's controllers only.",
};

const GPT2_VOCAB_SIZE = 50257; // top_k's bound until the worker names the model's vocabulary

/** top_k's bound: the running model's vocabulary (ready.model.vocab_size). */
const topKBound = () => state.model?.vocab_size ?? GPT2_VOCAB_SIZE;

/** A model is ready: top_k's input gets its bound (index.html names none: it is the model's). */
export function boundSettings() {
  els.settingsForm.elements.top_k.max = topKBound();
}

/** The form shows the page's settings and prefs. */
export function fillSettings() {
  const { settings, prefs } = state;
  const f = els.settingsForm.elements;
  f.temperature.value = settings.temperature;
  f.top_k.value = settings.top_k;
  f.top_p.value = settings.top_p;
  f.max_new_tokens.value = settings.max_new_tokens;
  f.seed.value = settings.seed ?? "";
  f.precision.value = prefs.precision;
  f.engine.value = prefs.engine;
  showSliders(settings.temperature, settings.top_p);
  els.modelWhere.textContent = ORIGIN_LABELS[prefs.backend];
}
/** Each precision's model file size on the engine that loads (the loader's `plan.sizes`), beside its choice. */
export function showPrecisionSizes(sizes) {
  for (const input of els.settingsForm.elements.precision) {
    const label = input.parentElement;
    const size = label.querySelector(".file-size") ?? label.appendChild(Object.assign(document.createElement("small"), { className: "file-size" }));
    size.textContent = sizes?.[input.value] ? `${(sizes[input.value] / 1e6).toFixed(0)} MB` : "";
  }
}
function showSliders(temperature, topP) {
  els.temperatureOut.textContent = Number(temperature).toFixed(2);
  els.topPOut.textContent = Number(topP).toFixed(2);
}

export function resetSettings() {
  state.settings = { ...DEFAULT_SETTINGS };
  saveSettings(state.settings);
  fillSettings();
  els.settingsError.textContent = "";
}

function readSettings() {
  const f = els.settingsForm.elements;
  const integer = (name, lo, hi) => {
    const v = Number(f[name].value);
    if (!Number.isInteger(v) || v < lo || v > hi) throw new Error(`${f[name].labels[0].firstChild.textContent.trim()} must be a whole number from ${lo} to ${hi}`);
    return v;
  };
  const seedText = f.seed.value.trim();
  const seed = seedText === "" ? null : Number(seedText);
  if (seed !== null && (!Number.isSafeInteger(seed) || seed < 0)) throw new Error("Seed must be empty or a whole number ≥ 0");
  return {
    temperature: Number(f.temperature.value),
    top_k: integer("top_k", 0, topKBound()),
    top_p: Number(f.top_p.value),
    max_new_tokens: integer("max_new_tokens", 1, 1024),
    seed,
  };
}

/** Any input in the form: valid sampling settings are kept; another precision or engine switches the model. */
export function onSettingsInput() {
  try {
    state.settings = readSettings();
    els.settingsError.textContent = "";
    saveSettings(state.settings);
  } catch (error) {
    els.settingsError.textContent = error.message; // the last valid settings stay in use
  }
  const f = els.settingsForm.elements;
  showSliders(f.temperature.value, f.top_p.value);
  const prefs = state.prefs;
  if ((f.precision.value && f.precision.value !== prefs.precision) || (f.engine.value && f.engine.value !== prefs.engine)) {
    state.running.enginePref = prefs.engine;
    prefs.precision = f.precision.value || prefs.precision;
    prefs.engine = f.engine.value || prefs.engine;
    if (worker.workerStarted() && state.ready && !state.device.loading) { // else the next start loads it
      state.ready = false;
      setState("loading");
      setProgress(0);
      renderControls();
      worker.switchModel(prefs.precision, prefs.engine);
    }
  }
  savePrefs(prefs);
}

export function openSettings(open) {
  showSettings(open);
  if (open) checkUsage();
}

/** 86400 → "24 h": a window's length as the canister states it. */
function formatWindow(seconds) {
  if (seconds % 86400 === 0 && seconds > 86400) return `${seconds / 86400} days`;
  if (seconds % 3600 === 0) return `${seconds / 3600} h`;
  if (seconds % 60 === 0) return `${seconds / 60} min`;
  return `${seconds} s`;
}

/** ns since 1970 → "2026-12-07 00:00 UTC (in 3 h 12 min)". */
function formatRefill(ns) {
  const at = new Date(ns / 1e6);
  const minutes = Math.max(0, Math.ceil((at.getTime() - Date.now()) / 60000));
  const left = minutes >= 60 ? `${Math.floor(minutes / 60)} h ${minutes % 60} min` : `${minutes} min`;
  return `${at.toISOString().slice(0, 16).replace("T", " ")} UTC (in ${left})`;
}

/** Ask the worker for the canister's usage; `always` false: only while the settings are open. */
export function checkUsage(always = true) {
  if (!worker.workerStarted() || !state.available.includes("onchain-fast") || (!always && els.settings.hidden)) return;
  els.usage.dataset.state = "checking"; // until the answer to this request
  worker.askUsage(++state.usageAsked);
}

/** The worker's `usage`: the gpt2 canister's who may ask, the bound, what is spent, the refill. */
export function onUsage({ id, usage, error }) {
  if (id !== state.usageAsked) return; // an older request's answer is not shown
  if (error || !usage) {
    els.usage.textContent = `Could not read the canister's inference budget: ${error ?? "no answer"}`;
    els.usage.dataset.state = "failed";
    delete els.usage.dataset.usage;
    return;
  }
  els.usage.dataset.usage = JSON.stringify(usage); // what the canister answered (tests read it)
  els.usage.dataset.state = "shown";
  const share = usage.window_instructions > 0 ? (usage.window_spent / usage.window_instructions) * 100 : 100;
  const percent = share > 0 && share < 0.1 ? "under 0.1 %" : `${share.toFixed(share < 10 ? 1 : 0)} %`;
  els.usage.textContent = [
    ACCESS_TEXT[usage.access] ?? `Access: ${usage.access}.`,
    `Budget: ${formatCount(usage.window_instructions)} instructions per ${formatWindow(usage.window_seconds)} for everyone, ${formatCount(usage.caller_instructions)} per principal.`,
    `Spent in this window: ${formatCount(usage.window_spent)} (${percent}) by ${usage.callers} principal${usage.callers === 1 ? "" : "s"}, ${formatCount(usage.caller_spent)} of it yours; ${usage.refused} call${usage.refused === 1 ? "" : "s"} refused.`,
    `It refills at ${formatRefill(usage.window_end)}.`,
  ].join(" ");
}

/** forget_conversations as this browser's identity (the worker's onchain client). */
export function forgetOnchain() {
  if (!worker.workerStarted() || state.reply || state.forgetting) return;
  state.forgetting = true;
  els.forgetNote.textContent = "Asking the gpt2 canister to forget…";
  renderControls();
  worker.forget();
}

/** The worker's `forgotten`. */
export function onForgotten({ error }) {
  state.forgetting = false;
  if (!error) {
    state.prefs.onchainUsed = false;
    savePrefs(state.prefs);
  }
  els.forgetNote.textContent = error
    ? `Not forgotten: ${error}`
    : "Forgotten: the gpt2 canister emptied its cache of your conversations. The ones listed here stay in this browser.";
  renderControls();
}

const engineSpeed = (name, ms) => `${ENGINE_LABELS[name] ?? name} ${ms.toFixed(1)} ms/token`;

/** The auto setting's note: which engine answers and the figures it was chosen by (its own first). */
export function showEngineSpeeds(phase, engine, speeds) {
  const figures = Object.entries(speeds ?? {}).filter(([, ms]) => ms > 0).sort(([a], [b]) => (b === engine) - (a === engine))
    .map(([name, ms]) => engineSpeed(name, ms)).join(" · ");
  els.engineAuto.textContent = phase === "measuring"
    ? `measuring ${ENGINE_LABELS[engine] ?? engine} on this device…`
    : `faster here: ${figures} (measured on this device)`;
}

/** The status line's detail once auto has measured: what it picked and by how much. */
export function engineChoiceDetail(engine, speeds) {
  const others = Object.entries(speeds).filter(([name, ms]) => name !== engine && ms > 0)
    .map(([name, ms]) => engineSpeed(name, ms)).join(", ");
  return `auto picked the ${ENGINE_LABELS[engine] ?? engine}: ${speeds[engine].toFixed(1)} ms/token here${others ? ` (${others})` : ""}`;
}
