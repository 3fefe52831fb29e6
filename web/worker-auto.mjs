// auto: which engine decodes faster on this device. With the engine setting on auto and both
// engines able to run the model, a short decode is timed on each (icchat.chat.speed: the same
// request for both) once per model, precision and thread count, as an idle job (idle.mjs); the
// faster engine answers from then on and the page is told the figures (it keeps them: the next
// visit's loader chooses from them). A user's message never waits for it: a decode being timed
// stops within a token and is timed again once the chat is quiet; loading the other engine goes
// on meanwhile (its file comes through the loader thread).

import { chooseEngine, measuredBoth } from "./engine.mjs";
import { yieldToMessages } from "./idle.mjs";
import { ENGINES } from "./protocol.mjs";
import { modelFile } from "./weights.js";

let probes = 0;

/** Whether auto's measurement has work to do for the model running now (`w`: the worker, below).
 * Never on a small device (`w.small`): timing the other engine holds both models at once, and
 * onnxruntime-web alone needs about five times its file (weights.js memoryNeed). */
export function wantsMeasuring(w) {
  const precision = w.model?.precision;
  const key = w.speedKey(precision);
  return w.enginePref === "auto" && !w.small && w.device.available && Boolean(w.model)
    && ENGINES.every((e) => modelFile(w.manifest, precision, e))
    && !measuredBoth(w.speeds[key]) && !w.measureFailed.has(key);
}

/** ms per token of the Python backend `label`, timed while the chat is quiet (again after every
 * interruption); null if the job was called off. */
async function timeBackend(run, chat, label) {
  while (await run.whenIdle()) {
    const ms = await run.hold(chat.measure(label, run, yieldToMessages));
    if (ms) return ms;
  }
  return null;
}

/** The idle job. `w` is the chat worker's state (worker.js): {chat, model, manifest, threads,
 * speeds, speedKey, measureFailed, loader, startModel, useDeviceModel, post, postReady}. */
export function measureJob(w) {
  return async (run) => {
    if (!wantsMeasuring(w)) return;
    const { precision, engine: current } = w.model;
    const key = w.speedKey(precision);
    const other = ENGINES.find((e) => e !== current);
    const label = `probe-${++probes}`; // a backend of its own in Python
    let probe = null;
    try {
      const speeds = { ...w.speeds[key] };
      speeds[current] ??= await timeBackend(run, w.chat, "device");
      if (!speeds[current]) return;
      w.post({ type: "engines", phase: "measuring", engine: other, key, speeds });
      const loaded = await w.loader.model({ precision, engine: other, speeds: {}, threads: w.threads });
      if (loaded.obstacle) throw new Error(loaded.obstacle);
      if (run.stopped) return;
      probe = await w.startModel(precision, loaded, () => {}); // the chat stays usable: no status
      if (run.stopped) return;
      w.chat.use_engine(probe.decoder, label);
      speeds[other] = await timeBackend(run, w.chat, label);
      if (!speeds[other]) return;
      w.speeds[key] = speeds;
      if (chooseEngine("auto", w.manifest, precision, speeds) === other) {
        await w.useDeviceModel(probe);
        probe = null;
      }
      w.postReady({});
      w.post({ type: "engines", phase: "measured", engine: w.model.engine, key, speeds });
    } catch (error) {
      w.measureFailed.add(key); // not again this visit (a model that does not fit twice, say)
      throw error;
    } finally {
      w.chat.drop(label);
      await probe?.decoder.close();
    }
  };
}
