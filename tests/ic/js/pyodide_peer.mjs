// Runs Python in Pyodide (the browser's Python, 3.14, stdlib only) under Node.
// stdin: {"files": {"icchat/ic/x.py": "source", ...}, "code": "python source defining RESULT"}
// stdout: {"result": RESULT as JSON, "version": "3.x.y"} or {"error": traceback}
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';

const require = createRequire(import.meta.url);
const { loadPyodide } = await import('pyodide');
const input = JSON.parse(readFileSync(0, 'utf8'));
const pyodide = await loadPyodide({ indexURL: dirname(require.resolve('pyodide/package.json')) + '/' });
for (const [path, source] of Object.entries(input.files)) {
  pyodide.FS.mkdirTree('/pkg/' + dirname(path));
  pyodide.FS.writeFile('/pkg/' + path, source);
}
try {
  pyodide.runPython('import sys, json; sys.path.insert(0, "/pkg")\n' + input.code);
  const result = pyodide.runPython('json.dumps(RESULT)');
  process.stdout.write(JSON.stringify({ result: JSON.parse(result), version: pyodide.runPython('sys.version.split()[0]') }));
} catch (e) {
  process.stdout.write(JSON.stringify({ error: String(e) }));
}
