// The chat: the conversations (new, open, delete), the composer, and the answer being written,
// from the question sent to the worker to its `delta`s and its `done` (or its failure).

import { els } from "./page-dom.mjs";
import { closeOverlays, hideError, messageNode, renderControls, renderConversations, renderMessage, renderTranscript, scrollToEnd, setRestingState, setState, showHint, showSpeed } from "./page-render.mjs";
import { state, takesMessagesFor } from "./page-state.mjs";
import { saveConversations, saveDraft, savePrefs } from "./page-store.mjs";
import * as worker from "./page-worker-client.mjs";
import { BACKENDS } from "./protocol.mjs";

// Drawing every token (the text's layout, the scroll, the speed) took the CPU the model runs on:
// on 2 cores the icchat engine wrote a token in 15.9 ms with every token drawn, 14.0 ms drawn at
// most every 50 ms, 12.4 ms undrawn. At most 20 draws a second look the same to a reader.
const DRAW_EVERY_MS = 50;

const newId = () => (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random());

function currentConversation() {
  const conversations = state.conversations;
  let conversation = conversations.list.find((c) => c.id === conversations.current);
  if (!conversation) {
    conversation = { id: newId(), title: "", created: Date.now(), updated: Date.now(), messages: [] };
    conversations.list.unshift(conversation);
    conversations.current = conversation.id;
  }
  return conversation;
}

/** The current conversation and the sidebar's list, drawn anew. */
export function renderChat() {
  renderTranscript(currentConversation());
  renderConversations({ open: openConversation, remove: deleteConversation });
}

function openConversation(id) {
  if (state.reply || state.pending) return; // finish or stop the answer (or the waiting message) first
  state.conversations.current = id;
  saveConversations(state.conversations);
  renderChat();
  closeOverlays();
}

function deleteConversation(id) {
  if ((state.reply && state.reply.conversation.id === id) || state.pending === id) return;
  const conversations = state.conversations;
  conversations.list = conversations.list.filter((c) => c.id !== id);
  if (conversations.current === id) conversations.current = conversations.list[0]?.id ?? null;
  saveConversations(conversations);
  renderChat();
}

export function newChat() {
  if (state.reply || state.pending) return;
  const conversations = state.conversations;
  const current = conversations.list.find((c) => c.id === conversations.current);
  if (!current || current.messages.length > 0) {
    conversations.current = null;
    currentConversation();
    saveConversations(conversations);
    renderChat();
  }
  closeOverlays();
  els.prompt.focus();
}

/** The switch: on this device · onchain fast · onchain verified (kept across reloads). */
export function setBackend(value) {
  if (state.reply || !BACKENDS.includes(value)) return;
  state.prefs.backend = value;
  savePrefs(state.prefs);
  hideError();
  renderControls();
  answerPending(); // a message waiting for the model: answered now if this backend can
}

export function autosize() {
  els.prompt.style.height = "auto";
  els.prompt.style.height = `${Math.min(els.prompt.scrollHeight, window.innerHeight * 0.4)}px`;
}

/** The box's text: kept as the draft, and the controls follow it. */
export function onPromptInput() {
  autosize();
  saveDraft(els.prompt.value);
  renderControls();
}

/** Whether the backend the user chose can answer now. */
const canAnswer = () => state.ready && state.available.includes(state.prefs.backend);

/** The box's text, sent: answered at once when the chosen backend can answer; taken as the
 * pending message while the page is still starting, or the device model still loads (answered by
 * `answerPending` once it can); refused, with the reason in the hint, while a message already waits. */
export function send() {
  const text = els.prompt.value.trim();
  if (!text || state.reply || state.stopped) return;
  if (state.pending) {
    showHint("One message already waits for the model: this one stays in the box until it is answered (Stop cancels the waiting one).");
    return;
  }
  const waits = !canAnswer();
  if (waits && !takesMessagesFor(state.prefs.backend)) return; // this backend cannot answer here (the Send button says so)
  hideError();
  const conversation = currentConversation();
  const user = waits ? { role: "user", text, pending: true } : { role: "user", text };
  conversation.messages.push(user);
  conversation.updated = Date.now();
  if (!conversation.title) conversation.title = text.slice(0, 60);
  saveConversations(state.conversations);
  els.empty.hidden = true;
  els.messages.append(renderMessage(user));
  const userText = els.prompt.value;
  els.prompt.value = "";
  autosize();
  saveDraft("");
  if (waits) {
    state.pending = conversation.id;
    renderControls();
    renderConversations({ open: openConversation, remove: deleteConversation });
    scrollToEnd();
    return;
  }
  startReply(conversation, userText);
}

/** The pending message, no longer waiting: stored and drawn as a plain user message. Its
 * conversation, or null if none waits. */
function takePending() {
  const conversation = state.conversations.list.find((c) => c.id === state.pending);
  const user = conversation?.messages.at(-1);
  state.pending = null;
  if (!user?.pending) return null;
  delete user.pending;
  saveConversations(state.conversations);
  const node = els.messages.querySelector(".msg.user[data-state=pending]");
  if (node) renderMessage(user, node);
  return conversation;
}

/** The pending message, answered now if the chosen backend can (after `ready`, or a switch to a
 * backend that can answer). */
export function answerPending() {
  if (!state.pending || state.reply || !canAnswer()) return;
  const conversation = takePending();
  if (conversation) startReply(conversation, conversation.messages.at(-1).text);
  else renderControls();
}

/** The pending message, cancelled (Stop): it stays in its conversation as the user's, unanswered. */
function cancelPending() {
  takePending();
  renderControls();
}

/** The answer to `conversation`'s last message (the user's `userText`), asked of the worker. */
function startReply(conversation, userText) {
  const { prefs, settings } = state;
  hideError();
  const node = messageNode("assistant");
  node.dataset.state = "waiting";
  els.messages.append(node);
  if (prefs.backend.startsWith("onchain") && !prefs.onchainUsed) {
    prefs.onchainUsed = true; // the conversation goes to the canister now: offer to forget it
    savePrefs(prefs);
  }
  state.reply = { id: newId(), conversation, userText, node, textNode: node.querySelector(".text"), text: "", tokens: 0, ids: [], deltas: 0, tokensPerSecond: 0, backend: prefs.backend, drawTimer: 0, drawnAt: 0 };
  setState("generating");
  showSpeed(0);
  renderControls();
  renderConversations({ open: openConversation, remove: deleteConversation });
  scrollToEnd();
  worker.generate(
    state.reply.id,
    conversation.messages.map(({ role, text: t, origin }) => (origin ? { role, text: t, origin } : { role, text: t })),
    // An empty seed means a fresh one per answer; it is picked here (below 2^32, exact in JSON
    // both ways) so the answer can show it and be reproduced.
    { ...settings, seed: settings.seed ?? crypto.getRandomValues(new Uint32Array(1))[0] },
    prefs.backend,
  );
}

/** Stop the answer being written (the worker answers with its `done`, stop_reason "cancelled"),
 * or cancel the message waiting for the model. The LLM service's call, once sent, cannot be
 * called back: the page says so while it waits for the answer it will discard. */
export function stop() {
  const reply = state.reply;
  if (reply) {
    worker.stop(reply.id);
    if (reply.backend === "llm-service" && reply.node.dataset.state === "waiting") {
      reply.node.dataset.state = "stopping";
      reply.textNode.textContent = "Stopped: the request to the service cannot be called back; its answer will be discarded when it comes.";
    }
  } else if (state.pending) cancelPending();
}

/** The answer failed: take the question back out of the conversation and into the box. */
export function failReply() {
  if (!state.reply) return;
  const { conversation, userText, node } = state.reply;
  const last = conversation.messages[conversation.messages.length - 1];
  if (last?.role === "user") conversation.messages.pop();
  saveConversations(state.conversations);
  node.previousElementSibling?.remove();
  node.remove();
  const typed = els.prompt.value;
  els.prompt.value = typed ? `${userText}\n${typed}` : userText;
  saveDraft(els.prompt.value);
  autosize();
  state.reply = null;
  els.empty.hidden = conversation.messages.length > 0;
  renderControls();
}

/** The worker's `delta`: text and tokens that arrived for the answer being written. */
export function onDelta({ id, text_delta, tokens, stats }) {
  const reply = state.reply;
  if (!reply || reply.id !== id) return;
  reply.text += text_delta;
  reply.tokens += tokens.length;
  reply.ids.push(...tokens);
  reply.deltas += 1;
  reply.tokensPerSecond = stats.tokens_per_s;
  reply.node.dataset.deltas = String(reply.deltas); // what has arrived (tests read it); cheap, unlike the text's layout
  if (reply.node.dataset.state !== "streaming") reply.node.dataset.state = "streaming";
  reply.node.dataset.tokens = String(reply.tokens);
  // the first token is drawn at once, later ones at most every DRAW_EVERY_MS
  reply.drawTimer ||= setTimeout(drawReply, reply.drawnAt ? DRAW_EVERY_MS : 0, reply);
}

/** Show what the streaming reply `r` has so far: its text and the speed. */
function drawReply(r) {
  r.drawTimer = 0;
  if (state.reply !== r) return; // done or failed meanwhile: drawn by renderMessage, or removed
  r.drawnAt = performance.now();
  r.textNode.textContent = r.text;
  showSpeed(r.tokensPerSecond);
  scrollToEnd();
}

/** Share of the reply's time spent in Python (backend + runtime), the rest is the model. */
function pythonShare(stats) {
  const py = (stats.python_ms ?? 0) + (stats.runtime_ms ?? 0);
  const total = stats.seconds ? stats.seconds * 1000 : 0;
  return py > 0 && total > 0 ? py / total : null;
}

/** The worker's `done`: the answer is stored in its conversation and drawn finished. False if
 * it was not the answer being written (one that failed meanwhile). */
export function onDone({ id, text, origin, stop_reason, trimmed_turns, stats }) {
  const reply = state.reply;
  if (!reply || reply.id !== id) return false;
  const entry = {
    role: "assistant", text, origin,
    stats: { tokens: reply.tokens, tokens_per_s: stats.tokens_per_s || null, stop_reason, seed: Number.isSafeInteger(stats.seed) ? stats.seed : null, python_share: pythonShare(stats), trimmed_turns },
  };
  if (origin === "llm-service") {
    const { model, via, cycles, instructions, calls, discarded } = stats;
    Object.assign(entry.stats, { model, via, cycles: cycles ?? null, instructions: instructions ?? 0, calls: calls ?? 0, ...(discarded ? { discarded } : {}) });
  } else if (origin !== "device") {
    Object.assign(entry.stats, { calls: stats.calls ?? 0, updates: stats.updates ?? 0, queries: stats.queries ?? 0, instructions: stats.instructions ?? 0, cycles: stats.mainnet_cycles ?? null, prices_read_on: state.prices?.read_on ?? null });
  }
  reply.conversation.messages.push(entry);
  reply.conversation.updated = Date.now();
  saveConversations(state.conversations);
  saveDraft(els.prompt.value);
  renderMessage(entry, reply.node);
  scrollToEnd(); // the whole answer in view: the LLM service's comes in one piece, with no delta drawn before
  clearTimeout(reply.drawTimer);
  reply.node.dataset.tokenIds = JSON.stringify(reply.ids); // this answer's token ids (tests compare them)
  reply.node.dataset.deltas = String(reply.deltas);
  if (entry.stats.tokens_per_s) showSpeed(entry.stats.tokens_per_s);
  state.reply = null;
  setRestingState();
  renderConversations({ open: openConversation, remove: deleteConversation });
  renderControls();
  return true;
}
