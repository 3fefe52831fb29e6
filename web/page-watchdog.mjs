// The start-up watchdog: while the page starts (or the on-device model still loads after onchain
// answers began), a wait that hears nothing from the worker for STALL_SECONDS is a stall, said
// with what it waits for; any progress ends it. The page shows it with its ways out
// (page-render.mjs renderStall). Timers are passed in, so Node's tests drive it without waiting.

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

/** The device model's phases: they run beside the chat's, and alone after onchain's `ready`. */
const DEVICE_PHASES = new Set(["weights", "session"]);

export class Watchdog {
  /** onChange(stall): a stall {phase, waitsFor, seconds} began, or (null) it ended. */
  constructor(onChange, { seconds = STALL_SECONDS, timers = globalThis } = {}) {
    this.onChange = onChange;
    this.seconds = seconds;
    this.timers = timers;
    this.watching = false;
    this.chatPhase = "start"; // until the first `ready`, the chat is what start-up waits for
    this.devicePhase = "weights";
    this.chatStarted = false; // onchain's `ready` came: only the device model is waited for
    this.stalled = false;
    this.timer = 0;
  }

  /** Watch from now on, from the start (a start or a restart of the worker). */
  watch() {
    Object.assign(this, { watching: true, chatPhase: "start", devicePhase: "weights", chatStarted: false });
    this.#arm();
  }

  /** The worker made progress (in `phase`, when it says which): the wait starts again. */
  heard(phase) {
    if (!this.watching) return;
    if (DEVICE_PHASES.has(phase)) this.devicePhase = phase;
    else if (phase in WAITS_FOR) this.chatPhase = phase;
    this.#arm();
  }

  /** The chat runs (a first `ready`, the device model still loading): the device is waited for. */
  chatReady() {
    if (!this.watching) return;
    this.chatStarted = true;
    this.#arm();
  }

  /** Nothing to wait for any more (the page started, or stopped for good). */
  stop() {
    this.watching = false;
    this.timers.clearTimeout(this.timer);
    this.#settle(false);
  }

  /** The phase a stall now would be in. */
  get phase() {
    return this.chatStarted ? this.devicePhase : this.chatPhase;
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
