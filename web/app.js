// The page (main thread): transcript, composer, settings and conversations. All model work is
// in worker.js; this file only renders. Model and user text are always set with textContent.

const $ = (selector) => document.querySelector(selector);
const els = {
  body: document.body,
  status: $("#status-text"), detail: $("#status-detail"), progress: $("#progress"), bar: $("#progress-bar"),
  warning: $("#warning"), warningText: $("#warning-text"),
  error: $("#error"), errorText: $("#error-text"), errorRestart: $("#error-restart"), errorReload: $("#error-reload"), errorDismiss: $("#error-dismiss"),
  modelLabel: $("#model-label"), modelWhere: $("#model-where"),
  transcript: $("#transcript"), empty: $("#empty"), messages: $("#messages"),
  composer: $("#composer"), prompt: $("#prompt"), send: $("#send"), stop: $("#stop"), speed: $("#speed"),
  sidebar: $("#sidebar"), conversations: $("#conversations"), newChat: $("#new-chat"), menu: $("#menu"), sidebarClose: $("#sidebar-close"), scrim: $("#scrim"),
  settings: $("#settings"), settingsToggle: $("#settings-toggle"), settingsClose: $("#settings-close"), settingsForm: $("#settings-form"),
  settingsError: $("#settings-error"), settingsReset: $("#settings-reset"), about: $("#about"), engineAuto: $("#engine-auto"),
  where: $("#where"), emptyText: $("#empty p"), whereNote: $("#where-note"), hint: $("#hint"),
  deviceNote: $("#device-note"), deviceNoteText: $("#device-note-text"), deviceNoteOnchain: $("#device-note-onchain"), errorDevice: $("#error-device"),
  privacy: $("#privacy"), forget: $("#forget-onchain"), forgetNote: $("#forget-note"), usage: $("#usage"), usageRefresh: $("#usage-refresh"),
};

const ORIGIN_LABELS = { device: "on this device", "onchain-fast": "onchain · fast", "onchain-verified": "onchain · verified" };
const BACKENDS = Object.keys(ORIGIN_LABELS);
const WHERE_NOTES = {
  device: "",
  "onchain-fast": "Computed by the gpt2 canister: your conversation goes to its subnet by an update, then one node writes the answer by query (not certified).",
  "onchain-verified": "Computed by the gpt2 canister: every node of its subnet sees your conversation and computes the answer (replicated updates, certified).",
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
};
const EMPTY_TEXT = {
  device: "The model runs on this device in your browser. What you type is not sent anywhere.",
  onchain: "The model runs onchain, in the gpt2 canister on the Internet Computer: what you type is sent to it.",
};
const HINTS = { device: "Enter sends · Shift+Enter adds a line", onchain: "Enter sends · Stop stops after the current call" };
const STOP_LABELS = { eot: "", stop_string: "", max_tokens: "max tokens reached", context: "context full", cancelled: "stopped", error: "error" };
const DEFAULT_SETTINGS = { temperature: 0.8, top_k: 40, top_p: 0.95, max_new_tokens: 128, seed: null };
const DEFAULT_PREFS = { backend: "device", variant: "int8", engine: "auto" }; // engine: auto | icchat | onnxruntime-web
const ENGINE_LABELS = { icchat: "icchat engine", "onnxruntime-web": "onnxruntime-web" };
const KEYS = { settings: "icchat.settings.v1", prefs: "icchat.prefs.v1", conversations: "icchat.conversations.v1", draft: "icchat.draft.v1", identity: "icchat.identity.v1", engineSpeeds: "icchat.engine-speeds.v1" };

// --- storage (localStorage: small, synchronous, survives reloads) ---------------------------

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

let settings = { ...DEFAULT_SETTINGS, ...load(KEYS.settings, {}) };
let prefs = { ...DEFAULT_PREFS, ...load(KEYS.prefs, {}) };
if (!BACKENDS.includes(prefs.backend)) prefs.backend = DEFAULT_PREFS.backend;

/** The page's onchain identity: the seed of an Ed25519 key, made once and kept in this browser,
 * so the gpt2 canister's per-caller prefix cache keeps this conversation between answers. */
function identitySeed() {
  let hex = load(KEYS.identity, null);
  if (typeof hex !== "string" || !/^[0-9a-f]{64}$/.test(hex)) {
    hex = Array.from(crypto.getRandomValues(new Uint8Array(32)), (b) => b.toString(16).padStart(2, "0")).join("");
    save(KEYS.identity, hex);
  }
  return Uint8Array.from(hex.match(/../g), (h) => parseInt(h, 16));
}
let store = load(KEYS.conversations, null);
if (!store || !Array.isArray(store.list)) store = { current: null, list: [] };
// "Forget my onchain conversation" is offered once this browser has sent one onchain (kept in
// prefs; a store from before that flag tells by its answers' origins).
prefs.onchainUsed ??= store.list.some((c) => c.messages.some((m) => String(m.origin ?? "").startsWith("onchain")));

const newId = () => (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random());
const saveStore = () => save(KEYS.conversations, store);
function currentConversation() {
  let conversation = store.list.find((c) => c.id === store.current);
  if (!conversation) {
    conversation = { id: newId(), title: "", created: Date.now(), updated: Date.now(), messages: [] };
    store.list.unshift(conversation);
    store.current = conversation.id;
  }
  return conversation;
}

// --- the worker ----------------------------------------------------------------------------

let worker = null;
let ready = false;
let reply = null; // the answer being written: {id, conversation, userText, node, text, tokens, started, firstAt}
let model = null;
let runningVariant = null;
let runningEnginePref = null; // the engine setting before a switch (restored if the switch fails)
let available = []; // backends that can answer now (the worker's "ready")
let device = { available: false, reason: null };
let prices = null; // the IC price table's few numbers (config.json via the worker)
let forgetting = false; // a forget_conversations call is on its way
let usageAsked = 0; // numbers the usage requests: only the newest one's answer is shown
let replies = 0; // numbers each reply, for the shared stop flag
// Stop signal the worker reads at every token without waiting for its message queue.
const stopFlag = self.crossOriginIsolated ? new Int32Array(new SharedArrayBuffer(4)) : null;

function startWorker() {
  ready = false;
  worker?.terminate();
  worker = new Worker(new URL("worker.js", import.meta.url), { type: "module" });
  worker.onmessage = ({ data }) => onWorkerMessage[data.type]?.(data);
  worker.onerror = (event) => {
    event.preventDefault?.();
    onCrash(event.message || "the model worker stopped unexpectedly");
  };
  setState("loading");
  setStatus("Starting…", "");
  setProgress(0);
  // Download progress comes straight from the loader thread, never queued behind Python's boot.
  const progress = new MessageChannel();
  progress.port1.onmessage = ({ data }) => onWorkerMessage.progress(data);
  worker.postMessage({ type: "init", variant: prefs.variant, engine: prefs.engine ?? "auto", speeds: load(KEYS.engineSpeeds, {}), debug: location.hash === "#debug", stopFlag, progressPort: progress.port2, identitySeed: identitySeed(), pageUrl: location.href }, [progress.port2]);
}

function onCrash(message) {
  ready = false;
  failReply();
  worker?.terminate();
  worker = null;
  setStatus("The model stopped", "");
  showError(`The model stopped working (${message}). Your conversation and your text are kept.`, "crash");
}

// The model notice: random weights get the page's warning; a model with a notice of its own (the
// offline demo model: English chit-chat, no knowledge) shows that text in the same place instead.
function showModelNotice(meaningful, notice) {
  if (notice) {
    // the model's own notice stands alone (the random-weights wording around it does not apply)
    document.querySelector("#warning-title").textContent = "Demo model:";
    els.warningText.textContent = notice;
    document.querySelector("#warning-more").hidden = true;
  }
  els.warning.hidden = meaningful && !notice;
}

const onWorkerMessage = {
  log({ level, text }) {
    console[level]?.(`[worker] ${text}`);
  },
  config({ label, meaningful, notice }) {
    els.modelLabel.textContent = label;
    showModelNotice(meaningful, notice);
  },
  status({ phase, text }) {
    if (phase !== "ready") setStatus(text, phase === "weights" ? els.detail.textContent : "");
  },
  progress(p) {
    if (ready) return; // a late message from the loader thread
    const percent = p.total ? Math.floor((p.loaded / p.total) * 100) : 100;
    setProgress(percent);
    const mb = (n) => (n / 1e6).toFixed(n < 1e7 ? 1 : 0);
    if (p.done) {
      setStatus("Model files verified", p.networkBytes ? `${mb(p.total)} MB · SHA-256 checked` : `${mb(p.total)} MB from this browser's cache · SHA-256 checked`);
      return;
    }
    const parts = [`${mb(p.loaded)} / ${mb(p.total)} MB`, `${percent} %`];
    if (p.networkBytes > 0 && p.rate > 0) parts.push(`${(p.rate / 1e6).toFixed(1)} MB/s`);
    if (p.eta !== null && p.eta !== undefined && p.networkBytes > 0) parts.push(`${formatSeconds(p.eta)} left`);
    setStatus(p.fromCache ? "Loading the model from this browser's cache" : "Downloading the model", parts.join(" · "));
  },
  ready(message) {
    ready = true;
    model = message.model;
    runningVariant = message.variant;
    setProgress(100);
    setState(reply ? "generating" : "ready");
    els.modelLabel.textContent = model.label;
    els.modelLabel.title = `${model.parameters ? (model.parameters / 1e6).toFixed(1) + "M parameters, " : ""}manifest ${model.manifestSha256}`;
    showModelNotice(model.meaningful, model.notice);
    const t = message.timings ?? {};
    els.about.dataset.timings = JSON.stringify(t); // seconds per start-up phase (tests read them)
    const source = t.networkBytes ? `downloaded ${(t.networkBytes / 1e6).toFixed(1)} MB` : "model from cache";
    available = message.backends ?? ["device"];
    prices = message.prices ?? null;
    device = message.device ?? { available: available.includes("device"), reason: null };
    if (device.available) {
      els.about.dataset.engine = message.engine ?? ""; // the engine answering on this device (tests read it)
      const known = load(KEYS.engineSpeeds, {})[`${model.manifestSha256}:${message.variant}:${message.threads}`];
      if (known && message.engine && (prefs.engine ?? "auto") === "auto") showEngineSpeeds("measured", message.engine, known); // auto's figures from an earlier visit
      const engine = message.engine ? ` · ${ENGINE_LABELS[message.engine] ?? message.engine}` : "";
      setStatus(`Ready · ${message.variant}${engine} · ${message.threads} thread${message.threads === 1 ? "" : "s"}`, t.total ? `started in ${t.total.toFixed(1)} s · ${source}` : source);
    } else {
      setStatus("Ready · onchain only", "the on-device model is not available here");
    }
    els.deviceNote.hidden = device.available || !available.length;
    els.deviceNoteText.textContent = device.available ? "" : `This device cannot run the model: ${String(device.reason ?? "").replace(/\.+$/, "")}.`;
    els.deviceNoteOnchain.hidden = !available.includes("onchain-fast");
    els.about.dataset.principal = message.principal ?? "";
    els.about.textContent = `Model manifest SHA-256 ${model.manifestSha256.slice(0, 16)}… (certified by the gpt2 canister) · ${model.n_layer} layers, ${model.n_embd} dims · cross-origin isolated: ${message.isolated ? "yes" : "no"}${message.principal ? ` · onchain identity ${message.principal}` : ""}`;
    updateComposer();
  },
  usage({ id, usage, error }) {
    if (id === usageAsked) showUsage(usage, error); // an older request's answer is not shown
  },
  forgotten({ error }) {
    forgetting = false;
    if (!error) {
      prefs.onchainUsed = false;
      save(KEYS.prefs, prefs);
    }
    els.forgetNote.textContent = error
      ? `Not forgotten: ${error}`
      : "Forgotten: the gpt2 canister emptied its cache of your conversations. The ones listed here stay in this browser.";
    updateComposer();
  },
  snapshot({ phase }) {
    els.about.dataset.snapshot = phase; // the interpreter snapshot: making | stopped | kept | failed (tests read it)
  },
  engines({ phase, engine, key, speeds }) {
    // auto: the worker timed both on-device engines here; kept so the next visit starts on the faster one
    if (phase === "measured") save(KEYS.engineSpeeds, { ...load(KEYS.engineSpeeds, {}), [key]: speeds });
    showEngineSpeeds(phase, engine, speeds);
    if (phase === "measured" && device.available && speeds[engine] > 0) setStatus(els.status.textContent, engineChoiceDetail(engine, speeds));
  },
  delta({ id, text, tokens }) {
    if (!reply || reply.id !== id) return;
    reply.firstAt ??= performance.now();
    reply.text += text;
    reply.tokens += tokens.length;
    reply.ids.push(...tokens);
    reply.deltas += 1;
    reply.node.dataset.deltas = String(reply.deltas); // what has arrived (tests read it); cheap, unlike the text's layout
    if (reply.node.dataset.state !== "streaming") reply.node.dataset.state = "streaming";
    reply.node.dataset.tokens = String(reply.tokens);
    // the first token is drawn at once, later ones at most every DRAW_EVERY_MS
    reply.drawTimer ||= setTimeout(drawReply, reply.drawnAt ? DRAW_EVERY_MS : 0, reply);
  },
  done({ id, message, stopReason, stats, trimmedTurns }) {
    if (!reply || reply.id !== id) return;
    const text = message?.text ?? reply.text.trim();
    const origin = message?.origin ?? "device";
    const seconds = reply.firstAt ? (performance.now() - reply.firstAt) / 1000 : 0;
    const entry = {
      role: "assistant", text, origin,
      stats: { tokens: reply.tokens, tokensPerSecond: reply.tokens > 1 && seconds > 0 ? (reply.tokens - 1) / seconds : null, stopReason, seed: Number.isSafeInteger(stats?.seed) ? stats.seed : null, pythonShare: pythonShare(stats), trimmedTurns: trimmedTurns ?? 0 },
    };
    if (origin !== "device") {
      // Onchain: answer tokens per second over the whole answer (the calls are the cost).
      const total = (performance.now() - reply.started) / 1000;
      entry.stats.tokensPerSecond = reply.tokens && total > 0 ? reply.tokens / total : null;
      Object.assign(entry.stats, { calls: stats?.calls ?? 0, updates: stats?.updates ?? 0, queries: stats?.queries ?? 0, instructions: stats?.instructions ?? 0, cycles: stats?.mainnet_cycles ?? null, pricesDate: prices?.read_on ?? null });
    }
    reply.conversation.messages.push(entry);
    reply.conversation.updated = Date.now();
    saveStore();
    save(KEYS.draft, els.prompt.value);
    renderMessage(entry, reply.node);
    clearTimeout(reply.drawTimer);
    reply.node.dataset.tokenIds = JSON.stringify(reply.ids); // this answer's token ids (tests compare them)
    reply.node.dataset.deltas = String(reply.deltas);
    if (entry.stats.tokensPerSecond) els.speed.textContent = `${entry.stats.tokensPerSecond.toFixed(1)} tokens/s`;
    reply = null;
    setState(ready ? "ready" : "loading");
    renderConversations();
    updateComposer();
    if (origin !== "device") checkUsage(false);
  },
  error({ id, kind, message, fatal, during }) {
    if (id && reply && reply.id === id) failReply();
    if (fatal) {
      ready = false;
      const uncertified = kind === "integrity" && message.includes("gpt2 canister certifies");
      setStatus(uncertified ? "Model refused: its manifest is not the certified one" : kind === "integrity" ? "Model refused: it does not match its manifest" : "The model could not be started", "");
    }
    showError(explainError(kind, message), kind, fatal);
    if (!fatal && during === "generate") setState(ready ? "ready" : "loading");
    els.errorDevice.hidden = !((kind === "onchain" || kind === "refused") && available.includes("device"));
    if (kind === "onchain" || kind === "refused") checkUsage(false); // what is spent now, in the settings
    if (during === "variant" && !fatal) {
      ready = true; // the previous model still runs: say so in the settings, too
      prefs.variant = runningVariant ?? prefs.variant;
      if (runningEnginePref) prefs.engine = runningEnginePref;
      save(KEYS.prefs, prefs);
      fillSettings();
      setProgress(100);
      setStatus(`Ready · ${runningVariant}`, "the other model could not be loaded");
      setState("ready");
    }
    updateComposer();
  },
};

/** Share of the reply's time spent in Python (backend + runtime), the rest is the model. */
function pythonShare(stats) {
  const py = (stats?.python_ms ?? 0) + (stats?.runtime_ms ?? 0);
  const total = stats?.seconds ? stats.seconds * 1000 : 0;
  return py > 0 && total > 0 ? py / total : null;
}

function explainError(kind, message) {
  switch (kind) {
    case "integrity": return `${message} The model host may have been tampered with; nothing from it was run.`;
    case "unreachable": return `${message}. Check that the model canister is running, then restart the model.`;
    case "memory": return `${message}. Close other tabs, or pick the smaller int8 model in Settings, then restart.`;
    case "config": return `${message}. The page was not deployed completely.`;
    case "onchain": return `The onchain answer failed: ${message}. Your question is back in the box: send it again, or answer on this device.`;
    // the gpt2 canister's own line (budget, quota, access, busy): as it is
    case "refused": return `${/[.!?)]$/.test(message) ? message : `${message}.`} Your question is back in the box.`;
    default: return message;
  }
}

// --- rendering -----------------------------------------------------------------------------

function setState(value) {
  els.body.dataset.state = value;
}
function setStatus(text, detail) {
  els.status.textContent = text;
  els.detail.textContent = detail ?? "";
}
function setProgress(percent) {
  els.bar.style.width = `${percent}%`;
  els.progress.setAttribute("aria-valuenow", String(percent));
}
function formatSeconds(s) {
  if (s < 60) return `${Math.max(1, Math.round(s))} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}
function showError(text, kind, fatal = true) {
  els.errorText.textContent = text;
  els.error.dataset.kind = kind;
  els.error.hidden = false;
  els.errorRestart.hidden = !fatal && kind !== "crash";
  els.errorReload.hidden = kind === "refused"; // the canister said why: a reload would not change it
  if (fatal) setState("error");
}
function hideError() {
  els.error.hidden = true;
}

// Drawing every token (the text's layout, the scroll, the speed) took the CPU the model runs on:
// on 2 cores the icchat engine wrote a token in 15.9 ms with every token drawn, 14.0 ms drawn at
// most every 50 ms, 12.4 ms undrawn. At most 20 draws a second look the same to a reader.
const DRAW_EVERY_MS = 50;

/** Show what the streaming reply `r` has so far: its text and the speed. */
function drawReply(r) {
  r.drawTimer = 0;
  if (reply !== r) return; // done or failed meanwhile: drawn by renderMessage, or removed
  r.drawnAt = performance.now();
  r.textNode.textContent = r.text;
  const seconds = (r.drawnAt - r.firstAt) / 1000;
  if (r.tokens > 1 && seconds > 0) els.speed.textContent = `${((r.tokens - 1) / seconds).toFixed(1)} tokens/s`;
  scrollToEnd();
}

function scrollToEnd() {
  els.transcript.scrollTop = els.transcript.scrollHeight;
}

function messageNode(role) {
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

function renderMessage(message, node = messageNode(message.role)) {
  node.querySelector(".text").textContent = message.text;
  node.dataset.state = "done";
  node.querySelector(".meta")?.remove();
  if (message.role === "assistant") {
    const meta = document.createElement("div");
    meta.className = "meta";
    const where = document.createElement("span");
    where.className = "where";
    where.textContent = ORIGIN_LABELS[message.origin] ?? message.origin ?? "";
    meta.append(where);
    const s = message.stats ?? {};
    if (s.tokens) meta.append(span(`${s.tokens} tokens`));
    if (s.tokensPerSecond) meta.append(span(`${s.tokensPerSecond.toFixed(1)} tokens/s`));
    if (s.calls) meta.append(span(`${s.calls} call${s.calls === 1 ? "" : "s"}`, "calls"));
    if (s.instructions) meta.append(span(`${formatCount(s.instructions)} instructions`, "instructions"));
    if (s.cycles !== null && s.cycles !== undefined && s.calls) meta.append(span(`≈ ${formatCount(s.cycles)} cycles on mainnet`, "cycles"));
    if (s.stopReason && STOP_LABELS[s.stopReason]) meta.append(span(STOP_LABELS[s.stopReason], s.stopReason === "cancelled" ? "stopped" : ""));
    if (s.trimmedTurns) meta.append(span(`${s.trimmedTurns} older turn${s.trimmedTurns === 1 ? "" : "s"} left out (context window)`));
    const details = [];
    if (s.seed !== null && s.seed !== undefined) details.push(`seed ${s.seed}`);
    if (s.pythonShare !== null && s.pythonShare !== undefined) details.push(`Python ${(s.pythonShare * 100).toFixed(1)} % of the time`);
    if (s.calls) details.push(`${s.updates} update${s.updates === 1 ? "" : "s"}, ${s.queries} quer${s.queries === 1 ? "y" : "ies"} (queries are free)`);
    if (s.cycles !== null && s.cycles !== undefined && s.calls) details.push(`cycles: the IC's published prices${s.pricesDate ? ` read on ${s.pricesDate}` : ""}, 13-node subnet`);
    meta.title = details.join(" · ");
    if (navigator.clipboard && message.text) {
      const copy = document.createElement("button");
      copy.type = "button";
      copy.className = "copy";
      copy.textContent = "Copy";
      copy.addEventListener("click", async () => {
        try {
          await navigator.clipboard.writeText(message.text);
          copy.textContent = "Copied";
        } catch {
          copy.textContent = "Copy failed";
        }
        setTimeout(() => { copy.textContent = "Copy"; }, 1500);
      });
      meta.append(copy);
    }
    node.dataset.origin = message.origin ?? "";
    node.dataset.stopReason = s.stopReason ?? "";
    node.dataset.tokens = String(s.tokens ?? "");
    for (const key of ["calls", "updates", "queries", "instructions", "cycles"]) {
      if (s[key] !== undefined && s[key] !== null) node.dataset[key] = String(s[key]);
    }
    node.append(meta);
  }
  return node;
}
/** 1234567 → "1.23M": instruction and cycle counts at a glance. */
function formatCount(n) {
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

function renderTranscript() {
  const conversation = currentConversation();
  els.messages.replaceChildren(...conversation.messages.map((m) => renderMessage(m)));
  els.empty.hidden = conversation.messages.length > 0;
  scrollToEnd();
}

function titleOf(conversation) {
  const first = conversation.messages.find((m) => m.role === "user");
  return first ? first.text.slice(0, 60) : "New chat";
}

function renderConversations() {
  const items = store.list.filter((c) => c.messages.length > 0).map((conversation) => {
    const li = document.createElement("li");
    li.classList.toggle("current", conversation.id === store.current);
    const open = document.createElement("button");
    open.type = "button";
    open.className = "open";
    open.textContent = titleOf(conversation);
    open.title = open.textContent;
    open.addEventListener("click", () => switchConversation(conversation.id));
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "delete";
    remove.textContent = "✕";
    remove.setAttribute("aria-label", `Delete "${titleOf(conversation)}"`);
    remove.addEventListener("click", () => deleteConversation(conversation.id));
    li.append(open, remove);
    return li;
  });
  els.conversations.replaceChildren(...items);
}

function switchConversation(id) {
  if (reply) return; // finish or stop the answer first
  store.current = id;
  saveStore();
  renderTranscript();
  renderConversations();
  closeOverlays();
}

function deleteConversation(id) {
  if (reply && reply.conversation.id === id) return;
  store.list = store.list.filter((c) => c.id !== id);
  if (store.current === id) store.current = store.list[0]?.id ?? null;
  saveStore();
  renderTranscript();
  renderConversations();
}

function newChat() {
  if (reply) return;
  const current = store.list.find((c) => c.id === store.current);
  if (current && current.messages.length === 0) {
    closeOverlays();
    els.prompt.focus();
    return;
  }
  store.current = null;
  currentConversation();
  saveStore();
  renderTranscript();
  renderConversations();
  closeOverlays();
  els.prompt.focus();
}

// --- sending -------------------------------------------------------------------------------

function updateComposer() {
  const busy = reply !== null;
  els.send.hidden = busy;
  els.stop.hidden = !busy;
  els.send.disabled = !ready || els.prompt.value.trim() === "" || !available.includes(prefs.backend);
  els.send.title = ready ? "" : "The model is still loading";
  els.newChat.disabled = busy;
  // Where answers come from is switched between answers, never during one.
  for (const input of els.where.querySelectorAll("input")) {
    input.checked = input.value === prefs.backend;
    input.disabled = busy || (ready && !available.includes(input.value));
    input.parentElement.title = input.disabled && !busy ? (input.value === "device" ? `Not available: ${device.reason ?? "the model is not loaded"}` : "Not available: the gpt2 canister could not be reached") : "";
  }
  els.whereNote.textContent = WHERE_NOTES[prefs.backend] ?? "";
  els.privacy.textContent = PRIVACY[prefs.backend];
  els.privacy.dataset.mode = prefs.backend;
  els.forget.hidden = !prefs.onchainUsed;
  els.forget.disabled = busy || forgetting || !available.includes("onchain-fast");
  els.emptyText.textContent = EMPTY_TEXT[prefs.backend === "device" ? "device" : "onchain"];
  const onchain = prefs.backend !== "device";
  els.hint.textContent = onchain ? HINTS.onchain : HINTS.device;
  els.stop.title = busy && reply?.backend !== "device" ? "Stops after the current call" : "";
  els.modelWhere.textContent = ORIGIN_LABELS[prefs.backend];
  // The on-device model is not swapped while it writes an answer.
  for (const input of els.settingsForm.elements.variant) input.disabled = busy || (model ? !model.variants.includes(input.value) : false);
  for (const input of els.settingsForm.elements.engine) input.disabled = busy;
}

function autosize() {
  els.prompt.style.height = "auto";
  els.prompt.style.height = `${Math.min(els.prompt.scrollHeight, window.innerHeight * 0.4)}px`;
}

function send() {
  const text = els.prompt.value.trim();
  if (!text || !ready || reply || !available.includes(prefs.backend)) return;
  hideError();
  const conversation = currentConversation();
  const user = { role: "user", text };
  conversation.messages.push(user);
  conversation.updated = Date.now();
  if (!conversation.title) conversation.title = text.slice(0, 60);
  saveStore();
  els.empty.hidden = true;
  els.messages.append(renderMessage(user));
  const node = messageNode("assistant");
  node.dataset.state = "waiting";
  els.messages.append(node);
  if (prefs.backend !== "device" && !prefs.onchainUsed) {
    prefs.onchainUsed = true; // the conversation goes to the canister now: offer to forget it
    save(KEYS.prefs, prefs);
  }
  reply = { id: newId(), seq: ++replies, conversation, userText: els.prompt.value, node, textNode: node.querySelector(".text"), text: "", tokens: 0, ids: [], deltas: 0, backend: prefs.backend, started: performance.now(), firstAt: null, drawTimer: 0, drawnAt: 0 };
  els.prompt.value = "";
  autosize();
  save(KEYS.draft, "");
  setState("generating");
  els.speed.textContent = "";
  updateComposer();
  renderConversations();
  scrollToEnd();
  worker.postMessage({
    type: "generate",
    id: reply.id,
    seq: reply.seq,
    conversation: { messages: conversation.messages.map(({ role, text: t, origin }) => (origin ? { role, text: t, origin } : { role, text: t })) },
    // An empty seed means a fresh one per answer; it is picked here (below 2^32, exact in JSON
    // both ways) so the answer can show it and be reproduced.
    settings: { ...settings, seed: settings.seed ?? crypto.getRandomValues(new Uint32Array(1))[0] },
    backend: prefs.backend,
  });
}

/** The answer failed: take the question back out of the conversation and into the box. */
function failReply() {
  if (!reply) return;
  const { conversation, userText, node } = reply;
  const last = conversation.messages[conversation.messages.length - 1];
  if (last?.role === "user") conversation.messages.pop();
  saveStore();
  node.previousElementSibling?.remove();
  node.remove();
  const typed = els.prompt.value;
  els.prompt.value = typed ? `${userText}\n${typed}` : userText;
  save(KEYS.draft, els.prompt.value);
  autosize();
  reply = null;
  els.empty.hidden = conversation.messages.length > 0;
  updateComposer();
}

function stop() {
  if (!reply) return;
  if (stopFlag) Atomics.store(stopFlag, 0, reply.seq);
  worker?.postMessage({ type: "stop", id: reply.id });
}

// --- settings ------------------------------------------------------------------------------

const ACCESS_TEXT = {
  open: "Open to anyone with an identity (this page has its own; the anonymous principal gets no update inference).",
  allow_list: "For allow-listed principals and the canister's controllers.",
  controllers: "For the canister's controllers only.",
};

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

/** The gpt2 canister's `usage` in the settings: who may ask, the bound, what is spent, the refill. */
function showUsage(usage, error) {
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

/** Ask the worker for the canister's usage; `always` false: only while the settings are open. */
function checkUsage(always = true) {
  if (!worker || !available.includes("onchain-fast") || (!always && els.settings.hidden)) return;
  els.usage.dataset.state = "checking"; // until the answer to this request
  worker.postMessage({ type: "usage", id: ++usageAsked });
}

/** forget_conversations as this browser's identity (the worker's onchain client). */
function forgetOnchain() {
  if (!worker || reply || forgetting) return;
  forgetting = true;
  els.forgetNote.textContent = "Asking the gpt2 canister to forget…";
  updateComposer();
  worker.postMessage({ type: "forget" });
}

const engineSpeed = (name, ms) => `${ENGINE_LABELS[name] ?? name} ${ms.toFixed(1)} ms/token`;

/** The auto setting's note: which engine answers and the figures it was chosen by (its own first). */
function showEngineSpeeds(phase, engine, speeds) {
  const figures = Object.entries(speeds ?? {}).filter(([, ms]) => ms > 0).sort(([a], [b]) => (b === engine) - (a === engine))
    .map(([name, ms]) => engineSpeed(name, ms)).join(" · ");
  els.engineAuto.textContent = phase === "measuring"
    ? `measuring ${ENGINE_LABELS[engine] ?? engine} on this device…`
    : `faster here: ${figures} (measured on this device)`;
}

/** The status line's detail once auto has measured: what it picked and by how much. */
function engineChoiceDetail(engine, speeds) {
  const others = Object.entries(speeds).filter(([name, ms]) => name !== engine && ms > 0)
    .map(([name, ms]) => engineSpeed(name, ms)).join(", ");
  return `auto picked the ${ENGINE_LABELS[engine] ?? engine}: ${speeds[engine].toFixed(1)} ms/token here${others ? ` (${others})` : ""}`;
}

function fillSettings() {
  const f = els.settingsForm.elements;
  f.temperature.value = settings.temperature;
  f.top_k.value = settings.top_k;
  f.top_p.value = settings.top_p;
  f.max_new_tokens.value = settings.max_new_tokens;
  f.seed.value = settings.seed ?? "";
  f.variant.value = prefs.variant;
  f.engine.value = prefs.engine ?? "auto";
  $("#temperature-out").textContent = Number(settings.temperature).toFixed(2);
  $("#top_p-out").textContent = Number(settings.top_p).toFixed(2);
  els.modelWhere.textContent = ORIGIN_LABELS[prefs.backend];
}

/** The switch: on this device · onchain fast · onchain verified (kept across reloads). */
function setBackend(value) {
  if (reply || !BACKENDS.includes(value)) return;
  prefs.backend = value;
  save(KEYS.prefs, prefs);
  hideError();
  updateComposer();
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
    top_k: integer("top_k", 0, 50257),
    top_p: Number(f.top_p.value),
    max_new_tokens: integer("max_new_tokens", 1, 1024),
    seed,
  };
}

function onSettingsInput() {
  try {
    settings = readSettings();
    els.settingsError.textContent = "";
    save(KEYS.settings, settings);
  } catch (error) {
    els.settingsError.textContent = error.message; // the last valid settings stay in use
  }
  const f = els.settingsForm.elements;
  $("#temperature-out").textContent = Number(f.temperature.value).toFixed(2);
  $("#top_p-out").textContent = Number(f.top_p.value).toFixed(2);
  const engineChanged = f.engine.value && f.engine.value !== (prefs.engine ?? "auto");
  if ((f.variant.value && f.variant.value !== prefs.variant) || engineChanged) {
    runningEnginePref = prefs.engine ?? "auto";
    prefs.variant = f.variant.value || prefs.variant;
    prefs.engine = f.engine.value || prefs.engine;
    if (worker && ready) {
      ready = false;
      setState("loading");
      setProgress(0);
      updateComposer();
      worker.postMessage({ type: "variant", variant: prefs.variant, engine: prefs.engine });
    }
  }
  save(KEYS.prefs, prefs);
}

function openSettings(open) {
  els.settings.hidden = !open;
  if (open) checkUsage();
  els.settingsToggle.setAttribute("aria-expanded", String(open));
  els.body.classList.toggle("settings-open", open);
}
function closeOverlays() {
  els.body.classList.remove("sidebar-open");
  if (window.matchMedia("(max-width: 820px)").matches) openSettings(false);
}

// --- events --------------------------------------------------------------------------------

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
els.prompt.addEventListener("input", () => {
  autosize();
  save(KEYS.draft, els.prompt.value);
  updateComposer();
});
els.stop.addEventListener("click", stop);
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && reply) stop();
});
els.newChat.addEventListener("click", newChat);
els.menu.addEventListener("click", () => els.body.classList.add("sidebar-open"));
els.sidebarClose.addEventListener("click", closeOverlays);
els.scrim.addEventListener("click", closeOverlays);
els.settingsToggle.addEventListener("click", () => openSettings(els.settings.hidden));
els.settingsClose.addEventListener("click", () => openSettings(false));
els.settingsForm.addEventListener("input", onSettingsInput);
els.settingsForm.addEventListener("submit", (event) => event.preventDefault());
els.settingsReset.addEventListener("click", () => {
  settings = { ...DEFAULT_SETTINGS };
  save(KEYS.settings, settings);
  fillSettings();
  els.settingsError.textContent = "";
});
els.errorRestart.addEventListener("click", () => {
  hideError();
  startWorker();
});
els.errorReload.addEventListener("click", () => location.reload());
els.where.addEventListener("change", (event) => setBackend(event.target.value));
els.deviceNoteOnchain.addEventListener("click", () => setBackend("onchain-fast"));
els.errorDevice.addEventListener("click", () => {
  setBackend("device");
  send(); // the question is back in the box: answer it here
});
els.forget.addEventListener("click", forgetOnchain);
els.usageRefresh.addEventListener("click", () => checkUsage());
els.errorDismiss.addEventListener("click", hideError);
for (const button of document.querySelectorAll(".suggestion")) {
  button.addEventListener("click", () => {
    els.prompt.value = button.textContent;
    autosize();
    updateComposer();
    els.prompt.focus();
  });
}

// --- start ---------------------------------------------------------------------------------

els.scrim.hidden = false; // shown by CSS only while an overlay is open on narrow screens
els.prompt.value = load(KEYS.draft, "");
fillSettings();
openSettings(false);
renderTranscript();
renderConversations();
autosize();
updateComposer();
startWorker();
