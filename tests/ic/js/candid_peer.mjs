// Candid peer for tests: encodes and decodes with an official JS implementation.
// Usage: node candid_peer.mjs IMPL   (IMPL: @dfinity/candid or @icp-sdk/core/candid)
// Each stdin line is a request, {"types": [T...], "values": [...]} or {"types": [T...], "hex": "..."};
// each stdout line the answer, {"hex": "..."} or {"values": [...]} or {"error": "..."}.
// Types and values use the JSON forms written by tests/ic/candid_json.py.
import { createInterface } from 'node:readline';

const impl = process.argv[2];
const { IDL } = await import(impl);
const { Principal } = await import(impl === '@dfinity/candid' ? '@dfinity/principal' : '@icp-sdk/core/principal');

const BIG = new Set(['nat', 'int', 'nat64', 'int64']);
const PRIMS = {
  null: IDL.Null, bool: IDL.Bool, nat: IDL.Nat, int: IDL.Int, nat8: IDL.Nat8, nat16: IDL.Nat16,
  nat32: IDL.Nat32, nat64: IDL.Nat64, int8: IDL.Int8, int16: IDL.Int16, int32: IDL.Int32,
  int64: IDL.Int64, float32: IDL.Float32, float64: IDL.Float64, text: IDL.Text,
  reserved: IDL.Reserved, empty: IDL.Empty, principal: IDL.Principal,
};

// Build IDL types; recursive knots are {"rec": id, "body": T} then {"recref": id}.
function buildType(d, recs) {
  if (d.prim) return PRIMS[d.prim];
  if (d.opt) return IDL.Opt(buildType(d.opt, recs));
  if (d.vec) return IDL.Vec(buildType(d.vec, recs));
  if (d.record) return IDL.Record(Object.fromEntries(d.record.map(([k, t]) => [k, buildType(t, recs)])));
  if (d.tuple) return IDL.Tuple(...d.tuple.map((t) => buildType(t, recs)));
  if (d.variant) return IDL.Variant(Object.fromEntries(d.variant.map(([k, t]) => [k, buildType(t, recs)])));
  if (d.func) {
    const [args, rets, anns] = d.func;
    return IDL.Func(args.map((t) => buildType(t, recs)), rets.map((t) => buildType(t, recs)), anns);
  }
  if (d.service) return IDL.Service(Object.fromEntries(d.service.map(([k, t]) => [k, buildType(t, recs)])));
  if (d.rec !== undefined) {
    const r = IDL.Rec();
    recs.set(d.rec, [r, d.body]);
    r.fill(buildType(d.body, recs));
    return r;
  }
  if (d.recref !== undefined) return recs.get(d.recref)[0];
  throw new Error('bad type ' + JSON.stringify(d));
}

function bodyOf(d, recs) {
  while (d.rec !== undefined || d.recref !== undefined) {
    d = d.rec !== undefined ? d.body : recs.get(d.recref)[1];
  }
  return d;
}

const hex = (u8) => Buffer.from(u8).toString('hex');
const unhex = (s) => new Uint8Array(Buffer.from(s, 'hex'));
const toFloat = (v) => (typeof v === 'string' ? Number(v) : v);
const fromFloat = (x) => (Number.isFinite(x) ? x : String(x));

// JSON value -> JS Candid value.
function toJs(d, v, recs) {
  d = bodyOf(d, recs);
  if (d.prim) {
    if (BIG.has(d.prim)) return BigInt(v);
    if (d.prim === 'float32' || d.prim === 'float64') return toFloat(v);
    if (d.prim === 'principal') return Principal.fromText(v);
    return v;
  }
  if (d.opt) return v.length ? [toJs(d.opt, v[0], recs)] : [];
  if (d.vec) {
    if (d.vec.prim === 'nat8') return unhex(v);
    return v.map((x) => toJs(d.vec, x, recs));
  }
  if (d.record) return Object.fromEntries(d.record.map(([k, t]) => [k, toJs(t, v[k], recs)]));
  if (d.tuple) return d.tuple.map((t, i) => toJs(t, v[i], recs));
  if (d.variant) {
    const [k] = Object.keys(v);
    const t = d.variant.find(([name]) => name === k)[1];
    return { [k]: toJs(t, v[k], recs) };
  }
  if (d.func) return [Principal.fromText(v[0]), v[1]];
  if (d.service) return Principal.fromText(v);
  throw new Error('bad type ' + JSON.stringify(d));
}

// JS Candid value -> JSON value.
function fromJs(d, v, recs) {
  d = bodyOf(d, recs);
  if (d.prim) {
    if (BIG.has(d.prim)) return v.toString();
    if (d.prim === 'float32' || d.prim === 'float64') return fromFloat(v);
    if (d.prim === 'principal') return v.toText();
    if (d.prim === 'null' || d.prim === 'reserved') return null;
    return v;
  }
  if (d.opt) return v.length ? [fromJs(d.opt, v[0], recs)] : [];
  if (d.vec) {
    if (d.vec.prim === 'nat8') return hex(v);
    return Array.from(v, (x) => fromJs(d.vec, x, recs));
  }
  if (d.record) return Object.fromEntries(d.record.map(([k, t]) => [k, fromJs(t, v[k], recs)]));
  if (d.tuple) return d.tuple.map((t, i) => fromJs(t, v[i], recs));
  if (d.variant) {
    const [k] = Object.keys(v);
    const t = d.variant.find(([name]) => name === k)[1];
    return { [k]: fromJs(t, v[k], recs) };
  }
  if (d.func) return [v[0].toText(), v[1]];
  if (d.service) return v.toText();
  throw new Error('bad type ' + JSON.stringify(d));
}

function answer(c) {
  try {
    const recs = new Map();
    const types = c.types.map((t) => buildType(t, recs));
    if (c.hex !== undefined) {
      const values = IDL.decode(types, unhex(c.hex));
      return { values: c.types.map((t, i) => fromJs(t, values[i], recs)) };
    }
    const values = c.types.map((t, i) => toJs(t, c.values[i], recs));
    return { hex: hex(IDL.encode(types, values)) };
  } catch (e) {
    return { error: String(e && e.message ? e.message : e) };
  }
}

for await (const line of createInterface({ input: process.stdin })) {
  process.stdout.write(JSON.stringify(answer(JSON.parse(line))) + '\n');
}
