// Request id peer: @icp-sdk/core's requestIdOf on maps given as tagged JSON.
// stdin: [map...], where values are {"b": hex} | {"s": text} | {"n": "decimal nat"} | {"a": [value]} | {"m": map}
// stdout: [hex request id...]
import { readFileSync } from 'node:fs';
import { requestIdOf } from '@icp-sdk/core/agent';

const untag = (v) => {
  if ('b' in v) return new Uint8Array(Buffer.from(v.b, 'hex'));
  if ('s' in v) return v.s;
  if ('n' in v) return BigInt(v.n);
  if ('a' in v) return v.a.map(untag);
  return Object.fromEntries(Object.entries(v.m).map(([k, x]) => [k, untag(x)]));
};
const maps = JSON.parse(readFileSync(0, 'utf8'));
process.stdout.write(JSON.stringify(maps.map((m) => Buffer.from(requestIdOf(untag({ m }))).toString('hex'))));
