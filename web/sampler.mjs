// sampler.mjs: the gpt2 canister's token choice (canister/gpt2/sampling.c) in JavaScript, for
// engines whose logits live in JS (web/ort-engine.mjs). The same logits, settings, seed and
// position give the same token as sampling.c, bit for bit: every float32 operation of the C code
// is one Math.fround of the double result (exact for +, -, *, /), in the C code's order,
// including the order of its SIMD lanes where that order decides a sum or a maximum. Keep the
// two identical: tests/engine/test_sampler_parity.py compares them (and icchat.chat.sampling).

const f32 = Math.fround;
const MASK64 = (1n << 64n) - 1n;

// mathf.h's constants, as float32
const LOG2E = f32(1.44269504);
const LN2_HI = f32(0.693145752);
const LN2_LO = f32(1.42860677e-6);
const [C720, C120, C24, C6] = [1 / 720, 1 / 120, 1 / 24, 1 / 6].map(f32); // the polynomial's coefficients
const FLT_MIN = f32(1.17549435e-38);
const EXP_MIN = f32(-87.3);
const EXP_MAX = f32(88.7);
const GREEDY_INVERSE = f32(3e38);
const POW2 = Float64Array.from({ length: 254 }, (_, i) => 2 ** (i - 126)); // 2^k for the clamped exp's k

/** A 64-bit seed (decimal string, number or BigInt) as C's uint64_t. */
export function seedBits(seed) {
  try {
    return BigInt.asUintN(64, BigInt(seed));
  } catch {
    throw new Error(`the seed must be an integer, not ${JSON.stringify(String(seed))}`);
  }
}

/** sampling.c's draw_at: the uniform draw in [0, 1) for the token at absolute position `position`,
 * output number position + 1 of splitmix64 seeded with `seed`. */
export function drawAt(seed, position) {
  let z = (seedBits(seed) + (BigInt(position >>> 0) + 1n) * 0x9e3779b97f4a7c15n) & MASK64;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
  z ^= z >> 31n;
  return Number(z >> 40n) / 16777216; // 24 bits over 2^24: exact in float32
}

// wasm's f32x4.pmax / pmin: the second operand only when the comparison holds (NaN: the first)
const pmax = (a, b) => (a < b ? b : a);
const pmin = (a, b) => (b < a ? b : a);

/** wasm's f32.nearest: round half to even. */
function nearest(x) {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** mathf's degree-6 polynomial for e^r, Horner from the highest degree, every step in float32. */
function poly(r) {
  let p = f32(f32(C720 * r) + C120);
  p = f32(f32(p * r) + C24);
  p = f32(f32(p * r) + C6);
  p = f32(f32(p * r) + 0.5);
  p = f32(f32(p * r) + 1);
  return f32(f32(p * r) + 1);
}

/** mathf.c's gpt2_expf (the scalar exp, for the lanes past the last multiple of four). */
function expf(x) {
  if (x < EXP_MIN) return 0;
  if (x > EXP_MAX) return Infinity;
  const k = nearest(f32(x * LOG2E));
  let p = poly(f32(f32(x - f32(k * LN2_HI)) - f32(k * LN2_LO)));
  let e = k;
  if (e < -126) { // subnormal result: scaled in two steps
    p = f32(p * FLT_MIN);
    e += 126;
  }
  return f32(p * (e > 127 ? Infinity : 2 ** e)); // k = 128 (x just below 88.7): C's scale bits are +inf's
}

/** mathf.h's gpt2_expf4, one lane: the input clamped to [-87, 88] (so 2^k stays normal). */
function expf4(x) {
  x = pmax(pmin(x, 88), -87);
  const k = nearest(f32(x * LOG2E));
  const p = poly(f32(f32(x - f32(k * LN2_HI)) - f32(k * LN2_LO)));
  return f32(p * (POW2[k + 126] ?? 2 ** k)); // k in [-126, 127] (NaN: 2 ** NaN)
}

/** sampling.c's argmax: the first index of the largest logit as its SIMD code finds it (the
 * maximum by pmax over four lanes, 16 logits a step: a NaN never wins, and it hides the logits
 * after it in its lane of that step, as in C). 0 if every logit is NaN. */
export function argmax(logits, n = logits.length) {
  const m = [-Infinity, -Infinity, -Infinity, -Infinity];
  let i = 0;
  for (; i + 16 <= n; i += 16) {
    for (let lane = 0; lane < 4; lane++) {
      const a = pmax(logits[i + lane], logits[i + 4 + lane]);
      const b = pmax(logits[i + 8 + lane], logits[i + 12 + lane]);
      m[lane] = pmax(m[lane], pmax(a, b));
    }
  }
  const half = [pmax(m[0], m[2]), pmax(m[1], m[3])]; // shuffle 2, 3, 0, 1 (lanes 2, 3 mirror 0, 1)
  let best = pmax(half[0], half[1]); // shuffle 1, 0, 3, 2: lane 0
  for (; i < n; i++) if (logits[i] > best) best = logits[i];
  for (i = 0; i < n; i++) if (logits[i] === best) return i;
  return 0;
}

// ---- selection (sampling.c's quickselect, the same pivots and partitions) ----

function median3(a, b, c) {
  if (a > b) [a, b] = [b, a];
  if (b > c) b = c;
  return a > b ? a : b;
}

/** Partition a[lo, hi) around p: [lo, gt) above p, [gt, lt) equal (or NaN), [lt, hi) below. */
function partition3(a, lo, hi, p) {
  let g = lo, i = lo, l = hi;
  while (i < l) {
    const v = a[i];
    if (v > p) {
      a[i++] = a[g];
      a[g++] = v;
    } else if (v < p) {
      a[i] = a[--l];
      a[l] = v;
    } else {
      i++;
    }
  }
  return [g, l];
}

const pivot = (a, lo, hi) => median3(a[lo], a[lo + ((hi - lo) >> 1)], a[hi - 1]);

/** The k-th largest of a[0, n) (1 <= k <= n); reorders a. */
function kthLargest(a, n, k) {
  let lo = 0, hi = n;
  for (;;) {
    const p = pivot(a, lo, hi);
    const [gt, lt] = partition3(a, lo, hi, p);
    const above = gt - lo, equal = lt - gt;
    if (k <= above) {
      hi = gt;
    } else if (k <= above + equal) {
      return p;
    } else {
      k -= above + equal;
      lo = lt;
    }
  }
}

/** The largest w such that the weights >= w in a[0, n) sum to at least target; reorders a. */
function nucleusFloor(a, n, target) {
  let lo = 0, hi = n;
  let above = 0; // sum of the weights known to be larger than a[lo, hi)
  while (lo < hi) {
    const p = pivot(a, lo, hi);
    let larger = 0;
    const [gt, lt] = partition3(a, lo, hi, p);
    for (let i = lo; i < gt; i++) larger = f32(larger + a[i]);
    const equal = f32(p * (lt - gt));
    if (gt > lo && f32(above + larger) >= target) {
      hi = gt;
    } else if (f32(f32(above + larger) + equal) >= target) {
      return p;
    } else {
      above = f32(above + f32(larger + equal));
      lo = lt;
    }
  }
  return 0; // rounding left target above the total: keep everything
}

/** sampling.c's sample: temperature > 0, topK 0 or >= n (no cut), topP in (0, 1], u from drawAt.
 * logits: a Float32Array it scribbles on; scratch: a Float32Array of at least n. */
export function sample(logits, n, temperature, topK, topP, u, scratch = new Float32Array(n)) {
  temperature = f32(temperature);
  topP = f32(topP);
  let floor = -Infinity;
  if (topK && topK < n) {
    scratch.set(logits.subarray(0, n));
    floor = kthLargest(scratch, n, topK);
  }
  const best = argmax(logits, n);
  const max = logits[best], inverse = f32(1 / temperature);
  if (inverse > GREEDY_INVERSE) return best; // a temperature this close to 0 is greedy
  // weights exp((logit - max) / temperature), zero below the top-k floor; C sums them in four
  // lanes (the SIMD loop), then the rest in order, then the lanes into that
  let lane0 = 0, lane1 = 0, lane2 = 0, lane3 = 0;
  const weight = (v) => (v >= floor ? expf4(f32(f32(v - max) * inverse)) : 0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    lane0 = f32(lane0 + (logits[i] = weight(logits[i])));
    lane1 = f32(lane1 + (logits[i + 1] = weight(logits[i + 1])));
    lane2 = f32(lane2 + (logits[i + 2] = weight(logits[i + 2])));
    lane3 = f32(lane3 + (logits[i + 3] = weight(logits[i + 3])));
  }
  let sum = 0;
  for (; i < n; i++) {
    logits[i] = logits[i] >= floor ? expf(f32(f32(logits[i] - max) * inverse)) : 0;
    sum = f32(sum + logits[i]);
  }
  sum = f32(sum + f32(f32(f32(lane0 + lane1) + lane2) + lane3));
  if (topP < 1) { // nucleus: zero the weights below the floor, then sum again
    scratch.set(logits.subarray(0, n));
    const keep = nucleusFloor(scratch, n, f32(topP * sum));
    sum = 0;
    for (i = 0; i < n; i++) {
      if (logits[i] < keep) logits[i] = 0;
      sum = f32(sum + logits[i]);
    }
  }
  const target = f32(u * sum);
  let running = 0;
  for (i = 0; i < n; i++) {
    running = f32(running + logits[i]);
    if (running > target) return i;
  }
  // the scan's sum rounded just below target (the total was summed in another order): the most
  // likely token, not the last one
  return best;
}

/** The next token as the gpt2 canister chooses it (engine.c engine_next / chat.c next_token):
 * argmax at temperature 0, else sample() with drawAt(seed, position). Checks the settings as the
 * canister does (Error with one line); consumes `logits` (a Float32Array: sample scribbles on it). */
export function nextToken(logits, temperature, topK, topP, seed, position, scratch = undefined) {
  const t = f32(temperature), p = f32(topP);
  if (!(t >= 0) || t > 100) throw new Error("temperature must be between 0 and 100");
  if (!(p > 0 && p <= 1)) throw new Error("top_p must be greater than 0 and at most 1");
  if (t === 0) return argmax(logits);
  const u = drawAt(seed, position);
  return sample(logits, logits.length, t, topK >>> 0, p, u, scratch);
}
