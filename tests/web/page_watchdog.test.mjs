// node --test tests/web/page_watchdog.test.mjs — web/page-watchdog.mjs on a hand-driven clock:
// a wait silent for STALL_SECONDS is a stall naming what it waits for; progress ends it.
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
  const dog = new Watchdog((stall) => seen.push(stall), { timers });
  dog.watch();
  return { timers, seen, dog };
}

const stall = (phase) => ({ phase, waitsFor: WAITS_FOR[phase], seconds: STALL_SECONDS });

test("every start-up phase says what it waits for", () => {
  assert.deepEqual(Object.keys(WAITS_FOR), ["start", ...STATUS_PHASES.filter((p) => p !== "ready")]);
  assert.equal(WAITS_FOR.weights, "the model download from the gpt2 canister");
  assert.equal(STALL_SECONDS, 20);
});

test("a worker that says nothing at all stalls in its start", () => {
  const { timers, seen } = watched();
  timers.advance(STALL_SECONDS - 1);
  assert.deepEqual(seen, []);
  timers.advance(1);
  assert.deepEqual(seen, [stall("start")]);
});

test("before onchain's ready the chat is waited for, after it the device model; progress ends a stall", () => {
  const { timers, seen, dog } = watched();
  for (const phase of ["config", "runtime", "weights"]) {
    timers.advance(STALL_SECONDS - 1);
    dog.heard(phase);
  }
  dog.heard(); // a download's progress
  timers.advance(STALL_SECONDS - 1);
  assert.deepEqual(seen, []);
  timers.advance(1);
  assert.deepEqual(seen, [stall("runtime")]); // the download went on: Python did not
  dog.heard("python");
  assert.deepEqual(seen.at(-1), null);
  timers.advance(STALL_SECONDS);
  assert.deepEqual(seen.at(-1), stall("python"));
  dog.chatReady();
  assert.deepEqual(seen.at(-1), null);
  timers.advance(STALL_SECONDS);
  assert.deepEqual(seen.at(-1), stall("weights"));
  dog.heard("session");
  timers.advance(STALL_SECONDS);
  assert.deepEqual(seen.slice(-2), [null, stall("session")]);
});

test("once stopped it says nothing more; a restart watches from the start again", () => {
  const { timers, seen, dog } = watched();
  dog.heard("runtime");
  timers.advance(STALL_SECONDS);
  dog.stop();
  assert.deepEqual(seen, [stall("runtime"), null]);
  dog.heard("weights");
  dog.chatReady();
  timers.advance(10 * STALL_SECONDS);
  assert.equal(seen.length, 2);
  assert.equal(timers.pending(), 0);
  dog.watch();
  timers.advance(STALL_SECONDS);
  assert.deepEqual(seen.at(-1), stall("start"));
});
