// Principal peer: textual forms and self-authenticating ids per @icp-sdk/core.
// stdin: {"raw": [hex...], "der": [hex...], "text": [string...]}
// stdout: {"raw": [text...], "der": [text...], "text": [hex or {"error": msg}...]}
import { readFileSync } from 'node:fs';
import { Principal } from '@icp-sdk/core/principal';

const input = JSON.parse(readFileSync(0, 'utf8'));
const unhex = (s) => new Uint8Array(Buffer.from(s, 'hex'));
const hex = (u8) => Buffer.from(u8).toString('hex');
process.stdout.write(JSON.stringify({
  raw: input.raw.map((h) => Principal.fromUint8Array(unhex(h)).toText()),
  der: input.der.map((h) => Principal.selfAuthenticating(unhex(h)).toText()),
  text: input.text.map((t) => {
    try {
      return hex(Principal.fromText(t).toUint8Array());
    } catch (e) {
      return { error: String(e.message || e) };
    }
  }),
}));
