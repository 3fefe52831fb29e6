// What the page shows: the status line and progress, errors, the transcript and its messages, the
// conversation list, and which controls the page's state allows now. Model and user text are
// always set with textContent.

import { formatMemory } from "./device-fit.mjs";
import { els } from "./page-dom.mjs";
import { onchainFirst, state, takesMessagesFor } from "./page-state.mjs";

export const ORIGIN_LABELS = { device: "on this device", "onchain-fast": "onchain · fast", "onchain-verified": "onchain · verified", "llm-service": "LLM service via canister" };
export const ENGINE_LABELS = { icchat: "icchat engine", "onnxruntime-web": "onnxruntime-web" };
const WHERE_NOTES = {
  device: "",
  "onchain-fast": "Computed by the gpt2 canister: your conversation goes to its subnet by an update, then one node writes the answer by query (not certified).",
  "onchain-verified": "Computed by the gpt2 canister: every node of its subnet sees your conversation and computes the answer (replicated updates, certified).",
  "llm-service": "Answered by an LLM service outside the IC: the route canister sends your conversation (its newest 10 messages, at most 10 KiB) to it and returns the whole answer, with what it cost in cycles.",
};
// Who sees the conversation and what is kept, per mode (the sidebar). Onchain: the conversation's
// tokens travel as ingress messages and queries (not encrypted from the nodes), and the canister's
// per-caller prefix cache keeps them in its heap on every node: a caller's latest slot used in the
// last 10 minutes is never taken by another caller (canister/gpt2: SLOT_PROTECT_SECONDS), the rest
// stays until the room is needed; forget_conversations empties this identity's slots.
const KEPT = "The canister keeps its tokens until another conversation needs the room (your latest one at least 10 minutes after its last answer), or until you forget them.";
const PRIVACY = {
  device: "On this device: the model runs in this browser and nothing you type leaves it; only the model files come from the gpt2 canister. Conversations are kept in this browser.",
  "onchain-fast": `Onchain · fast: your conversation is sent to the gpt2 canister on the Internet Computer. An update stores it in the canister on every node of its subnet, and one node writes the answer by query. ${KEPT}`,
  "onchain-verified": `Onchain · verified: your conversation is sent to the gpt2 canister on the Internet Computer; every node of its subnet sees it and computes the answer. ${KEPT}`,
  // the route canister's nodes all see the request (an update), and an outcall's request is seen by
  // every node that makes it and by the service (docs/llm-service.md)
  "llm-service": "LLM service (via canister): your conversation is sent to the route canister on the Internet Computer, whose nodes see it, and from there to the LLM service (DFINITY's LLM canister, or the endpoint its owner set), which sees it too.",
};
const EMPTY_TEXT = {
  device: "The model runs on this device in your browser. What you type is not sent anywhere.",
  onchain: "The model runs onchain, in the gpt2 canister on the Internet Computer: what you type is sent to it.",
  "llm-service": "An LLM service answers, asked by a canister on the Internet Computer: what you type is sent to both.",
};
const HINTS = {
  device: "Enter sends · Shift+Enter adds a line",
  onchain: "Enter sends · Stop stops after the current call",
  "llm-service": "Enter sends · the answer comes whole · Stop cannot call the request back: its answer is then discarded",
  pending: "Your message waits for the model and is answered once it is ready · Stop cancels it",
  deviceLoading: "Answers on this device come once the model is loaded · onchain answers now",
};
const PLACEHOLDERS = { ready: "Message GPT-2…", deviceLoading: "Message GPT-2… (answered once the on-device model is loaded)" };
const STOP_LABELS = { eot: "", stop_string: "", max_tokens: "max tokens reached", context: "context full", cancelled: "stopped", error: "error" };

// --- status, progress, errors ---------------------------------------------------------------

export function setState(value) {
  els.body.dataset.state = value;
}
/** The page's state between answers: ready once nothing loads any more (the device model too). */
export function setRestingState() {
  setState(state.ready && !state.device.loading ? "ready" : "loading");
}
export function setStatus(text, detail) {
  els.status.textContent = text;
  els.detail.textContent = detail ?? "";
}
export function setProgress(percent) {
  els.bar.style.width = `${percent}%`;
  els.progress.setAttribute("aria-valuenow", String(percent));
}
/** A start-up step in the status line (the worker's `status`); said after "Onchain ready" once
 * onchain answers run and the device model still loads. */
export function setLoadingStatus(text, detail) {
  setStatus(onchainFirst() ? `Onchain ready · ${text.charAt(0).toLowerCase()}${text.slice(1)}` : text, detail);
}
function formatSeconds(s) {
  if (s < 60) return `${Math.max(1, Math.round(s))} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

const mb = (n) => (n / 1e6).toFixed(n < 1e7 ? 1 : 0);
const memoryNote = (plan) => `needs about ${formatMemory(plan.memory_bytes)} of memory`;

/** The loader's `plan`, in words: "q8 · icchat engine · 128 MB to download · needs about 0.4 GB of memory". */
export function planText(plan) {
  const source = plan.download_bytes > 0 ? `${mb(plan.download_bytes)} MB to download` : "from this browser's cache";
  return [plan.precision, ENGINE_LABELS[plan.engine] ?? plan.engine, source, memoryNote(plan)].join(" · ");
}

/** What is about to load, said before the download starts (and why not the precision asked for). */
export function showPlan(plan) {
  els.about.dataset.plan = JSON.stringify(plan); // tests read it
  setLoadingStatus(`Loading the ${plan.precision} model${plan.instead ? " instead" : ""}`, plan.instead ? `${planText(plan)} (${plan.instead})` : planText(plan));
}

/** The model files' download or cache read (the loader's `progress`), with the plan's memory need. */
export function showProgress(p) {
  const percent = p.total ? Math.floor((p.loaded / p.total) * 100) : 100;
  setProgress(percent);
  if (p.done) {
    setLoadingStatus("Model files verified", p.networkBytes ? `${mb(p.total)} MB · SHA-256 checked` : `${mb(p.total)} MB from this browser's cache · SHA-256 checked`);
    return;
  }
  const parts = [`${mb(p.loaded)} / ${mb(p.total)} MB`, `${percent} %`];
  if (p.networkBytes > 0 && p.rate > 0) parts.push(`${(p.rate / 1e6).toFixed(1)} MB/s`);
  if (p.eta !== null && p.eta !== undefined && p.networkBytes > 0) parts.push(`${formatSeconds(p.eta)} left`);
  if (state.plan) parts.push(memoryNote(state.plan));
  if (onchainFirst()) setStatus(`Onchain ready · loading the on-device model ${percent}%`, parts.join(" · "));
  else setStatus(p.fromCache ? "Loading the model from this browser's cache" : "Downloading the model", parts.join(" · "));
}

// The model notice: random weights get the page's warning; a model with a notice of its own (the
// offline demo model: English chit-chat, no knowledge) shows that text in the same place instead.
export function showModelNotice(meaningful, notice) {
  if (notice) {
    // the model's own notice stands alone (the random-weights wording around it does not apply)
    els.warningTitle.textContent = "Demo model:";
    els.warningText.textContent = notice;
    els.warningMore.hidden = true;
  }
  els.warning.hidden = meaningful && !notice;
}

/** The model's name, license and source (manifest provenance; an older bundle has none). */
export function modelOrigin({ name, license, source }) {
  if (!name) return "";
  return [name, license && `license ${license}`, source && source !== name && `from ${source}`].filter(Boolean).join(" · ");
}

/** The worker's `ready`: the model's label, the status line, the device note and the about line. */
export function showReady(message) {
  const { model, timings: t = {}, engine, threads } = message;
  if (!state.device.loading) setProgress(100);
  els.modelLabel.textContent = model.label;
  const origin = modelOrigin(model);
  els.modelLabel.title = `${origin ? origin + ", " : ""}${model.parameters ? (model.parameters / 1e6).toFixed(1) + "M parameters, " : ""}manifest ${model.manifestSha256}`;
  showModelNotice(model.meaningful, model.notice);
  els.about.dataset.timings = JSON.stringify(t); // seconds per start-up phase (tests read them)
  els.about.dataset.features = JSON.stringify(message.features); // what this browser gave the model (tests read it)
  const source = t.networkBytes ? `downloaded ${(t.networkBytes / 1e6).toFixed(1)} MB` : "model from cache";
  if (state.device.available) {
    els.about.dataset.engine = engine ?? ""; // the engine answering on this device (tests read it)
    const engineLabel = engine ? ` · ${ENGINE_LABELS[engine] ?? engine}` : "";
    const started = t.total ? `started in ${t.total.toFixed(1)} s · ${source}` : source;
    // a precision that did not fit this device gave way to this one: the reason stays said
    const instead = state.plan?.instead && state.plan.precision === message.precision ? ` · ${message.precision} instead: ${state.plan.instead}` : "";
    setStatus(`Ready · ${message.precision}${engineLabel} · ${threads} thread${threads === 1 ? "" : "s"}`, started + instead);
  } else if (state.device.loading) {
    // the download's figures stay (the loader's next progress replaces them)
    setStatus(state.available.length ? "Onchain ready · loading the on-device model" : "Loading the on-device model · onchain answers are not available", els.detail.textContent);
  } else {
    setStatus("Ready · onchain only", "the on-device model is not available here");
  }
  els.deviceNote.hidden = state.device.available || state.device.loading || !state.available.length;
  els.deviceNoteText.textContent = state.device.available ? "" : `This device cannot run the model: ${String(state.device.reason ?? "").replace(/\.+$/, "")}.`;
  els.deviceNoteOnchain.hidden = !state.available.includes("onchain-fast");
  els.about.dataset.principal = message.principal ?? "";
  els.about.textContent = `${origin ? `${origin} · ` : ""}Model manifest SHA-256 ${model.manifestSha256.slice(0, 16)}… (certified by the gpt2 canister) · ${model.n_layer} layers, ${model.n_embd} dims · cross-origin isolated: ${message.isolated ? "yes" : "no"}${message.principal ? ` · onchain identity ${message.principal}` : ""}`;
}

/** The status line when nothing can answer any more (a fatal `error`). */
export function showStopped(kind) {
  const text = { uncertified: "Model refused: its manifest is not the certified one", integrity: "Model refused: it does not match its manifest" };
  setStatus(text[kind] ?? "The model could not be started", "");
}

/** The watchdog's notice (state.stall): what start-up waits for, and the ways out; "Answer
 * onchain" while onchain can answer and the device is chosen. */
function renderStall() {
  const stall = state.stall;
  els.stall.hidden = !stall;
  if (!stall) return;
  els.stallText.textContent = `No progress for ${stall.seconds} s: waiting for ${stall.waitsFor}.`;
  els.stallOnchain.hidden = !(state.available.includes("onchain-fast") && state.prefs.backend === "device");
}

/** The error notice; kind "crash": the worker itself stopped. */
export function showError(text, kind, fatal = true) {
  els.errorText.textContent = text;
  els.error.dataset.kind = kind;
  els.error.hidden = false;
  els.errorRestart.hidden = !fatal && kind !== "crash";
  els.errorReload.hidden = kind === "refused"; // the canister said why: a reload would not change it
  if (fatal) setState("error");
}
export function hideError() {
  els.error.hidden = true;
}

/** The worker's error message (kind: protocol.mjs's ERROR_KINDS) with what the user can do. */
export function explainError(kind, message) {
  switch (kind) {
    case "integrity":
    case "uncertified": return `${message} The model host may have been tampered with; nothing from it was run.`;
    case "unreachable": return `${message}. Check that the model canister is running, then restart the model.`;
    case "memory": return `${message}. Close other tabs, or pick the smaller q8 precision in Settings, then restart.`;
    case "config": return `${message}. The page was not deployed completely.`;
    case "onchain": return `The onchain answer failed: ${message}. Your question is back in the box: send it again, or answer on this device.`;
    // the route canister's line on the LLM service (down, slow, over the limit, malformed, no consensus)
    case "service": return `${sentence(message.charAt(0).toUpperCase() + message.slice(1))} Your question is back in the box.`;
    // the gpt2 or route canister's own line (budget, quota, access, busy): as it is
    case "refused": return `${sentence(message)} Your question is back in the box.`;
    default: return message;
  }
}

/** A line as a sentence: a full stop last unless it ends one already (a closing parenthesis does not). */
const sentence = (line) => (/[.!?]$/.test(line) ? line : `${line}.`);

/** A word under the box until the controls are drawn again (the hint line). */
export function showHint(text) {
  els.hint.textContent = text;
}

/** THE tokens/s figure (the worker's stats.tokens_per_s) under the composer. */
export function showSpeed(tokensPerSecond) {
  els.speed.textContent = tokensPerSecond > 0 ? `${tokensPerSecond.toFixed(1)} tokens/s` : "";
}

// --- the transcript -------------------------------------------------------------------------

export function scrollToEnd() {
  els.transcript.scrollTop = els.transcript.scrollHeight;
}

export function messageNode(role) {
  const node = document.createElement("li");
  node.className = `msg ${role}`;
  const who = document.createElement("div");
  who.className = "who";
  who.textContent = role === "user" ? "You" : "GPT-2";
  const text = document.createElement("div");
  text.className = "text";
  node.append(who, text);
  return node;
}

/** A stored message, finished: its text and, for an answer, where it came from and its stats. */
export function renderMessage(message, node = messageNode(message.role)) {
  node.querySelector(".text").textContent = message.text;
  node.dataset.state = message.pending ? "pending" : "done";
  node.querySelector(".meta")?.remove();
  if (message.pending) node.append(span("waiting for the model…", "meta pending-note"));
  if (message.role === "assistant") {
    const meta = document.createElement("div");
    meta.className = "meta";
    const where = document.createElement("span");
    where.className = "where";
    where.textContent = ORIGIN_LABELS[message.origin] ?? message.origin ?? "";
    meta.append(where);
    const s = message.stats ?? {};
    // the LLM service's model is not this page's GPT-2: the answer is signed with its own name
    if (message.origin === "llm-service" && s.model) node.querySelector(".who").textContent = s.model;
    if (s.model) meta.append(span(s.model, "model"));
    if (s.via) meta.append(span(`via ${s.via}`, "via"));
    if (s.discarded) meta.append(span("stopped: the service's late answer was discarded", "stopped"));
    if (s.tokens) meta.append(span(`${s.tokens} tokens`));
    if (s.tokens_per_s) meta.append(span(`${s.tokens_per_s.toFixed(1)} tokens/s`));
    if (s.calls) meta.append(span(`${s.calls} call${s.calls === 1 ? "" : "s"}`, "calls"));
    if (s.instructions) meta.append(span(`${formatCount(s.instructions)} instructions`, "instructions"));
    if (s.cycles !== null && s.cycles !== undefined && s.calls) meta.append(span(message.origin === "llm-service" ? `${formatCount(s.cycles)} cycles` : `≈ ${formatCount(s.cycles)} cycles on mainnet`, "cycles"));
    if (s.stop_reason && STOP_LABELS[s.stop_reason] && !s.discarded) meta.append(span(STOP_LABELS[s.stop_reason], s.stop_reason === "cancelled" ? "stopped" : ""));
    if (s.trimmed_turns) meta.append(span(`${s.trimmed_turns} older turn${s.trimmed_turns === 1 ? "" : "s"} left out (context window)`));
    const details = [];
    if (s.seed !== null && s.seed !== undefined) details.push(`seed ${s.seed}`);
    if (s.python_share !== null && s.python_share !== undefined) details.push(`Python ${(s.python_share * 100).toFixed(1)} % of the time`);
    if (s.calls && message.origin === "llm-service") details.push("cycles: what this answer cost the route canister (its call or outcall, and its instructions)");
    else if (s.calls) details.push(`${s.updates} update${s.updates === 1 ? "" : "s"}, ${s.queries} quer${s.queries === 1 ? "y" : "ies"} (queries are free)`);
    if (s.cycles !== null && s.cycles !== undefined && s.calls && message.origin !== "llm-service") details.push(`cycles: the IC's published prices${s.prices_read_on ? ` read on ${s.prices_read_on}` : ""}, 13-node subnet`);
    meta.title = details.join(" · ");
    if (navigator.clipboard && message.text) meta.append(copyButton(message.text));
    node.dataset.origin = message.origin ?? "";
    node.dataset.stopReason = s.stop_reason ?? "";
    node.dataset.tokens = String(s.tokens ?? "");
    for (const key of ["calls", "updates", "queries", "instructions", "cycles", "model", "via"]) {
      if (s[key] !== undefined && s[key] !== null) node.dataset[key] = String(s[key]);
    }
    node.append(meta);
  }
  return node;
}
function copyButton(text) {
  const copy = document.createElement("button");
  copy.type = "button";
  copy.className = "copy";
  copy.textContent = "Copy";
  copy.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(text);
      copy.textContent = "Copied";
    } catch {
      copy.textContent = "Copy failed";
    }
    setTimeout(() => { copy.textContent = "Copy"; }, 1500);
  });
  return copy;
}
/** 1234567 → "1.23M": instruction and cycle counts at a glance. */
export function formatCount(n) {
  for (const [unit, size] of [["T", 1e12], ["B", 1e9], ["M", 1e6], ["k", 1e3]]) {
    if (n >= size) return `${(n / size).toPrecision(3)}${unit}`;
  }
  return String(n);
}
function span(text, className = "") {
  const el = document.createElement("span");
  el.textContent = text;
  if (className) el.className = className;
  return el;
}

export function renderTranscript(conversation) {
  els.messages.replaceChildren(...conversation.messages.map((m) => renderMessage(m)));
  els.empty.hidden = conversation.messages.length > 0;
  scrollToEnd();
}

function titleOf(conversation) {
  const first = conversation.messages.find((m) => m.role === "user");
  return first ? first.text.slice(0, 60) : "New chat";
}

/** The sidebar's list; `open(id)` and `remove(id)` answer its buttons. */
export function renderConversations({ open, remove }) {
  const { list, current } = state.conversations;
  const items = list.filter((c) => c.messages.length > 0).map((conversation) => {
    const li = document.createElement("li");
    li.classList.toggle("current", conversation.id === current);
    const openButton = document.createElement("button");
    openButton.type = "button";
    openButton.className = "open";
    openButton.textContent = titleOf(conversation);
    openButton.title = openButton.textContent;
    openButton.addEventListener("click", () => open(conversation.id));
    const removeButton = document.createElement("button");
    removeButton.type = "button";
    removeButton.className = "delete";
    removeButton.textContent = "✕";
    removeButton.setAttribute("aria-label", `Delete "${titleOf(conversation)}"`);
    removeButton.addEventListener("click", () => remove(conversation.id));
    li.append(openButton, removeButton);
    return li;
  });
  els.conversations.replaceChildren(...items);
}

// --- the overlays ---------------------------------------------------------------------------

/** The settings panel (an overlay on narrow screens). */
export function showSettings(open) {
  els.settings.hidden = !open;
  els.settingsToggle.setAttribute("aria-expanded", String(open));
  els.body.classList.toggle("settings-open", open);
}
/** After a choice on a narrow screen: back to the chat (the sidebar and the settings close). */
export function closeOverlays() {
  els.body.classList.remove("sidebar-open");
  if (window.matchMedia("(max-width: 820px)").matches) showSettings(false);
}

// --- the controls ---------------------------------------------------------------------------

/** What the composer, the where switch and the model settings allow now (busy: an answer is
 * being written), and the texts that go with the chosen backend. */
export function renderControls() {
  const { reply, ready, available, prefs, device, model } = state;
  const busy = reply !== null;
  const waiting = state.pending !== null; // a message sent while the page started waits for the model
  els.send.hidden = busy || waiting;
  els.stop.hidden = !busy && !waiting;
  // While the page starts (the device: while its model loads), a message sent is taken and waits;
  // once started, only a backend that can answer takes one.
  const deviceLoading = ready && device.loading && prefs.backend === "device";
  els.send.disabled = state.stopped || els.prompt.value.trim() === "" || !takesMessagesFor(prefs.backend);
  els.send.title = ready && !deviceLoading ? "" : "The model is still loading: a message sent now is answered once it is ready";
  // the LLM service answers with its own model, not the page's GPT-2
  const serviceModel = prefs.backend === "llm-service" && state.service ? state.service.model : null;
  els.prompt.placeholder = serviceModel ? `Message ${serviceModel}…` : PLACEHOLDERS[deviceLoading ? "deviceLoading" : "ready"];
  els.newChat.disabled = busy || waiting;
  // Where answers come from is switched between answers, never during one.
  for (const input of els.where.querySelectorAll("input")) {
    input.checked = input.value === prefs.backend;
    input.disabled = busy || !takesMessagesFor(input.value);
    input.parentElement.title = input.disabled && !busy ? (input.value === "device" ? `Not available: ${device.reason ?? "the model is not loaded"}` : input.value === "llm-service" ? "Not available: the route canister could not be reached" : "Not available: the gpt2 canister could not be reached") : "";
  }
  // the fourth position names the route's model; a page without a route canister does not offer it
  els.serviceModel.textContent = state.service ? ` · ${state.service.model}` : "";
  els.whereService.hidden = ready && !state.service && prefs.backend !== "llm-service";
  els.whereNote.textContent = WHERE_NOTES[prefs.backend] ?? "";
  els.privacy.textContent = PRIVACY[prefs.backend];
  els.privacy.dataset.mode = prefs.backend;
  els.forget.hidden = !prefs.onchainUsed;
  els.forget.disabled = busy || state.forgetting || !available.includes("onchain-fast");
  const onchain = prefs.backend !== "device";
  const service = prefs.backend === "llm-service";
  els.emptyText.textContent = EMPTY_TEXT[service ? "llm-service" : onchain ? "onchain" : "device"];
  els.hint.textContent = waiting ? HINTS.pending : service ? HINTS["llm-service"] : onchain ? HINTS.onchain : deviceLoading ? HINTS.deviceLoading : HINTS.device;
  els.stop.title = busy && reply.backend === "llm-service" ? "The request cannot be called back: its answer is discarded when it comes" : busy && reply.backend !== "device" ? "Stops after the current call" : waiting ? "Cancels the waiting message (it stays in the conversation, unanswered)" : "";
  els.modelWhere.textContent = service && state.service ? `${ORIGIN_LABELS[prefs.backend]} · ${state.service.model}` : ORIGIN_LABELS[prefs.backend];
  // The on-device model is not swapped while it writes an answer.
  for (const input of els.settingsForm.elements.precision) input.disabled = busy || (model ? !model.precisions.includes(input.value) : false);
  for (const input of els.settingsForm.elements.engine) input.disabled = busy;
  renderStall();
}
