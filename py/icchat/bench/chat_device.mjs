// Where an on-device token's time goes: the Python runtime driving web/ort-engine.mjs through
// Pyodide's FFI (icchat.chat.device.DeviceBackend) vs the same decoding loop written in JS, on
// one OrtEngine, runs interleaved. argv: <package dir> <bundle dir> <spec JSON>
// spec = {variant, tokens, repeats, threads, settings: [{name, temperature, top_k, top_p}], sampler: icchat-sampler.wasm's path}
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import * as ort from "onnxruntime-web";
import { loadPyodide } from "pyodide";
import { OrtEngine } from "../../../web/ort-engine.mjs";
import { loadSampler } from "../../../web/sampler.mjs";

const [pkgDir, bundleDir, specJson] = process.argv.slice(2);
const spec = JSON.parse(specJson);
const manifest = JSON.parse(readFileSync(join(bundleDir, "manifest.json"), "utf8"));
const file = manifest.files.find((f) => f.role === "onnx-decoder" && f.variant === spec.variant);
const samplerModule = await WebAssembly.compile(readFileSync(spec.sampler));
const sampler = await loadSampler(samplerModule); // the engine's own (one instance per module)
const engine = await OrtEngine.create(ort, readFileSync(join(bundleDir, file.path)), manifest.model, { threads: spec.threads ?? 1, sampler: samplerModule });

const samplerMs = {};
const samplerRuns = [ // web/sampler.mjs on real logits: [temperature, top_k, top_p]
  ["argmax", [0, 0, 1]],
  ["top_k 40, top_p 0.95", [0.8, 40, 0.95]],
  ["whole vocabulary", [1, 0, 1]],
  ["top_p 0.9", [1, 0, 0.9]],
];

// The JS baseline: the same engine calls as Python's, greedy.
async function jsDecode(prompt, steps, timeSampler) {
  let ids = prompt;
  let position = 0;
  const ms = [];
  for (let step = 0; step <= steps; step++) {
    const start = performance.now();
    await engine.forward(ids, position);
    if (step > 0 && timeSampler) { // what the sampler costs on real logits, called from JS
      for (const [name, [temperature, topK, topP]] of samplerRuns) {
        const logits = engine.logits();
        const t = performance.now();
        sampler.next(logits, temperature, topK, topP, "1", position + ids.length);
        (samplerMs[name] ??= []).push(performance.now() - t);
      }
    }
    const token = engine.next(0, 0, 1, "0", position + ids.length);
    if (step > 0) ms.push(performance.now() - start);
    position += ids.length;
    ids = [token];
  }
  return ms;
}

globalThis.ortEngine = engine;
globalThis.benchSpec = spec;
globalThis.jsDecode = jsDecode;
globalThis.samplerMs = samplerMs;
globalThis.readText = (p) => readFileSync(join(bundleDir, p), "utf8");

const pyodide = await loadPyodide();
pyodide.FS.mkdirTree("/pkg/icchat/chat");
pyodide.FS.writeFile("/pkg/icchat/__init__.py", readFileSync(join(pkgDir, "__init__.py")));
for (const name of readdirSync(join(pkgDir, "chat")).filter((n) => n.endsWith(".py"))) {
  pyodide.FS.writeFile(`/pkg/icchat/chat/${name}`, readFileSync(join(pkgDir, "chat", name)));
}
try {
  const out = await pyodide.runPythonAsync(`
import json, sys, time
sys.path.insert(0, "/pkg")
import js
from pyodide.ffi import to_js
from icchat.chat import ChatRuntime, Conversation, GPT2Tokenizer, Message, Settings
from icchat.chat.device import DeviceBackend

spec = js.benchSpec.to_py()
manifest = json.loads(js.readText("manifest.json"))
runtime = ChatRuntime(GPT2Tokenizer.from_strings(js.readText("vocab.json"), js.readText("merges.txt")))
n_ctx = manifest["model"]["n_ctx"]
conversation = Conversation([Message("user", "Tell me everything you know about the Internet Computer.")])
prompt = runtime.build_prompt(conversation, n_ctx, spec["tokens"]).tokens
runs = []
for repeat in range(spec["repeats"]):
    for s in spec["settings"]:
        settings = Settings(temperature=s["temperature"], top_k=s["top_k"], top_p=s["top_p"],
                            max_new_tokens=spec["tokens"], seed=repeat)
        backend = DeviceBackend(js.ortEngine, n_ctx)  # a fresh one: jsDecode feeds the engine too
        per_token, before = [], {}
        last = time.perf_counter()
        async for event in runtime.reply(conversation, backend, settings):
            now = time.perf_counter()
            step = {k: event.stats.get(k, 0.0) - before.get(k, 0.0)
                    for k in ("python_ms", "run_ms", "runtime_ms", "sample_ms")}
            per_token.append({"wall_ms": (now - last) * 1000.0, **step})
            before, last = event.stats, now
        runs.append({"driver": "python", "settings": s["name"], "stats": event.stats,
                     "per_token": per_token[1:-1], "stop_reason": event.stop_reason})
    js_ms = (await js.jsDecode(to_js(prompt), spec["tokens"] - 1, False)).to_py()
    runs.append({"driver": "js", "settings": "greedy", "token_ms": js_ms})
await js.jsDecode(to_js(prompt), spec["tokens"] - 1, True)
json.dumps({"prompt_tokens": len(prompt), "runs": runs, "sampler_ms": js.samplerMs.to_py()})
`);
  process.stdout.write(out);
} catch (err) {
  process.stderr.write(String(err.message ?? err).slice(-3000));
  process.exit(1);
}
