// A compute-heavy canister for metering tests and the instrumentation benchmark:
// y = W x over an n x n f32 matrix with SIMD, the shape of the gpt2 canister's inner loop.
#include <wasm_simd128.h>
#include "ic0.h"

#define N 256
static float W[N * N] __attribute__((aligned(16)));
static float X[N] __attribute__((aligned(16)));
static float Y[N] __attribute__((aligned(16)));

static void matvec(int n) {
    for (int o = 0; o < n; o++) {
        v128_t acc = wasm_f32x4_splat(0.0f);
        const float *row = W + o * n;
        for (int i = 0; i < n; i += 4)
            acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_v128_load(row + i), wasm_v128_load(X + i)));
        Y[o] = wasm_f32x4_extract_lane(acc, 0) + wasm_f32x4_extract_lane(acc, 1) +
               wasm_f32x4_extract_lane(acc, 2) + wasm_f32x4_extract_lane(acc, 3);
    }
}

__attribute__((export_name("canister_init"))) void init(void) {
    for (int i = 0; i < N * N; i++) W[i] = (float)(i % 7) * 0.25f;
    for (int i = 0; i < N; i++) X[i] = (float)i;
}

// Reply with the instructions counted for `rounds` matrix-vector products (rounds = arg byte).
__attribute__((export_name("canister_update matvec"))) void matvec_update(void) {
    unsigned char rounds = 1;
    if (ic0_msg_arg_data_size() > 0) ic0_msg_arg_data_copy(&rounds, 0, 1);
    for (int r = 0; r < rounds; r++) {
        matvec(N);
        X[r % N] = Y[r % N] * 1e-6f;  // feed back, so no round is redundant
    }
    unsigned long long used = ic0_performance_counter(0);
    ic0_msg_reply_data_append(&used, sizeof used);
    ic0_msg_reply();
}
