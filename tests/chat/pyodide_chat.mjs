// Run icchat.chat (runtime, DeviceBackend, sampler) inside Pyodide (Python 3.14) under Node, over
// web/ort-engine.mjs with onnxruntime-web's WASM backend: the page's stack without the page.
// argv: <package dir (py/icchat)> <bundle dir> <chat_cases.py> <spec JSON>
// spec = {"variants": [...], "threads": 1, "vocab": n, "rows": n, "timing": {...} | null, "sampler": icchat-sampler.wasm's path}
// prints {"version", "sampler": {js, python}, "replies": {variant: [...]}, "timing": {...}}.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import * as ort from "onnxruntime-web";
import { loadPyodide } from "pyodide";
import { OrtEngine } from "../../web/ort-engine.mjs";
import { loadSampler } from "../../web/sampler.mjs";

const [pkgDir, bundleDir, casesPath, specJson] = process.argv.slice(2);
const spec = JSON.parse(specJson);
const manifest = JSON.parse(readFileSync(join(bundleDir, "manifest.json"), "utf8"));
globalThis.readBundleFile = (path) => new Uint8Array(readFileSync(join(bundleDir, path)));
globalThis.chatSpec = spec;
const samplerModule = await WebAssembly.compile(readFileSync(spec.sampler));
const sampler = await loadSampler(samplerModule); // the engines' own (one instance per module)
// the engine for a bundle file (or any bytes), as the worker creates it
globalThis.createEngine = (bytes) => OrtEngine.create(ort, bytes, manifest.model, { threads: spec.threads ?? 1, sampler: samplerModule });
// web/sampler.mjs over a row
globalThis.sampleInJs = (row, temperature, topK, topP, seed, position) => sampler.next(row, temperature, topK, topP, seed, position);

const pyodide = await loadPyodide();
const fs = pyodide.FS;
fs.mkdirTree("/pkg/icchat/chat");
fs.writeFile("/pkg/icchat/__init__.py", readFileSync(join(pkgDir, "__init__.py")));
for (const name of readdirSync(join(pkgDir, "chat")).filter((n) => n.endsWith(".py"))) {
  fs.writeFile(`/pkg/icchat/chat/${name}`, readFileSync(join(pkgDir, "chat", name)));
}
fs.writeFile("/pkg/chat_cases.py", readFileSync(casesPath));
let out;
try {
  out = await pyodide.runPythonAsync(`
import json, sys
sys.path.insert(0, "/pkg")
import js
from pyodide.ffi import to_js
from chat_cases import cancelled_reply, failing_replies, logit_rows, reply_tokens, sampler_tokens
from icchat.chat import ChatRuntime, Conversation, GPT2Tokenizer, Message, Settings, next_token
from icchat.chat.device import DeviceBackend

spec = js.chatSpec.to_py()
text = lambda p: bytes(js.readBundleFile(p).to_py()).decode()
manifest = json.loads(text("manifest.json"))
n_ctx = manifest["model"]["n_ctx"]
rows = logit_rows(spec["vocab"], spec["rows"])
js_rows = {id(r): js.Float32Array.new(to_js(r.tolist())) for r in rows}
sampler = {"js": sampler_tokens(rows, lambda r, *settings: js.sampleInJs(js_rows[id(r)], *settings[:3], str(settings[3]), settings[4])),
           "python": sampler_tokens(rows, next_token)}
runtime = ChatRuntime(GPT2Tokenizer.from_strings(text("vocab.json"), text("merges.txt")))
replies, timing = {}, None
for variant in spec["variants"]:
    path = next(f["path"] for f in manifest["files"] if f["role"] == "onnx-decoder" and f["variant"] == variant)
    backend = DeviceBackend(await js.createEngine(js.readBundleFile(path)), n_ctx)
    replies[variant] = await reply_tokens(runtime, backend)
    replies[variant + ":cancelled"] = await cancelled_reply(runtime, backend)
    if variant == spec["variants"][0]:
        closed = await js.createEngine(js.readBundleFile(path))
        await closed.close()
        replies["failures"] = await failing_replies(
            runtime, lambda: js.createEngine(to_js(b"this is not an onnx file")), DeviceBackend(closed, n_ctx))
    if spec.get("timing"):  # one long reply: where a token's time goes
        t = spec["timing"]
        conversation = Conversation([Message("user", "Tell me everything about the Internet Computer.")])
        settings = Settings(temperature=t["temperature"], top_k=t["top_k"], top_p=t["top_p"],
                            max_new_tokens=t["tokens"], seed=1)
        async for event in runtime.reply(conversation, backend, settings):
            pass
        timing = event.stats
json.dumps({"version": sys.version, "sampler": sampler, "replies": replies, "timing": timing})
`);
} catch (err) {
  process.stderr.write(String(err.message ?? err).slice(-3000));
  process.exit(1);
}
process.stdout.write(out);
