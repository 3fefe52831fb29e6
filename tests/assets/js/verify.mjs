// The official response verifier (@dfinity/response-verification, what the IC's gateways use) on
// the asset canister's own http_request answers. stdin: JSON [{url, request_headers, version,
// status, headers, body_hex, canister_hex, now, root_key_hex}]; stdout: [{ok, version, status, error}].
import { verifyRequestResponsePair } from "@dfinity/response-verification";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const hex = (h) => Uint8Array.from(Buffer.from(h, "hex"));
const cases = JSON.parse(Buffer.concat(chunks).toString());
console.log(JSON.stringify(cases.map((c) => {
  try {
    const info = verifyRequestResponsePair(
      { url: c.url, method: "GET", headers: c.request_headers, body: new Uint8Array(), certificate_version: [c.version] },
      { status_code: c.status, headers: c.headers, body: hex(c.body_hex) },
      hex(c.canister_hex), BigInt(c.now), 300_000_000_000n, hex(c.root_key_hex), c.version);
    return { ok: info.response !== undefined, version: info.verificationVersion, status: info.response?.statusCode };
  } catch (error) {
    return { ok: false, error: String(error.message ?? error) };
  }
})));
