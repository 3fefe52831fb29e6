// Run icchat.chat.tokenizer inside Pyodide (Python 3.14, stdlib only) under Node.
// argv: <package dir (py/icchat)> <tokenizer dir> <texts.json> -> prints {"version", "ids"} JSON.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { loadPyodide } from "pyodide";

const [pkgDir, tokDir, textsPath] = process.argv.slice(2);
const pyodide = await loadPyodide();
const fs = pyodide.FS;
fs.mkdirTree("/pkg/icchat/chat");
fs.writeFile("/pkg/icchat/__init__.py", readFileSync(join(pkgDir, "__init__.py")));
for (const name of readdirSync(join(pkgDir, "chat")).filter((n) => n.endsWith(".py"))) {
  fs.writeFile(`/pkg/icchat/chat/${name}`, readFileSync(join(pkgDir, "chat", name)));
}
fs.mkdirTree("/tok");
for (const name of ["vocab.json", "merges.txt"]) {
  fs.writeFile(`/tok/${name}`, readFileSync(join(tokDir, name)));
}
fs.writeFile("/texts.json", readFileSync(textsPath));
const out = pyodide.runPython(`
import json, sys
sys.path.insert(0, "/pkg")
from icchat.chat.tokenizer import GPT2Tokenizer
tok = GPT2Tokenizer.from_dir("/tok")
texts = json.load(open("/texts.json"))
json.dumps({"version": sys.version, "ids": [tok.encode(t) for t in texts],
            "roundtrip": all(tok.decode(tok.encode(t)) == t for t in texts)})
`);
process.stdout.write(out);
