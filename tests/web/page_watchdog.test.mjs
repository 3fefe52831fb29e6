// node --test tests/web/page_watchdog.test.mjs — web/page-watchdog.mjs on a hand-driven clock:
// a phase silent for STALL_SECONDS is a stall naming what it waits for; progress ends it.
import assert from "node:assert/strict";
import { test } from "node:test";

import { STALL_SECONDS, WAITS_FOR, Watchdog } from "../../web/page-watchdog.mjs";
import { STATUS_PHASES } from "../../web/protocol.mjs";

/** setTimeout/clearTimeout over a clock moved by hand: `advance(seconds)` fires what is due. */
function manualTimers() {
  let now = 0;
  let next = 1;
  const due = new Map(); // id -> {at, fn}
  return {
    setTimeout: (fn, ms) => { due.set(next, { at: now + ms, fn }); return next++; },
    clearTimeout: (id) => due.delete(id),
    advance(seconds) {
      now += seconds * 1000;
      for (const [id, { at, fn }] of [...due]) if (at <= now) { due.delete(id); fn(); }
    },
    pending: () => due.size,
  };
}

function watched() {
  const timers = manualTimers();
  const seen = [];
  return { timers, seen, dog: new Watchdog((stall) => seen.push(stall), { timers }) };
}

test("every start-up phase says what it waits for", () => {
  assert.deepEqual(Object.keys(WAITS_FOR), ["start", ...STATUS_PHASES.filter((p) => p !== "ready")]);
  assert.equal(WAITS_FOR.weights, "the model download from the gpt2 canister");
  assert.equal(STALL_SECONDS, 20);
});

test("a worker that says nothing at all stalls in its start", () => {
  const { timers, seen, dog } = watched();
  dog.watch();
  timers.advance(STALL_SECONDS - 1);
  assert.deepEqual(seen, []);
  timers.advance(1);
  assert.deepEqual(seen, [{ phase: "start", waitsFor: "the chat worker to start", seconds: STALL_SECONDS }]);
});

test("progress restarts the wait; the stall names the last phase heard and ends when progress resumes", () => {
  const { timers, seen, dog } = watched();
  dog.watch();
  for (const phase of ["config", "runtime", "weights"]) {
    timers.advance(STALL_SECONDS - 1);
    dog.heard(phase);
  }
  dog.heard(); // a download's progress: the same phase
  timers.advance(STALL_SECONDS - 1);
  assert.deepEqual(seen, []);
  timers.advance(1);
  assert.deepEqual(seen, [{ phase: "weights", waitsFor: "the model download from the gpt2 canister", seconds: STALL_SECONDS }]);
  dog.heard("ready"); // not a phase of its own: the one before goes on
  assert.deepEqual(seen.at(-1), null);
  timers.advance(STALL_SECONDS);
  assert.equal(seen.at(-1).phase, "weights");
  dog.heard("session");
  timers.advance(STALL_SECONDS);
  assert.deepEqual(seen.slice(-2), [null, { phase: "session", waitsFor: "the model to start on this device", seconds: STALL_SECONDS }]);
});

test("once stopped it says nothing more, and what it heard then is ignored", () => {
  const { timers, seen, dog } = watched();
  dog.watch("runtime");
  timers.advance(STALL_SECONDS);
  dog.stop();
  assert.deepEqual(seen, [{ phase: "runtime", waitsFor: "Python and the model runtime", seconds: STALL_SECONDS }, null]);
  dog.heard("weights");
  timers.advance(10 * STALL_SECONDS);
  assert.equal(seen.length, 2);
  assert.equal(timers.pending(), 0);
  dog.watch(); // a restart watches again, from its start
  timers.advance(STALL_SECONDS);
  assert.equal(seen.at(-1).phase, "start");
});
