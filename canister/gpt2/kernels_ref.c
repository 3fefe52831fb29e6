/* kernels_ref.c: see kernels_ref.h. Plain loops over scalars; the fast kernels' order of f32
 * additions is reproduced with explicit lanes (LANES = 4, the v128 of f32x4), never by SIMD. */
#include "kernels_ref.h"

#include "kernels.h"
#include "mathf.h"

/* a · b + c must stay a rounded product then a rounded sum, as f32x4.mul then f32x4.add: no fused
 * multiply-add, whatever the target offers. */
#pragma clang fp contract(off)

#define LANES 4
#define WIDE_COLUMNS 768 /* kernels.c F32_WIDE v128 held in locals: 768 columns per wide block */
#define BATCH 8          /* kernels.c: matmul_f32 runs tokens in batches of eight */

/* ---- scalar twins of the v128 steps the kernels use ---- */

/* hsum and sum4 (kernels.c) both reduce a v128's lanes as (l0 + l2) + (l1 + l3): their shuffles
 * pair lane j with lane j + 2 first. */
static float reduce_lanes(const float lane[LANES]) { return (lane[0] + lane[2]) + (lane[1] + lane[3]); }

/* f32x4.pmax / pmin: b if a < b (resp. b < a), else a (NaN in a survives, as in the kernels). */
static float pmax(float a, float b) { return a < b ? b : a; }
static float pmin(float a, float b) { return b < a ? b : a; }

/* i32x4.trunc_sat_f32x4: toward zero, saturating, NaN -> 0. */
static int32_t trunc_sat(float v) {
  if (v != v) return 0;
  if (v >= 2147483648.0f) return INT32_MAX;
  if (v <= -2147483648.0f) return INT32_MIN;
  return (int32_t)v;
}

/* i16x8.narrow_i32x4_s: saturating. */
static int16_t narrow16(int32_t v) { return (int16_t)(v > 32767 ? 32767 : v < -32768 ? -32768 : v); }

static float from_bits(uint32_t bits) {
  union { uint32_t u; float f; } v = {bits};
  return v.f;
}

static uint32_t to_bits(float f) {
  union { float f; uint32_t u; } v = {f};
  return v.u;
}

/* One lane of gpt2_expf4 (mathf.h): clamp to [-87, 88], x = k ln2 + r, Horner's degree-6
 * polynomial, times 2^k built in the exponent bits. (The scalar gpt2_expf differs below -87.) */
static float exp_lane(float x) {
  x = pmax(pmin(x, 88.0f), -87.0f);
  float k = __builtin_rintf(x * GPT2_LOG2E);
  float r = (x - k * GPT2_LN2_HI) - k * GPT2_LN2_LO;
  float p = 1.0f / 720;
  p = p * r + 1.0f / 120;
  p = p * r + 1.0f / 24;
  p = p * r + 1.0f / 6;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  return p * from_bits((uint32_t)(trunc_sat(k) + 127) << 23);
}

/* ---- f32 products ----
 * kernels.c walks the columns in blocks: 768 while at least 768 remain, else 128 (a block of x is
 * held in v128 locals while every row streams past it, which the IC's cost table rewards). Within
 * a block, a row's products go to the four lanes of one v128, lane j taking columns j, j + 4, j + 8,
 * ... as a chain that starts with the first product (not 0 + it: that would turn -0 into +0). How
 * the block sums of a row are combined depends on where the row is, because four rows' block sums
 * reduce into one v128 (sum4, one store per four rows) while a lone row keeps its v128 unreduced:
 *   - rows in groups of four (matvec_f32, matvec_f32_rows) and every row of a batch of eight
 *     tokens (matmul_f32): each block's lanes are reduced (reduce_lanes), the block sums added
 *     in column order, then the bias;
 *   - the last rows % 4 rows of matvec_f32 (and so of matvec_f32_rows and of tokens past the last
 *     full batch of matmul_f32): lanes are added lane by lane across blocks and reduced once at
 *     the end, then the bias.
 * With one block (n = 128) both orders are one and the same. */

static int block_width(int n, int col) { return n - col >= WIDE_COLUMNS ? WIDE_COLUMNS : BLOCK_COLUMNS; }

/* lane[j] = the chain of W[col + j + 4i] · x[col + j + 4i] over one block. */
static void block_lanes(float lane[LANES], const float *w, const float *x, int col, int width) {
  for (int j = 0; j < LANES; j++) {
    lane[j] = w[col + j] * x[col + j];
    for (int i = LANES; i < width; i += LANES) lane[j] = lane[j] + w[col + i + j] * x[col + i + j];
  }
}

/* A row reduced per block (rows in fours, batched tokens). w: [n], x: [n]. */
static float row_reduced_per_block(const float *w, const float *x, int n, float bias) {
  float sum = 0.0f, lane[LANES];
  for (int col = 0; col < n; col += block_width(n, col)) {
    block_lanes(lane, w, x, col, block_width(n, col));
    sum = col == 0 ? reduce_lanes(lane) : sum + reduce_lanes(lane);
  }
  return sum + bias;
}

/* A row with lanes carried across blocks (matvec_f32's last rows % 4 rows). */
static float row_reduced_at_end(const float *w, const float *x, int n, float bias) {
  float acc[LANES], lane[LANES];
  for (int col = 0; col < n; col += block_width(n, col)) {
    block_lanes(lane, w, x, col, block_width(n, col));
    for (int j = 0; j < LANES; j++) acc[j] = col == 0 ? lane[j] : acc[j] + lane[j];
  }
  return reduce_lanes(acc) + bias;
}

void matmul_f32_ref(float *out, const float *w, const float *x, const float *bias, int rows, int n, int T) {
  int batched = T / BATCH * BATCH; /* tokens [0, batched) run in batches of eight */
  for (int t = 0; t < T; t++) {
    const float *xt = x + (size_t)t * n;   /* [n] */
    float *ot = out + (size_t)t * rows;    /* [rows] */
    for (int r = 0; r < rows; r++) {
      const float *wr = w + (size_t)r * n; /* [n] */
      int in_fours = t < batched || r < rows / 4 * 4;
      ot[r] = in_fours ? row_reduced_per_block(wr, xt, n, bias[r]) : row_reduced_at_end(wr, xt, n, bias[r]);
    }
  }
}

/* ---- q8 products ----
 * x is quantized per token to int16 (quantize_ref), each row's sum W[r]·q is an exact integer (the
 * bound on |q| keeps it inside i32), then the f32 steps of kernels.c quads_out:
 * (float(sum) · x_scale) · row_scale + bias. Every q8 kernel shares this; only the integer
 * arithmetic differs (int16 row quads, widened int8, relaxed_dot over u7 planes), and exact
 * integers do not depend on it. Sums are taken in wrapping 32-bit arithmetic as the kernels'
 * i32 lanes are, so they agree even past the bound. */

float row_limit_ref(int n) {
  int limit = (int)(2147483647u / (128u * (unsigned)n)); /* n · 128 · limit < 2^31 */
  return (float)(limit < 8191 ? limit : 8191);
}

float quantize_ref(int16_t *q, const float *x, int n, float limit) {
  float max = 0.0f;
  for (int i = 0; i < n; i++) max = pmax(max, from_bits(to_bits(x[i]) & 0x7fffffffu)); /* |x|: sign cleared */
  float inverse = max > 0 ? limit / max : 0.0f;
  for (int i = 0; i < n; i++) q[i] = narrow16(trunc_sat(__builtin_rintf(x[i] * inverse)));
  return max / limit;
}

static int32_t dot_i32(const int8_t *w, const int16_t *q, int n) { /* w, q: [n] */
  uint32_t sum = 0;
  for (int k = 0; k < n; k++) sum += (uint32_t)((int32_t)w[k] * q[k]);
  return (int32_t)sum;
}

void matmul_q8_ref(float *out, const int8_t *w, const float *scale, const float *x, const float *bias, int rows, int n,
                   int T) {
  int16_t q[n]; /* [n]: one token's activations */
  float limit = row_limit_ref(n);
  for (int t = 0; t < T; t++) {
    float x_scale = quantize_ref(q, x + (size_t)t * n, n, limit);
    for (int r = 0; r < rows; r++)
      out[(size_t)t * rows + r] = (float)dot_i32(w + (size_t)r * n, q, n) * x_scale * scale[r] + bias[r];
  }
}

void q8_quantize_ref(int16_t *q, float *scales, uint8_t *lo, uint8_t *hi, const float *x, int n, int T) {
  for (int t = 0; t < T; t++) scales[t] = quantize_ref(q + (size_t)t * n, x + (size_t)t * n, n, row_limit_ref(n));
  for (size_t i = 0; lo && i < (size_t)T * n; i++) { /* u = q + 8192 as u16, lo = u & 127, hi = u >> 7 (u8, saturating) */
    uint16_t u = (uint16_t)(q[i] + 8192);
    lo[i] = (uint8_t)(u & 127);
    hi[i] = (uint8_t)(u >> 7 > 255 ? 255 : u >> 7);
  }
}

void q8_row_sums_ref(int32_t *row_sums, const int8_t *w, int rows, int n) {
  for (int r = 0; r < rows; r++) {
    int32_t sum = 0;
    for (int k = 0; k < n; k++) sum += w[(size_t)r * n + k];
    row_sums[r] = sum;
  }
}

void quads_row_ref(float *out, const int8_t *w, int n, int r, float scale) {
  for (int k = 0; k < n; k++) out[k] = (float)w[(size_t)r * n + k] * scale;
}

/* ---- layernorm, GELU, residual ----
 * Sums run in four lanes from +0 (lane j: elements j, j + 4, ...), reduced as (l0 + l2) + (l1 + l3). */

static float lane_sum(const float *x, int n) {
  float lane[LANES] = {0.0f, 0.0f, 0.0f, 0.0f};
  for (int i = 0; i < n; i++) lane[i % LANES] = lane[i % LANES] + x[i];
  return reduce_lanes(lane);
}

void layernorm_ref(float *out, const float *x, const float *weight, const float *bias, int n) {
  float mean = lane_sum(x, n) / n;
  float lane[LANES] = {0.0f, 0.0f, 0.0f, 0.0f};
  for (int i = 0; i < n; i++) {
    float d = x[i] - mean;
    lane[i % LANES] = lane[i % LANES] + d * d;
  }
  float rstd = 1.0f / gpt2_sqrtf(reduce_lanes(lane) / n + 1e-5f);
  for (int i = 0; i < n; i++) out[i] = (x[i] - mean) * rstd * weight[i] + bias[i];
}

/* x / (1 + exp(-2u)), u = sqrt(2/pi) (x + 0.044715 x^3): kernels.c's form of the tanh GELU. */
void gelu_ref(float *x, int n) {
  for (int i = 0; i < n; i++) {
    float v = x[i];
    float u = -2.0f * 0.7978845608f * (v + 0.044715f * (v * (v * v)));
    x[i] = v / (1.0f + exp_lane(u));
  }
}

void add_inplace_ref(float *x, const float *y, int n) {
  for (int i = 0; i < n; i++) x[i] = x[i] + y[i];
}

/* ---- attention of one head over f32 keys and values ----
 * Head sizes 32 and 64 (kernels.c head_block): q is scaled first; each score is a chain in four
 * lanes reduced once; e_s = exp(score_s - max) summed in four lanes (lane j: positions j, j + 4,
 * ...); the output adds positions four at a time, ((v0 e0 + v1 e1) + (v2 e2 + v3 e3)), then one
 * at a time past the last four, and is multiplied by 1 / sum. Other head sizes (kernels.c's
 * general path): score = (lanes of q·k reduced) · scale, softmax with the scalar gpt2_expf for
 * positions past the last four and the sum (tail first, then the lanes), out += e_s v_s. */

static float chain_dot(const float *a, const float *b, int n) { /* lanes from the first product */
  float lane[LANES];
  for (int j = 0; j < LANES; j++) {
    lane[j] = a[j] * b[j];
    for (int i = LANES + j; i < n; i += LANES) lane[j] = lane[j] + a[i] * b[i];
  }
  return reduce_lanes(lane);
}

static void head_fixed(const float *q, const float *keys, const float *vals, int stride, int p, int head_size,
                       float scale, float *scores, float *out) {
  float qs[64]; /* [head_size] */
  for (int d = 0; d < head_size; d++) qs[d] = q[d] * scale;
  int n = p + 1, fours = n / LANES * LANES;
  float top = -__builtin_inff();
  for (int s = 0; s < n; s++) {
    scores[s] = chain_dot(keys + (size_t)s * stride, qs, head_size);
    top = pmax(top, scores[s]);
  }
  float lane[LANES] = {0.0f, 0.0f, 0.0f, 0.0f};
  for (int s = 0; s < n; s++) {
    scores[s] = exp_lane(scores[s] - top);
    lane[s % LANES] = lane[s % LANES] + scores[s];
  }
  for (int d = 0; d < head_size; d++) {
    float o = 0.0f;
    const float *v = vals + d; /* v[s · stride]: dimension d of position s */
    for (int s = 0; s < fours; s += LANES)
      o = o + ((v[(size_t)s * stride] * scores[s] + v[(size_t)(s + 1) * stride] * scores[s + 1]) +
               (v[(size_t)(s + 2) * stride] * scores[s + 2] + v[(size_t)(s + 3) * stride] * scores[s + 3]));
    for (int s = fours; s < n; s++) o = o + v[(size_t)s * stride] * scores[s];
    out[d] = o * (1.0f / reduce_lanes(lane));
  }
}

static void head_general(const float *q, const float *keys, const float *vals, int stride, int p, int head_size,
                         float scale, float *scores, float *out) {
  int n = p + 1, fours = n / LANES * LANES;
  for (int s = 0; s < n; s++) {
    float lane[LANES] = {0.0f, 0.0f, 0.0f, 0.0f}; /* kernels.c dot: lanes from +0 */
    for (int d = 0; d < head_size; d++) lane[d % LANES] = lane[d % LANES] + q[d] * keys[(size_t)s * stride + d];
    scores[s] = reduce_lanes(lane) * scale;
  }
  float max = scores[0];
  for (int s = 1; s < n; s++)
    if (scores[s] > max) max = scores[s];
  float lane[LANES] = {0.0f, 0.0f, 0.0f, 0.0f}, sum = 0.0f;
  for (int s = 0; s < fours; s++) {
    scores[s] = exp_lane(scores[s] - max);
    lane[s % LANES] = lane[s % LANES] + scores[s];
  }
  for (int s = fours; s < n; s++) sum += (scores[s] = gpt2_expf(scores[s] - max));
  sum += reduce_lanes(lane);
  for (int s = 0; s < n; s++) scores[s] = scores[s] * (1.0f / sum);
  for (int d = 0; d < head_size; d++) out[d] = 0.0f;
  for (int s = 0; s < n; s++)
    for (int d = 0; d < head_size; d++) out[d] = out[d] + scores[s] * vals[(size_t)s * stride + d];
}

void attention_head_ref(const float *q, const float *keys, const float *vals, int stride, int p, int head_size,
                        float *scores, float *out) {
  float scale = 1.0f / gpt2_sqrtf((float)head_size);
  if (head_size == 32 || head_size == 64) head_fixed(q, keys, vals, stride, p, head_size, scale, scores, out);
  else head_general(q, keys, vals, stride, p, head_size, scale, scores, out);
}

/* ---- attention over int16 keys and values (q8 models; head size 32 or 64) ----
 * kernels.c head_kv16: q quantized to |q| <= 8191; score_s = (float(k_s·q over dimensions 0..31)
 * + float(the rest)) · (q_scale / sqrt(head_size)) · key_scale_s, the two i32 halves kept apart so
 * neither overflows; positions p + 1 .. (p + 1 rounded up to 4) - 1 score -inf. e_s = exp(score_s
 * - max) (exp's clamp gives the -inf ones e^-87), w_s = e_s · value_scale_s, both summed in four
 * lanes; w_s becomes int16 scaled to sum to ~32767; out = (float(sum of w_s v_s, exact) ·
 * (sum w / (32767 · sum e))). */

void kv16_store_ref(const kv16_head *h, int pos, const float *k, const float *v, int head_size) {
  h->key_scale[pos] = quantize_ref(h->keys + (size_t)pos * head_size, k, head_size, 8191.0f);
  h->value_scale[pos] = quantize_ref(h->values + (size_t)pos * head_size, v, head_size, 8191.0f);
}

void attention_head_kv16_ref(const float *q, const kv16_head *h, int p, int head_size, float *scores,
                             int16_t *weights, float *out) {
  int16_t qq[64]; /* [head_size] */
  float q_scale = quantize_ref(qq, q, head_size, 8191.0f) / gpt2_sqrtf((float)head_size);
  int n = p + 1, tiles = (n + 3) / LANES * LANES; /* positions the four-wide passes touch */
  float top = -__builtin_inff();
  for (int s = 0; s < tiles; s++) {
    if (s < n) {
      const int16_t *k = h->keys + (size_t)s * head_size; /* [head_size] */
      uint32_t lo = 0, hi = 0;
      for (int d = 0; d < head_size; d++) *(d < 32 ? &lo : &hi) += (uint32_t)((int32_t)k[d] * qq[d]);
      float f = (float)(int32_t)lo;
      if (head_size > 32) f = f + (float)(int32_t)hi;
      scores[s] = f * q_scale * h->key_scale[s];
    } else {
      scores[s] = -__builtin_inff();
    }
    top = pmax(top, scores[s]);
  }
  float e_lane[LANES] = {0.0f, 0.0f, 0.0f, 0.0f}, w_lane[LANES] = {0.0f, 0.0f, 0.0f, 0.0f};
  for (int s = 0; s < tiles; s++) {
    float e = exp_lane(scores[s] - top);
    scores[s] = e * h->value_scale[s];
    e_lane[s % LANES] = e_lane[s % LANES] + e;
    w_lane[s % LANES] = w_lane[s % LANES] + scores[s];
  }
  float total = reduce_lanes(w_lane);
  float to_int = total > 0 ? 32767.0f / total : 0.0f;
  int pairs = (n + 1) / 2 * 2; /* positions the value pass reads: whole pairs */
  for (int s = 0; s < pairs; s++) weights[s] = narrow16(trunc_sat(__builtin_rintf(scores[s] * to_int)));
  float back = total / (32767.0f * reduce_lanes(e_lane));
  for (int d = 0; d < head_size; d++) {
    uint32_t sum = 0;
    for (int s = 0; s < pairs; s++) sum += (uint32_t)((int32_t)h->values[(size_t)s * head_size + d] * weights[s]);
    out[d] = (float)(int32_t)sum * back;
  }
}
