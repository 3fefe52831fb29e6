// The page (main thread): starts the chat worker and wires its messages and the user's input to
// the page's modules. All model work is in worker.js; the page renders (page-render.mjs), keeps
// its state in one place (page-state.mjs) and in this browser (page-store.mjs), and talks to the
// worker only through page-worker-client.mjs.

import { deviceFit } from "./device-fit.mjs";
import { answerPending, autosize, failReply, newChat, onDelta, onDone, onPromptInput, renderChat, send, setBackend, stop } from "./page-chat.mjs";
import { els } from "./page-dom.mjs";
import { closeOverlays, explainError, hideError, renderControls, setLoadingStatus, setProgress, setRestingState, setState, setStatus, showError, showModelNotice, showPlan, showProgress, showReady, showStopped } from "./page-render.mjs";
import { boundSettings, checkUsage, engineChoiceDetail, fillSettings, forgetOnchain, onForgotten, onSettingsInput, onUsage, openSettings, resetSettings, showEngineSpeeds, showPrecisionSizes } from "./page-settings.mjs";
import { state } from "./page-state.mjs";
import { identitySeed, loadDraft, loadEngineSpeeds, savePrefs, saveEngineSpeeds } from "./page-store.mjs";
import { Watchdog } from "./page-watchdog.mjs";
import { dropWorker, startWorker } from "./page-worker-client.mjs";

// Start-up's watchdog: a phase that hears nothing for a while is said, with the ways out (#stall).
const watchdog = new Watchdog((stall) => {
  state.stall = stall;
  renderControls();
});

// What each message from the worker (web/protocol.mjs: TO_PAGE) does to the page.
const fromWorker = {
  log({ level, text }) {
    console[level]?.(`[worker] ${text}`);
  },
  config({ label, meaningful, notice }) {
    els.modelLabel.textContent = label;
    showModelNotice(meaningful, notice);
  },
  status({ phase, text }) {
    if (phase !== "ready") setLoadingStatus(text, phase === "weights" ? els.detail.textContent : "");
  },
  plan(plan) {
    state.plan = plan;
    showPlan(plan); // what loads, said before the download
    showPrecisionSizes(plan.sizes);
    if (plan.instead) {
      state.prefs.precision = plan.precision; // the one asked for does not fit this device: the settings show what runs
      fillSettings();
    }
  },
  progress(p) {
    if (!state.ready || state.device.loading) showProgress(p); // else a late message from the loader thread
  },
  ready(message) {
    // A start-up's first `ready` may come while the device model still loads (device.loading):
    // onchain answers run from here, the device's come with the next `ready`.
    Object.assign(state, {
      ready: true, model: message.model, available: message.backends, prices: message.prices, device: message.device, service: message.service ?? null,
    });
    state.running.precision = message.precision;
    boundSettings();
    if (state.device.loading) watchdog.chatReady();
    else watchdog.stop();
    if (state.reply) setState("generating");
    else setRestingState();
    showReady(message);
    if (state.device.available && message.engine && state.prefs.engine === "auto") {
      // auto's figures from an earlier visit (the worker's `engines` key)
      const known = message.speedKey && loadEngineSpeeds()[message.speedKey];
      if (known) showEngineSpeeds("measured", message.engine, known);
    }
    renderControls();
    answerPending(); // a message sent while the page started: answered now, if its backend can
  },
  engines({ phase, engine, key, speeds }) {
    // auto: the worker timed both on-device engines here; kept so the next visit starts on the faster one
    if (phase === "measured") saveEngineSpeeds(key, speeds);
    showEngineSpeeds(phase, engine, speeds);
    if (phase === "measured" && state.device.available && speeds[engine] > 0) setStatus(els.status.textContent, engineChoiceDetail(engine, speeds));
  },
  snapshot({ phase }) {
    els.about.dataset.snapshot = phase; // the interpreter snapshot: making | stopped | kept | failed (tests read it)
  },
  delta: onDelta,
  done(message) {
    if (onDone(message) && message.origin.startsWith("onchain")) checkUsage(false); // what is spent now, in the settings
  },
  error({ id, kind, message, fatal, during }) {
    if (id && state.reply && state.reply.id === id) failReply();
    if (fatal) {
      state.ready = false;
      state.stopped = true;
      watchdog.stop();
      showStopped(kind);
    }
    showError(explainError(kind, message), kind, fatal);
    if (!fatal && during === "generate") setRestingState();
    const canister = kind === "onchain" || kind === "service" || kind === "refused"; // onchain or the LLM route
    els.errorDevice.hidden = !(canister && state.available.includes("device"));
    if (canister && state.prefs.backend.startsWith("onchain")) checkUsage(false); // what is spent now, in the settings // what is spent now, in the settings
    if (during === "switch" && !fatal) switchFailed();
    renderControls();
  },
  usage: onUsage,
  forgotten: onForgotten,
};

/** The other model could not be loaded: the previous one still runs; the settings say so, too. */
function switchFailed() {
  const { prefs, running } = state;
  state.ready = true;
  prefs.precision = running.precision ?? prefs.precision;
  if (running.enginePref) prefs.engine = running.enginePref;
  savePrefs(prefs);
  fillSettings();
  setProgress(100);
  setStatus(`Ready · ${running.precision}`, "the other model could not be loaded");
  setState("ready");
  answerPending();
}

function start() {
  state.ready = false;
  state.stopped = false;
  setState("loading");
  setStatus("Starting…", "");
  setProgress(0);
  const { precision, engine } = state.prefs;
  watchdog.watch();
  const fit = deviceFit(); // how much memory the model may use here (phones: iOS ends a tab near 1.5 GB)
  els.about.dataset.deviceFit = JSON.stringify(fit); // tests read it
  startWorker({ precision, engine, speeds: loadEngineSpeeds(), identitySeed: identitySeed(), memoryBudget: fit.memoryBytes, small: fit.small }, watched, onCrash);
}

// Start-up's progress, for the watchdog (a `ready` tells it more: see `ready` above): the phase
// each message from the worker says is going on.
const PROGRESS = { status: (m) => m.phase, progress: () => "weights", plan: () => "weights" };
const watched = Object.fromEntries(Object.keys(fromWorker).map((type) => [type, (message) => {
  if (type in PROGRESS) watchdog.heard(PROGRESS[type](message));
  fromWorker[type](message);
}]));

/** The stall notice's Retry: the worker started afresh (a message waiting still waits). */
function retry() {
  failReply();
  hideError();
  start();
}

function onCrash(message) {
  watchdog.stop();
  state.ready = false;
  state.stopped = true;
  failReply();
  dropWorker();
  setStatus("The model stopped", "");
  showError(`The model stopped working (${message}). Your conversation and your text are kept.`, "crash");
}

// --- the user's input -------------------------------------------------------------------------

els.composer.addEventListener("submit", (event) => {
  event.preventDefault();
  send();
});
els.prompt.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    send();
  }
});
els.prompt.addEventListener("input", onPromptInput);
els.stop.addEventListener("click", stop);
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape") stop();
});
els.newChat.addEventListener("click", newChat);
els.menu.addEventListener("click", () => els.body.classList.add("sidebar-open"));
els.sidebarClose.addEventListener("click", closeOverlays);
els.scrim.addEventListener("click", closeOverlays);
els.settingsToggle.addEventListener("click", () => openSettings(els.settings.hidden));
els.settingsClose.addEventListener("click", () => openSettings(false));
els.settingsForm.addEventListener("input", onSettingsInput);
els.settingsForm.addEventListener("submit", (event) => event.preventDefault());
els.settingsReset.addEventListener("click", resetSettings);
els.errorRestart.addEventListener("click", () => {
  hideError();
  start();
});
els.errorReload.addEventListener("click", () => location.reload());
els.stallOnchain.addEventListener("click", () => setBackend("onchain-fast"));
els.stallRetry.addEventListener("click", retry);
els.stallReload.addEventListener("click", () => location.reload());
els.where.addEventListener("change", (event) => setBackend(event.target.value));
els.deviceNoteOnchain.addEventListener("click", () => setBackend("onchain-fast"));
els.errorDevice.addEventListener("click", () => {
  setBackend("device");
  send(); // the question is back in the box: answer it here
});
els.forget.addEventListener("click", forgetOnchain);
els.usageRefresh.addEventListener("click", () => checkUsage());
els.errorDismiss.addEventListener("click", hideError);
for (const button of els.suggestions) {
  button.addEventListener("click", () => {
    els.prompt.value = button.textContent;
    autosize();
    renderControls();
    els.prompt.focus();
  });
}

// --- start ------------------------------------------------------------------------------------

els.scrim.hidden = false; // shown by CSS only while an overlay is open on narrow screens
els.prompt.value = loadDraft();
fillSettings();
openSettings(false);
renderChat();
autosize();
renderControls();
start();
