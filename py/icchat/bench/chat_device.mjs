// Where an on-device token's time goes: the Python runtime driving onnxruntime-web through
// Pyodide's FFI (icchat.chat.device.OnnxWebBackend) vs the same decoding loop written in JS, on
// one InferenceSession, runs interleaved. argv: <package dir> <bundle dir> <spec JSON>
// spec = {variant, tokens, repeats, threads, settings: [{name, temperature, top_k, top_p}]}
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import * as ort from "onnxruntime-web";
import { loadPyodide } from "pyodide";
import * as kernels from "../../../web/kernels.mjs";

const [pkgDir, bundleDir, specJson] = process.argv.slice(2);
const spec = JSON.parse(specJson);
ort.env.wasm.numThreads = spec.threads ?? 1;
const manifest = JSON.parse(readFileSync(join(bundleDir, "manifest.json"), "utf8"));
const file = manifest.files.find((f) => f.role === "onnx-decoder" && f.variant === spec.variant);
const session = await ort.InferenceSession.create(readFileSync(join(bundleDir, file.path)));
const dims = manifest.model;
const headDim = dims.n_embd / dims.n_head;
const pastNames = [...Array(dims.n_layer).keys()].flatMap((i) => [`past_key_values.${i}.key`, `past_key_values.${i}.value`]);

const kernelMs = {};
const kernelRuns = [
  ["argmax", (d, o, n) => kernels.argmax(d, o, n)],
  ["topk 40", (d, o, n) => kernels.topk(d, o, n, 40)],
  ["sample whole vocabulary", (d, o, n) => kernels.sample(d, o, n, 0, 1.0, 1.0, 0.5)],
  ["sample top_p 0.9", (d, o, n) => kernels.sample(d, o, n, 0, 1.0, 0.9, 0.5)],
];
globalThis.kernelMs = kernelMs;

// The JS baseline: the same feeds, the same greedy/top-k kernels, disposing as Python does.
async function jsDecode(prompt, steps, timeKernels) {
  const int64 = (values) => new ort.Tensor("int64", BigInt64Array.from(values, BigInt), [1, values.length]);
  let past = pastNames.map(() => new ort.Tensor("float32", new Float32Array(0), [1, dims.n_head, 0, headDim]));
  let position = 0;
  let ids = prompt;
  const ms = [];
  for (let step = 0; step <= steps; step++) {
    const start = performance.now();
    const feeds = { input_ids: int64(ids), attention_mask: new ort.Tensor("int64", new BigInt64Array(position + ids.length).fill(1n), [1, position + ids.length]),
      position_ids: int64(ids.map((_, i) => position + i)) };
    pastNames.forEach((n, i) => (feeds[n] = past[i]));
    const out = await session.run(feeds);
    past.forEach((t) => t.dispose());
    past = pastNames.map((n) => out[n.replace("past_key_values", "present")]);
    const row = (out.logits.dims[1] - 1) * dims.vocab_size;
    const token = kernels.argmax(out.logits.data, row, dims.vocab_size);
    const stepMs = performance.now() - start;
    if (step > 0 && timeKernels) {  // what the kernels cost on real logits, called from JS
      for (const [name, run] of kernelRuns) {
        const t = performance.now();
        run(out.logits.data, row, dims.vocab_size);
        (kernelMs[name] ??= []).push(performance.now() - t);
      }
    }
    out.logits.dispose();
    position += ids.length;
    ids = [token];
    if (step > 0) ms.push(stepMs);
  }
  past.forEach((t) => t.dispose());
  return ms;
}

globalThis.ortSession = session;
globalThis.ort = ort;
globalThis.icchatKernels = kernels;
globalThis.benchSpec = spec;
globalThis.jsDecode = jsDecode;
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
from icchat.chat.device import OnnxWebBackend

spec = js.benchSpec.to_py()
manifest = json.loads(js.readText("manifest.json"))
runtime = ChatRuntime(GPT2Tokenizer.from_strings(js.readText("vocab.json"), js.readText("merges.txt")))
backend = OnnxWebBackend(js.ortSession, manifest["model"], js.icchatKernels)
conversation = Conversation([Message("user", "Tell me everything you know about the Internet Computer.")])
prompt = runtime.build_prompt(conversation, backend.n_ctx, spec["tokens"]).tokens
runs = []
for repeat in range(spec["repeats"]):
    for s in spec["settings"]:
        settings = Settings(temperature=s["temperature"], top_k=s["top_k"], top_p=s["top_p"],
                            max_new_tokens=spec["tokens"], seed=repeat)
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
json.dumps({"prompt_tokens": len(prompt), "runs": runs, "kernel_ms": js.kernelMs.to_py()})
`);
  process.stdout.write(out);
} catch (err) {
  process.stderr.write(String(err.message ?? err).slice(-3000));
  process.exit(1);
}
