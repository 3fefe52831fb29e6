// The chat worker's one idle scheduler: the work done only while nobody waits for the chat
// (auto's engine measurement, worker-auto.mjs; the interpreter snapshot, python-snapshot.mjs)
// runs one job at a time, after the chat has been quiet for QUIET_MS, and lets go at once when
// a reply or a switch starts: `await idle.busy()` returns once no job is using the engine.
//
// A job is `async (run) => {}`; `run` gives it:
//   run.whenIdle()   resolves true once the chat has been quiet for QUIET_MS (at once if it is),
//                    false if the job was called off meanwhile
//   run.cancelled    true once the chat is busy or the job is called off (read at every token)
//   run.stopped      true once the job is called off (`callOff`)
//   run.hold(p)      the engine is in use until the promise p settles: busy() waits for it
//   run.onBusy(fn)   fn() runs when the chat becomes busy while the job runs (stop a thread)

export const QUIET_MS = 3000;

/** A round trip through this worker's message queue: messages that arrived meanwhile (a `stop`,
 * a `generate`) are handled before it resolves. No clamp: setTimeout would wait >= 4 ms. */
export function yieldToMessages() {
  return new Promise((resolve) => {
    waiting.push(resolve);
    channel().port2.postMessage(0);
  });
}
const waiting = [];
let port = null; // made at the first yield (a module that only imports this keeps no port open)
function channel() {
  if (!port) {
    port = new MessageChannel();
    port.port1.onmessage = () => waiting.shift()?.();
  }
  return port;
}

export class IdleScheduler {
  constructor(quietMs = QUIET_MS) {
    this.quietMs = quietMs;
    this.working = false; // a reply or a switch is running
    this.quietSince = performance.now();
    this.jobs = []; // {name, job, run} waiting their turn
    this.current = null; // the run of the job running
    this.timer = 0;
    this.waiters = new Set(); // {run, resolve} waiting for quiet
  }

  /** Run `job` once the jobs before it are done (`name`: for callOff). */
  add(name, job) {
    const run = this.#newRun();
    this.jobs.push({ name, job, run });
    this.#next();
    return run;
  }

  /** Call off the job `name`, queued or running: it stops within a token. */
  callOff(name) {
    for (const entry of this.jobs.filter((j) => j.name === name)) this.#stop(entry.run);
    this.jobs = this.jobs.filter((j) => j.name !== name);
    if (this.current?.name === name) this.#stop(this.current);
  }

  /** A reply or a switch starts: the running job lets go of the engine (returns when it has). */
  async busy() {
    this.working = true;
    clearTimeout(this.timer);
    const run = this.current;
    if (!run) return;
    for (const fn of run.busyHandlers) fn();
    await run.held;
  }

  /** The reply or switch ended: the chat is quiet from now on. */
  quiet() {
    this.working = false;
    this.quietSince = performance.now();
    this.#arm();
  }

  #newRun() {
    const scheduler = this;
    const run = {
      name: null,
      stopped: false,
      held: Promise.resolve(),
      busyHandlers: [],
      get cancelled() { return run.stopped || scheduler.working; },
      whenIdle: () => scheduler.#whenIdle(run),
      hold: (promise) => { run.held = promise.then(() => {}, () => {}); return promise; },
      onBusy: (fn) => run.busyHandlers.push(fn),
    };
    return run;
  }

  #stop(run) {
    run.stopped = true;
    for (const waiter of [...this.waiters].filter((w) => w.run === run)) {
      this.waiters.delete(waiter);
      waiter.resolve(false);
    }
  }

  async #next() {
    if (this.current || !this.jobs.length) return;
    const { name, job, run } = this.jobs.shift();
    run.name = name;
    this.current = run;
    try {
      await job(run);
    } catch (error) {
      console.warn(`${name} failed:`, error?.message ?? error);
    } finally {
      this.current = null;
      this.#next();
    }
  }

  #whenIdle(run) {
    if (run.stopped) return Promise.resolve(false);
    if (!this.working && performance.now() - this.quietSince >= this.quietMs) return Promise.resolve(true);
    return new Promise((resolve) => {
      this.waiters.add({ run, resolve });
      this.#arm();
    });
  }

  /** Wake the waiters once the chat has been quiet long enough. */
  #arm() {
    clearTimeout(this.timer);
    if (this.working || !this.waiters.size) return;
    const left = this.quietMs - (performance.now() - this.quietSince);
    this.timer = setTimeout(() => {
      if (this.working) return;
      for (const waiter of this.waiters) waiter.resolve(true);
      this.waiters.clear();
    }, Math.max(0, left));
  }
}
