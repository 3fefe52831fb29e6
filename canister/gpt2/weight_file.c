/* weight_file.c: see weight_file.h. */
#include "weight_file.h"

#include "kernels.h" /* BLOCK_COLUMNS: the products' inner dimension */
#include "rt.h"

#define HEADER_SIZE 256
#define ENTRY_SIZE 64
#define ALIGN 64
#define GPT2_EOS_TOKEN 50256 /* a header whose eos_token_id is 0 (written before the field existed): GPT-2's */

static uint32_t u32_at(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t u64_at(const uint8_t *p) { return u32_at(p) | (uint64_t)u32_at(p + 4) << 32; }

typedef struct {
  uint32_t version, dtype, n_layer, n_head, n_embd, n_ctx, vocab, padded, n_tensors, align;
  uint64_t table_offset, data_offset, file_size;
  uint32_t eos; /* the token that ends a reply */
} header;

static header read_header(const uint8_t *file) {
  header h;
  uint32_t *fields = &h.version;
  for (int i = 0; i < 10; i++) fields[i] = u32_at(file + 8 + 4 * i);
  h.table_offset = u64_at(file + 48);
  h.data_offset = u64_at(file + 56);
  h.file_size = u64_at(file + 64);
  h.eos = u32_at(file + 72);
  if (!h.eos) h.eos = GPT2_EOS_TOKEN;
  return h;
}

/* The tensor called `name` with `count` elements of `dtype` (0 f32, 1 int8), or NULL. */
static const void *find(const uint8_t *file, const header *h, const char *name, uint32_t dtype, uint64_t count) {
  size_t len = strlen(name);
  for (uint32_t i = 0; i < h->n_tensors; i++) {
    const uint8_t *e = file + h->table_offset + (uint64_t)i * ENTRY_SIZE;
    if (memcmp(e, name, len) || (len < 32 && e[len])) continue;
    uint32_t ndim = u32_at(e + 36);
    uint64_t elements = 1, offset = u64_at(e + 56);
    for (uint32_t d = 0; d < 4; d++) elements *= d < ndim ? u32_at(e + 40 + 4 * d) : 1;
    uint64_t bytes = elements * (dtype ? 1 : 4);
    if (u32_at(e + 32) != dtype || ndim > 4 || elements != count || offset % ALIGN || offset > h->file_size ||
        bytes > h->file_size - offset)
      return 0;
    return file + offset;
  }
  return 0;
}

static const char *const F32_TENSORS[] = {"wpe", "ln1w", "ln1b", "qkvb", "attprojb", "ln2w", "ln2b", "fcb", "fcprojb", "lnfw", "lnfb"};
static const char *const MATRICES[] = {"wte", "qkvw", "attprojw", "fcw", "fcprojw"};

/* Elements of F32_TENSORS[i]: wpe [n_ctx][C]; per layer ln1w, ln1b [L][C], qkvb [L][3C],
 * attprojb, ln2w, ln2b [L][C], fcb [L][4C], fcprojb [L][C]; lnfw, lnfb [C]. */
static uint64_t f32_count(const header *h, int i) {
  uint64_t L = h->n_layer, C = h->n_embd;
  const uint64_t counts[] = {h->n_ctx * C, L * C, L * C, L * 3 * C, L * C, L * C, L * C, L * 4 * C, L * C, C, C};
  return counts[i];
}
/* MATRICES[i] is [layers][rows][cols]: wte [padded_vocab][C]; qkvw [L][3C][C], attprojw [L][C][C],
 * fcw [L][4C][C], fcprojw [L][C][4C]. */
static void matrix_shape(const header *h, int i, uint64_t *layers, uint64_t *rows, uint64_t *cols) {
  uint64_t C = h->n_embd;
  const uint64_t r[] = {h->padded, 3 * C, C, 4 * C, C}, c[] = {C, C, C, C, 4 * C};
  *layers = i ? h->n_layer : 1;
  *rows = r[i];
  *cols = c[i];
}

const char *gpt2_check(const uint8_t *file, size_t size, char *error, size_t error_size) {
  if (size < HEADER_SIZE || memcmp(file, "ICGPT2W", 8)) return "not a gpt2 canister weight file (bad magic)";
  header h = read_header(file);
  if (h.version != 1) return "unsupported weight file version (this canister reads version 1)";
  if (h.file_size != size) {
    rt_format(error, error_size, "weight file header says %llu bytes, got %llu", (unsigned long long)h.file_size,
              (unsigned long long)size);
    return error;
  }
  if (h.dtype > 1) return "unknown weight dtype (expected f32 or q8)";
  if (!h.n_layer || !h.n_head || h.n_embd % h.n_head || (h.n_embd / h.n_head) % 4 || h.n_layer > 96)
    return "bad model dimensions in the weight file header";
  if (h.n_embd % BLOCK_COLUMNS || h.n_embd > 8192) {
    rt_format(error, error_size, "n_embd must be a multiple of %d (at most 8192), got %u", BLOCK_COLUMNS, h.n_embd);
    return error;
  }
  if (!h.n_ctx || h.n_ctx > 4096 || !h.vocab || h.padded < h.vocab || h.padded > 1u << 20)
    return "bad context or vocabulary size in the weight file header";
  if (h.eos >= h.vocab && h.eos != GPT2_EOS_TOKEN) { /* GPT-2's may lie past a test model's small vocabulary */
    rt_format(error, error_size, "eos_token_id %u is outside the vocabulary (%u tokens)", h.eos, h.vocab);
    return error;
  }
  if (h.table_offset < HEADER_SIZE || h.n_tensors > 64 || h.table_offset + (uint64_t)h.n_tensors * ENTRY_SIZE > size)
    return "tensor table out of bounds";
  for (int i = 0; i < 11; i++)
    if (!find(file, &h, F32_TENSORS[i], 0, f32_count(&h, i))) {
      rt_format(error, error_size, "weight file lacks tensor `%s` (f32, right shape, in bounds)", F32_TENSORS[i]);
      return error;
    }
  for (int i = 0; i < 5; i++) {
    uint64_t layers, rows, cols;
    matrix_shape(&h, i, &layers, &rows, &cols);
    char scale[40];
    rt_format(scale, sizeof scale, "%s.scale", MATRICES[i]);
    if (!find(file, &h, MATRICES[i], h.dtype, layers * rows * cols) || (h.dtype && !find(file, &h, scale, 0, layers * rows))) {
      rt_format(error, error_size, "weight file lacks tensor `%s` (%s, right shape, in bounds)", MATRICES[i], h.dtype ? "int8 + scale" : "f32");
      return error;
    }
  }
  return 0;
}

void weight_file_read(gpt2_model *m, const uint8_t *file) {
  header h = read_header(file);
  m->n_layer = (int)h.n_layer, m->n_head = (int)h.n_head, m->n_embd = (int)h.n_embd, m->n_ctx = (int)h.n_ctx;
  m->vocab_size = (int)h.vocab, m->padded_vocab = (int)h.padded, m->q8 = (int)h.dtype, m->eos_token_id = h.eos;
  const float **f32[] = {&m->wpe, &m->ln1w, &m->ln1b, &m->qkvb, &m->attprojb, &m->ln2w, &m->ln2b, &m->fcb, &m->fcprojb, &m->lnfw, &m->lnfb};
  for (int i = 0; i < 11; i++) *f32[i] = find(file, &h, F32_TENSORS[i], 0, f32_count(&h, i));
  matrix *mats[] = {&m->wte, &m->qkvw, &m->attprojw, &m->fcw, &m->fcprojw};
  for (int i = 0; i < 5; i++) {
    uint64_t layers, rows, cols;
    matrix_shape(&h, i, &layers, &rows, &cols);
    matrix *x = mats[i];
    *x = (matrix){.rows = (int)rows, .cols = (int)cols};
    const void *data = find(file, &h, MATRICES[i], h.dtype, layers * rows * cols);
    if (h.dtype) {
      char scale[40];
      rt_format(scale, sizeof scale, "%s.scale", MATRICES[i]);
      x->q8 = data;
      x->scale = find(file, &h, scale, 0, layers * rows);
    } else {
      x->f = data;
    }
  }
}
