/* ops_canister.c: ops.h for the gpt2 canister. The IC prices every wasm instruction (its cost
 * table), so q8 weights are widened once, at load, to int16 row quads: a product then costs one
 * load per 8 multiply-adds with no widening in the loop (kernels.h, docs/gpt2-canister.md). */
#include "ops.h"

#include "attention.h"
#include "kernels.h"

size_t ops_packed_bytes(const matrix *w, int layers) { return quads_size(w->rows, w->cols) * layers * 2; }

void ops_pack_q8(matrix *w, int layers, void *into) {
  size_t per_layer = quads_size(w->rows, w->cols); /* int16 */
  int16_t *quads = into;                           /* [layers][per_layer] */
  for (int l = 0; l < layers; l++)
    quads_from_int8(quads + l * per_layer, w->q8 + (size_t)l * w->rows * w->cols, w->rows, w->cols);
  w->packed = quads;
}

void ops_embed_q8(float *out, const matrix *wte, int token) {
  quads_row(out, wte->packed, wte->cols, token, wte->scale[token]);
}

/* Layer `layer` of a stacked matrix starts rows · cols elements further: rows of stacked
 * matrices are multiples of 4, so a layer's row quads take exactly as many int16 as its int8. */
static size_t layer_offset(const matrix *w, int layer) { return (size_t)layer * w->rows * w->cols; }

void ops_matmul_f32(gpt2_model *m, const matrix *w, int layer, const float *bias, const float *x, float *out, int T) {
  matmul_f32(out, w->f + layer_offset(w, layer), x, bias, w->rows, w->cols, T, m->partial);
}

void ops_matmul_q8(gpt2_model *m, const matrix *w, int layer, const float *bias, const float *x, float *out, int T) {
  const int16_t *quads = w->packed;
  matmul_q16(out, quads + layer_offset(w, layer), w->scale + (size_t)layer * w->rows, x, bias, w->rows, w->cols, T,
             m->partial, m->xq);
}

void ops_attention(gpt2_model *m, int layer, int T, int pos) { gpt2_attend(m, layer, T, pos); }
