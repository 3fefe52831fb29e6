// Certificate / hash tree peer: what @icp-sdk/core's agent makes of our certificates and trees.
// stdin:  {"certs": [{"cert": hex, "rootKey": hex DER, "canisterId": text}],
//          "trees": [{"tree": hex CBOR, "paths": [[hex label, ...], ...]}]}
// stdout: {"certs": [{"ok": true, "time": "ns"} | {"error": msg}],
//          "trees": [{"root": hex, "lookups": [{"status": s, "value": hex?}]}]}
import { readFileSync } from 'node:fs';
import { Certificate, Cbor, lookup_path, reconstruct, lookupResultToBuffer } from '@icp-sdk/core/agent';
import { Principal } from '@icp-sdk/core/principal';

const input = JSON.parse(readFileSync(0, 'utf8'));
const unhex = (s) => new Uint8Array(Buffer.from(s, 'hex'));
const hex = (u8) => Buffer.from(u8).toString('hex');

const certs = [];
for (const c of input.certs ?? []) {
  try {
    const cert = await Certificate.create({
      certificate: unhex(c.cert),
      rootKey: unhex(c.rootKey),
      principal: { canisterId: Principal.fromText(c.canisterId) },
    });
    const time = lookupResultToBuffer(cert.lookup_path(['time']));
    certs.push({ ok: true, time: hex(time) });
  } catch (e) {
    certs.push({ error: String(e && e.message ? e.message : e) });
  }
}

const trees = [];
for (const t of input.trees ?? []) {
  const tree = Cbor.decode(unhex(t.tree));
  const lookups = t.paths.map((p) => {
    const r = lookup_path(p.map(unhex), tree);
    return r.value === undefined ? { status: r.status } : { status: r.status, value: hex(r.value) };
  });
  trees.push({ root: hex(await reconstruct(tree)), lookups });
}
process.stdout.write(JSON.stringify({ certs, trees }));
