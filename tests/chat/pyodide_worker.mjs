// icchat.chat.worker.JsChatWorker in Pyodide under Node over the icchat engine (web/engine.mjs):
// the chat worker's Python half with JS objects in and out, as web/worker.js drives it.
// argv: <package files JSON: {"icchat/...py": path}, the wheel's> <icchat-engine.wasm>
//       <canister weight file> <tokenizer dir>
// prints {replies: {whole, stopped}, pauses, plain, refused}
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { loadPyodide } from "pyodide";
import { Engine } from "../../web/engine.mjs";
import { yieldToMessages } from "../../web/idle.mjs";

const [filesJson, wasmPath, weightsPath, tokenizerDir] = process.argv.slice(2);
const engine = await Engine.create(new WebAssembly.Module(readFileSync(wasmPath)), readFileSync(weightsPath));
const pyodide = await loadPyodide();
for (const [name, path] of Object.entries(JSON.parse(filesJson))) {
  pyodide.FS.mkdirTree(dirname(`/pkg/${name}`));
  pyodide.FS.writeFile(`/pkg/${name}`, readFileSync(path));
}
const JsChatWorker = pyodide.runPython('import sys; sys.path.insert(0, "/pkg")\nfrom icchat.chat.worker import JsChatWorker\nJsChatWorker');
const text = (name) => readFileSync(join(tokenizerDir, name), "utf8");
const chat = JsChatWorker(text("vocab.json"), text("merges.txt"), { model: { n_ctx: engine.info.n_ctx } });
chat.use_engine(engine);

const conversation = { messages: [{ role: "user", text: "Hello there, how are you today?" }] };
const settings = { temperature: 0.8, top_k: 40, top_p: 0.95, max_new_tokens: 16, seed: 7 };
let pauses = 0;
const whole = [];
await chat.reply("r1", conversation, settings, "device", { cancelled: false }, (m) => whole.push(m), async () => { pauses += 1; });

// a stop arriving as a message while the reply yields (idle.mjs's round trip, as the worker's
// generate does): it lands before the next token
const stopped = [];
const reply = { cancelled: false };
const { port1, port2 } = new MessageChannel();
port1.onmessage = () => { reply.cancelled = true; };
const post = (m) => {
  stopped.push(m);
  if (m.type === "delta" && stopped.length === 2) port2.postMessage("stop");
};
await chat.reply("r2", conversation, { ...settings, temperature: 0, max_new_tokens: 40 }, "device", reply, post, yieldToMessages);
port1.close();

let refused = null;
try {
  await chat.reply("r3", conversation, settings, "onchain-fast", { cancelled: false }, () => {}, async () => {});
} catch (error) {
  refused = String(error.message).trim().split("\n").pop();
}
const isPlain = (m) => Object.getPrototypeOf(m) === Object.prototype && Object.getPrototypeOf(m.stats) === Object.prototype
  && (m.type !== "delta" || Array.isArray(m.tokens));
const out = JSON.stringify({ replies: { whole, stopped }, pauses, plain: [...whole, ...stopped].every(isPlain), refused });
process.stdout.write(out + "\n", () => process.exit(0)); // idle.mjs's MessageChannel would keep Node running
