// icchat.chat.worker.JsChatWorker in Pyodide under Node over the icchat engine (web/engine.mjs):
// the chat worker's Python half with JS objects in and out, as web/worker.js drives it.
// argv: <package files JSON: {"icchat/...py": path}, the wheel's> <icchat-engine.wasm>
//       <canister weight file> <tokenizer dir>
// prints {replies: {whole, stopped}, pauses, plain, refused, service: {asked, answered, failed}}
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
// the LLM service position over a route client of this script (web/llm-route.mjs's shape): the
// request it gets as a plain JS object, the answer as one `done`; a failure the canister turned
// down (lastFailure.refused) is `refused`, one that failed on the way `service`
const asked = [];
const route = {
  lastFailure: null,
  fail: null,
  async call(method, request) {
    asked.push({ method, plain: Object.getPrototypeOf(request) === Object.prototype, request: JSON.parse(JSON.stringify(request)) });
    if (this.fail) {
      this.lastFailure = { refused: this.fail === "refused", line: "no", method };
      throw new Error(this.fail === "refused" ? "LLM route inference is refused to this caller." : "the LLM service did not answer: connection refused");
    }
    return { text: "An answer.", model: "m", via: "endpoint 127.0.0.1:9", cycles: 12345, instructions: 678 };
  },
};
chat.use_llm_service(route, "m");
const service = { asked, answered: [], failed: [] };
await chat.reply("r4", conversation, settings, "llm-service", { cancelled: false }, (m) => service.answered.push(m), async () => {});
for (const fail of ["refused", "down"]) {
  route.fail = fail;
  await chat.reply(`r5-${fail}`, conversation, settings, "llm-service", { cancelled: false }, (m) => service.failed.push(m), async () => {});
}

const isPlain = (m) => Object.getPrototypeOf(m) === Object.prototype && Object.getPrototypeOf(m.stats) === Object.prototype
  && (m.type !== "delta" || Array.isArray(m.tokens));
const out = JSON.stringify({ replies: { whole, stopped }, pauses, plain: [...whole, ...stopped, ...service.answered].every(isPlain), refused, service });
process.stdout.write(out + "\n", () => process.exit(0)); // idle.mjs's MessageChannel would keep Node running
