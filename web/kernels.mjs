// kernels.mjs: the per-token heavy lifting of icchat.chat's on-device sampler, over one
// position's logits (a Float32Array and an offset into it), so Python sees at most k numbers.
// Candidate order everywhere: value descending, equal values by lower token id first; NaN counts
// as -Infinity (never wins). `sample` is icchat.chat.sampling's steps 2-4 (its docstring is
// the definition), float64, sums left to right: keep the two identical (tests/chat checks).

// The first index of the largest logit in data[offset, offset + n); 0 if all are NaN.
export function argmax(data, offset, n) {
  let best = 0;
  let bestValue = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = data[offset + i];
    if (v > bestValue) {
      bestValue = v;
      best = i;
    }
  }
  return best;
}

// The k largest logits as a Float64Array [id0, value0, id1, value1, ...] in candidate order.
export function topk(data, offset, n, k) {
  k = Math.max(1, Math.min(k, n));
  const ids = k <= 256 ? topIdsInsertion(data, offset, n, k) : topIdsSorted(data, offset, n, k);
  const out = new Float64Array(2 * k);
  for (let j = 0; j < k; j++) {
    out[2 * j] = ids[j];
    out[2 * j + 1] = logit(data, offset, ids[j]);
  }
  return out;
}

// Sample among the top k (k <= 0 or >= n: all n) given u in [0, 1): weights at `temperature`,
// their total in id order; topP = 1: the inverse CDF at u in id order (no sort needed for the
// whole vocabulary); topP < 1: the shortest candidate-order prefix reaching topP of the total.
export function sample(data, offset, n, k, temperature, topP, u) {
  k = k <= 0 || k > n ? n : k;
  let order = k === n ? null : topIdsSorted(data, offset, n, k); // candidate order
  const members = order === null ? null : Int32Array.from(order).sort(); // id order
  const first = order === null ? argmax(data, offset, n) : order[0];
  const top = logit(data, offset, first);
  if (!Number.isFinite(top)) return first;
  const inverse = 1 / temperature;
  const weight = scratch(n).weight;
  let total = 0;
  for (let j = 0; j < k; j++) {
    const id = members === null ? j : members[j];
    weight[id] = Math.exp((logit(data, offset, id) - top) * inverse);
    total += weight[id];
  }
  if (topP >= 1) return inverseCdf(members, k, weight, total, u);
  const goal = topP * total;
  if (order === null) { // the whole vocabulary: try sorting only the logits near the top first
    const near = nucleusPrefix(data, offset, n, top, inverse, weight, goal);
    const found = near === null ? null : walk(near, near.length, weight, goal);
    if (found !== null) return inverseCdf(near, found.kept, weight, found.running, u);
    order = topIdsSorted(data, offset, n, n);
  }
  const { kept, running } = walk(order, k, weight, goal) ?? { kept: k, running: sumOf(order, k, weight) };
  return inverseCdf(order, kept, weight, running, u);
}

// The shortest prefix of ids (in candidate order) whose running weight reaches goal, or null.
function walk(ids, count, weight, goal) {
  let running = 0;
  for (let j = 0; j < count; j++) {
    running += weight[ids[j]];
    if (running >= goal) return { kept: j + 1, running };
  }
  return null;
}

function sumOf(ids, count, weight) {
  let total = 0;
  for (let j = 0; j < count; j++) total += weight[ids[j]];
  return total;
}

// The candidates whose logit lies within a margin of the top-p cut, in candidate order, or null
// if that is most of the vocabulary. Buckets of 1/8 in (top - v) / temperature locate the cut;
// every logit at least as large as a bucket bound is taken, so the result is a prefix of the
// full candidate order (equal values land in the same bucket) and walking it is exact; the caller
// falls back to the full sort if the walk does not reach the goal inside it.
function nucleusPrefix(data, offset, n, top, inverse, weight, goal) {
  const bucket = (i) => Math.min(256, (top - logit(data, offset, i)) * inverse * 8) | 0; // -inf: 256
  const masses = new Float64Array(257);
  const counts = new Int32Array(257);
  for (let i = 0; i < n; i++) {
    const b = bucket(i);
    masses[b] += weight[i];
    counts[b]++;
  }
  let bound = 0;
  let size = 0;
  for (let mass = 0; bound < 256 && mass < goal; bound++) {
    mass += masses[bound];
    size += counts[bound];
  }
  size += counts[bound]; // bound: the bucket after the one that reached the goal (a margin)
  if (bound >= 256 || size * 2 > n) return null;
  const ids = new Int32Array(size);
  for (let i = 0, j = 0; i < n; i++) if (bucket(i) <= bound) ids[j++] = i;
  return sortIds(data, offset, ids);
}

// The first of ids[0..count) (null: 0..count-1) whose running weight exceeds u * total.
function inverseCdf(ids, count, weight, total, u) {
  const target = u * total;
  let running = 0;
  for (let j = 0; j < count; j++) {
    const id = ids === null ? j : ids[j];
    running += weight[id];
    if (running > target) return id;
  }
  return ids === null ? count - 1 : ids[count - 1];
}

function logit(data, offset, id) {
  const v = data[offset + id];
  return v !== v ? -Infinity : v;
}

// Small k: one pass keeping the k best in a sorted buffer (most logits fail one comparison).
function topIdsInsertion(data, offset, n, k) {
  const ids = new Int32Array(k);
  const values = new Float64Array(k).fill(-Infinity);
  let have = 0;
  for (let i = 0; i < n; i++) {
    const v = logit(data, offset, i);
    if (have === k && !(v > values[k - 1])) continue; // a tie loses to the lower id already kept
    let j = have < k ? have++ : k - 1;
    for (; j > 0 && values[j - 1] < v; j--) {
      values[j] = values[j - 1];
      ids[j] = ids[j - 1];
    }
    values[j] = v;
    ids[j] = i;
  }
  return ids;
}

// Large k: every id in candidate order by a stable LSD radix sort (11-bit digits, 3 passes)
// of each value's order-preserving bits inverted, so ties keep ascending ids.
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
function topIdsSorted(data, offset, n, k) {
  const all = new Int32Array(n);
  for (let i = 0; i < n; i++) all[i] = i;
  return sortIds(data, offset, all).subarray(0, k);
}

// ids (ascending) in candidate order; returns a new array.
function sortIds(data, offset, input) {
  const m = input.length;
  const buffers = scratch(m);
  let [keys, ids, nextKeys, nextIds] = [buffers.keys, buffers.ids, buffers.nextKeys, buffers.nextIds];
  for (let j = 0; j < m; j++) {
    f32[0] = logit(data, offset, input[j]) + 0; // -0 becomes +0: equal values tie by id
    const bits = u32[0];
    keys[j] = bits & 0x80000000 ? bits : ~bits >>> 0 & 0x7fffffff; // larger value, smaller key
    ids[j] = input[j];
  }
  const counts = buffers.counts;
  for (const shift of [0, 11, 22]) {
    counts.fill(0);
    for (let i = 0; i < m; i++) counts[((keys[i] >>> shift) & 2047) + 1]++;
    for (let d = 1; d <= 2048; d++) counts[d] += counts[d - 1];
    for (let i = 0; i < m; i++) {
      const at = counts[(keys[i] >>> shift) & 2047]++;
      nextKeys[at] = keys[i];
      nextIds[at] = ids[i];
    }
    [keys, nextKeys, ids, nextIds] = [nextKeys, keys, nextIds, ids];
  }
  return ids.slice(0, m);
}

// Work arrays reused from call to call (a token's sampling allocates nothing of size n).
let buffers = null;
function scratch(n) {
  if (buffers === null || buffers.n < n) {
    buffers = { n, weight: new Float64Array(n), keys: new Uint32Array(n), ids: new Int32Array(n),
      nextKeys: new Uint32Array(n), nextIds: new Int32Array(n), counts: new Uint32Array(2049) };
  }
  return buffers;
}
