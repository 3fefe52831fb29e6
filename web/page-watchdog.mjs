// The start-up watchdog: while the page starts (or the on-device model still loads after onchain
// answers began), a phase that hears nothing from the worker for STALL_SECONDS is a stall, said
// with what the phase waits for; any progress ends it. The page shows it with its ways out
// (page-render.mjs showStall). Timers are passed in, so Node's tests drive it without waiting.

export const STALL_SECONDS = 20;

/** What each start-up phase (the worker's `status` phases, web/protocol.mjs) waits for; "start":
 * before the worker has said anything (its module may not even have loaded). */
export const WAITS_FOR = {
  start: "the chat worker to start",
  config: "the page configuration from the asset canister",
  runtime: "Python and the model runtime",
  weights: "the model download from the gpt2 canister",
  session: "the model to start on this device",
  python: "the chat runtime",
};

export class Watchdog {
  /** onChange(stall): a stall {phase, waitsFor, seconds} began, or (null) it ended. */
  constructor(onChange, { seconds = STALL_SECONDS, timers = globalThis } = {}) {
    this.onChange = onChange;
    this.seconds = seconds;
    this.timers = timers;
    this.phase = null; // the phase watched; null: nothing is
    this.stalled = false;
    this.timer = 0;
  }

  /** Watch from now on, from `phase` (a start or a restart of the worker). */
  watch(phase = "start") {
    this.phase = phase;
    this.#arm();
  }

  /** The worker made progress (in `phase`, when it says which): the wait starts again. */
  heard(phase = this.phase) {
    if (this.phase === null) return;
    if (phase in WAITS_FOR) this.phase = phase;
    this.#arm();
  }

  /** Nothing to wait for any more (the page started, or stopped for good). */
  stop() {
    this.phase = null;
    this.timers.clearTimeout(this.timer);
    this.#settle(false);
  }

  #arm() {
    this.timers.clearTimeout(this.timer);
    this.#settle(false);
    this.timer = this.timers.setTimeout(() => this.#settle(true), this.seconds * 1000);
  }

  #settle(stalled) {
    if (stalled === this.stalled) return;
    this.stalled = stalled;
    this.onChange(stalled ? { phase: this.phase, waitsFor: WAITS_FOR[this.phase], seconds: this.seconds } : null);
  }
}
