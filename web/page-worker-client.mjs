// The chat worker's client: starts worker.js and is the only place that sends to it or hears from
// it. The messages are web/protocol.mjs's, sent and received as they are.

import { TO_PAGE } from "./protocol.mjs";

let worker = null;

/** (Re)start the worker; every message it (or its loader thread) sends goes to handlers[type],
 * and a crash (an uncaught error in the worker) to onCrash(text). memoryBudget and small: the
 * page's device-fit.mjs verdict. */
export function startWorker({ precision, engine, speeds, identitySeed, memoryBudget, small }, handlers, onCrash) {
  worker?.terminate();
  const receive = ({ data }) => {
    if (TO_PAGE.includes(data?.type)) handlers[data.type](data);
  };
  worker = new Worker(new URL("worker.js", import.meta.url), { type: "module" });
  worker.onmessage = receive;
  worker.onerror = (event) => {
    event.preventDefault?.();
    onCrash(event.message || "the model worker stopped unexpectedly");
  };
  // Download progress comes straight from the loader thread, never queued behind Python's boot.
  const progress = new MessageChannel();
  progress.port1.onmessage = receive;
  worker.postMessage({ type: "init", precision, engine, speeds, debug: location.hash === "#debug", progressPort: progress.port2, identitySeed, pageUrl: location.href, memoryBudget, small }, [progress.port2]);
}

/** The worker is gone for good (it crashed): nothing is sent until the next start. */
export function dropWorker() {
  worker?.terminate();
  worker = null;
}

export const workerStarted = () => worker !== null;

const send = (message) => worker?.postMessage(message);

export const generate = (id, messages, settings, backend) => send({ type: "generate", id, conversation: { messages }, settings, backend });
export const stop = (id) => send({ type: "stop", id });
export const switchModel = (precision, engine) => send({ type: "switch", precision, engine });
export const askUsage = (id) => send({ type: "usage", id });
export const forget = () => send({ type: "forget" });
