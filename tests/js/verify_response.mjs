// The official response verifier (@dfinity/response-verification, the library the IC's HTTP
// gateways use) as an oracle for the replica's gateway. Reads JSON cases from stdin:
// [{request: {url, method, headers}, response: {status_code, headers, body_hex},
//   canister_id_hex, now_ns, root_key_hex}] and prints [{ok, error}] in the same order.
import { verifyRequestResponsePair } from "@dfinity/response-verification";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const cases = JSON.parse(Buffer.concat(chunks).toString());
const results = cases.map((c) => {
  try {
    const info = verifyRequestResponsePair(
      { ...c.request, body: new Uint8Array(), certificate_version: [1] },
      { status_code: c.response.status_code, headers: c.response.headers, body: Buffer.from(c.response.body_hex, "hex") },
      Buffer.from(c.canister_id_hex, "hex"), BigInt(c.now_ns), 300_000_000_000n, Buffer.from(c.root_key_hex, "hex"), 1,
    );
    return { ok: info.response !== undefined, version: info.verificationVersion };
  } catch (error) {
    return { ok: false, error: String(error.message ?? error) };
  }
});
console.log(JSON.stringify(results));
