/* sha256.c: SHA-256 (FIPS 180-4).
 *
 * Written for the IC's cost model, where every WASM operator counts (local.get included) and
 * a memory load costs as much as an add: the 64 rounds are fully unrolled with constant indices,
 * so K[i] becomes an immediate, the working variables rotate by name instead of moving, and the
 * message schedule is a 16-word window whose indices are constants too (the compiler keeps it in
 * locals). The four big-endian loads of a block row are one SIMD byte shuffle. */
#include "sha256.h"

#include <wasm_simd128.h>

#include "rt.h"

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROTR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))
#define S0(x) (ROTR(x, 2) ^ ROTR(x, 13) ^ ROTR(x, 22))
#define S1(x) (ROTR(x, 6) ^ ROTR(x, 11) ^ ROTR(x, 25))
#define s0(x) (ROTR(x, 7) ^ ROTR(x, 18) ^ ((x) >> 3))
#define s1(x) (ROTR(x, 17) ^ ROTR(x, 19) ^ ((x) >> 10))
#define CH(e, f, g) ((g) ^ ((e) & ((f) ^ (g))))
#define MAJ(a, b, c) (((a) & (b)) | ((c) & ((a) | (b))))

/* w[i & 15] holds W[i]; for i >= 16 it is computed in place from the window. */
#define W(i) w[(i) & 15]
#define NEXT(i) (W(i) += s1(W((i) - 2)) + W((i) - 7) + s0(W((i) - 15)))
#define ROUND(a, b, c, d, e, f, g, h, i, wi)                   \
  do {                                                         \
    uint32_t t1 = h + S1(e) + CH(e, f, g) + K[i] + (wi);       \
    d += t1;                                                   \
    h = t1 + S0(a) + MAJ(a, b, c);                             \
  } while (0)
#define EIGHT(i, WI)                                 \
  ROUND(a, b, c, d, e, f, g, h, (i) + 0, WI((i) + 0)); \
  ROUND(h, a, b, c, d, e, f, g, (i) + 1, WI((i) + 1)); \
  ROUND(g, h, a, b, c, d, e, f, (i) + 2, WI((i) + 2)); \
  ROUND(f, g, h, a, b, c, d, e, (i) + 3, WI((i) + 3)); \
  ROUND(e, f, g, h, a, b, c, d, (i) + 4, WI((i) + 4)); \
  ROUND(d, e, f, g, h, a, b, c, (i) + 5, WI((i) + 5)); \
  ROUND(c, d, e, f, g, h, a, b, (i) + 6, WI((i) + 6)); \
  ROUND(b, c, d, e, f, g, h, a, (i) + 7, WI((i) + 7))

static void compress(uint32_t state[8], const uint8_t *block) {
  uint32_t w[16];
  for (int row = 0; row < 4; row++) {
    v128_t bytes = wasm_v128_load(block + 16 * row);
    v128_t words = wasm_i8x16_shuffle(bytes, bytes, 3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12);
    w[4 * row] = wasm_i32x4_extract_lane(words, 0);
    w[4 * row + 1] = wasm_i32x4_extract_lane(words, 1);
    w[4 * row + 2] = wasm_i32x4_extract_lane(words, 2);
    w[4 * row + 3] = wasm_i32x4_extract_lane(words, 3);
  }
  uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
  uint32_t e = state[4], f = state[5], g = state[6], h = state[7];
  EIGHT(0, W);
  EIGHT(8, W);
  EIGHT(16, NEXT);
  EIGHT(24, NEXT);
  EIGHT(32, NEXT);
  EIGHT(40, NEXT);
  EIGHT(48, NEXT);
  EIGHT(56, NEXT);
  state[0] += a; state[1] += b; state[2] += c; state[3] += d;
  state[4] += e; state[5] += f; state[6] += g; state[7] += h;
}

void sha256_init(sha256_ctx *ctx) {
  static const uint32_t H0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  memcpy(ctx->state, H0, sizeof H0);
  ctx->length = 0;
  ctx->used = 0;
}

void sha256_update(sha256_ctx *ctx, const void *data, size_t size) {
  const uint8_t *p = data;
  ctx->length += size;
  if (ctx->used) {
    size_t take = 64 - ctx->used < size ? 64 - ctx->used : size;
    memcpy(ctx->block + ctx->used, p, take);
    ctx->used += take;
    p += take;
    size -= take;
    if (ctx->used < 64) return;
    compress(ctx->state, ctx->block);
    ctx->used = 0;
  }
  for (; size >= 64; p += 64, size -= 64) compress(ctx->state, p);
  memcpy(ctx->block, p, size);
  ctx->used = size;
}

void sha256_final(sha256_ctx *ctx, uint8_t digest[32]) {
  uint64_t bits = ctx->length * 8;
  uint8_t pad[72] = {0x80};
  size_t pad_size = (ctx->used < 56 ? 56 : 120) - ctx->used;
  for (int i = 0; i < 8; i++) pad[pad_size + i] = (uint8_t)(bits >> (56 - 8 * i));
  uint64_t length = ctx->length;
  sha256_update(ctx, pad, pad_size + 8);
  ctx->length = length;
  for (int i = 0; i < 8; i++) {
    digest[4 * i] = (uint8_t)(ctx->state[i] >> 24);
    digest[4 * i + 1] = (uint8_t)(ctx->state[i] >> 16);
    digest[4 * i + 2] = (uint8_t)(ctx->state[i] >> 8);
    digest[4 * i + 3] = (uint8_t)ctx->state[i];
  }
}

void sha256(const void *data, size_t size, uint8_t digest[32]) {
  sha256_ctx ctx;
  sha256_init(&ctx);
  sha256_update(&ctx, data, size);
  sha256_final(&ctx, digest);
}
