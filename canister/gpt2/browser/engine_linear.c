/* engine_linear.c: see engine_linear.h.
 *
 * Threads (the ENGINE_THREADS build: shared imported memory, web/engine-thread.js): helper i runs
 * engine_thread_main(i) in its own Web Worker, on its own instance of this module over the same
 * memory, with its own stack. For each matrix product the calling thread publishes a job, bumps
 * `generation` and wakes the helpers; every thread computes its share — a range of rows (q8, f32
 * for one token), of token batches of eight (f32 prompts) or of (token, head) pairs (attention)
 * — and the caller waits until `remaining` is 0. A row's sum, a token's and a head's are computed
 * by one thread exactly as with one thread, so the results do not depend on the number of threads
 * (tests/engine/test_engine_threads.py). */
#include "engine_linear.h"

#include "kernels.h"
#include "kernels_browser.h"
#include "rt.h"

#define EXPORT(name) __attribute__((export_name(#name)))

static int16_t *xq;     /* T · n quantized activations */
static float *x_scales; /* one per token */
static size_t xq_capacity, scales_capacity;

typedef enum { JOB_Q8, JOB_F32_ROWS, JOB_F32_TOKENS, JOB_ATTEND } job_kind;
typedef struct {
  job_kind kind;
  float *out;
  const void *w;
  const float *scale, *x, *bias;
  int rows, n, T;
  gpt2_model *model; /* JOB_ATTEND: layer in rows, first position in n */
} job;

static job current;
static int thread_count = 1;             /* the caller included */
static v128_t *partials[MAX_THREADS];     /* each helper's matmul_f32 scratch */
static float *scores[MAX_THREADS];        /* each helper's attention scratch */
static int16_t *weights16[MAX_THREADS];

static void reserve(size_t elements, int T) {
  if (elements > xq_capacity) {
    xq = rt_alloc(elements * 2, 64); /* bump memory: a smaller old block is dropped (grows to n_ctx · 4C) */
    xq_capacity = elements;
  }
  if ((size_t)T > scales_capacity) {
    x_scales = rt_alloc((size_t)T * 4, 64);
    scales_capacity = (size_t)T;
  }
}

/* [*a, *b): thread i's share of `count` units in steps of `step` (the last share takes the rest). */
static void share(int count, int step, int i, int *a, int *b) {
  int units = (count + step - 1) / step, per = (units + thread_count - 1) / thread_count;
  *a = i * per * step;
  *b = (i + 1) * per * step;
  if (*a > count) *a = count;
  if (*b > count) *b = count;
}

static void run_share(const job *j, int i, v128_t *partial) {
  int a, b;
  if (j->kind == JOB_Q8) {
    share(j->rows, 4, i, &a, &b);
    if (a < b) matmul_q8_rows(j->out, j->w, j->scale, xq, x_scales, j->bias, j->rows, j->n, j->T, a, b);
  } else if (j->kind == JOB_F32_ROWS) { /* one token: rows a..b are a smaller matrix of their own */
    share(j->rows, 4, i, &a, &b);
    if (a < b) matvec_f32(j->out + a, (const float *)j->w + (size_t)a * j->n, j->x, j->bias + a, b - a, j->n, partial);
  } else if (j->kind == JOB_ATTEND) { /* (token, head) pairs */
    gpt2_model *m = j->model;
    share(j->T * m->n_head, 1, i, &a, &b);
    float *s = i ? scores[i] : m->scores;
    int16_t *w16 = i ? weights16[i] : m->weights16;
    for (int u = a; u < b; u++) {
      int t = u / m->n_head, h = u % m->n_head;
      gpt2_attend_head(m, j->rows, m->qkv + (size_t)t * 3 * m->n_embd, j->n + t, h, m->att + (size_t)t * m->n_embd, s, w16);
    }
  } else { /* a prompt: batches of eight tokens; a token's sums do not depend on its batch */
    share(j->T, 8, i, &a, &b);
    if (a < b)
      matmul_f32(j->out + (size_t)a * j->rows, j->w, j->x + (size_t)a * j->n, j->bias, j->rows, j->n, b - a, partial);
  }
}

#ifdef ENGINE_THREADS
static int generation; /* bumped once per job */
static int remaining;  /* helpers still on the current job */
#define SPINS 20000 /* spin this long (~10-50 µs) before sleeping: waking a sleeping thread costs tens of µs, spinning longer starves a busy machine */

static void wait_while(int *word, int value) {
  for (int s = 0; s < SPINS; s++)
    if (__atomic_load_n(word, __ATOMIC_ACQUIRE) != value) return;
  while (__atomic_load_n(word, __ATOMIC_ACQUIRE) == value) __builtin_wasm_memory_atomic_wait32(word, value, -1);
}

/* Helper i (1 ≤ i < thread count) never returns: it sleeps until a job, runs its share, repeats. */
EXPORT(engine_thread_main) void engine_thread_main(int i) {
  int seen = 0;
  for (;;) {
    wait_while(&generation, seen);
    seen = __atomic_load_n(&generation, __ATOMIC_ACQUIRE);
    run_share(&current, i, partials[i]);
    if (__atomic_sub_fetch(&remaining, 1, __ATOMIC_ACQ_REL) == 0) __builtin_wasm_memory_atomic_notify(&remaining, 1);
  }
}

static void dispatch(const job *j, v128_t *partial) {
  if (thread_count == 1) {
    run_share(j, 0, partial);
    return;
  }
  current = *j;
  __atomic_store_n(&remaining, thread_count - 1, __ATOMIC_RELEASE);
  __atomic_add_fetch(&generation, 1, __ATOMIC_ACQ_REL);
  __builtin_wasm_memory_atomic_notify(&generation, (unsigned)thread_count - 1);
  run_share(j, 0, partial);
  for (int r; (r = __atomic_load_n(&remaining, __ATOMIC_ACQUIRE)) != 0;) wait_while(&remaining, r);
}
#else
static void dispatch(const job *j, v128_t *partial) { run_share(j, 0, partial); }
#endif

int browser_max_threads(void) {
#ifdef ENGINE_THREADS
  return MAX_THREADS;
#else
  return 1;
#endif
}

int browser_set_threads(int n, const gpt2_model *m) {
  if (n < 1 || n > browser_max_threads()) return -1;
  /* the model's own sizes (model.c gpt2_load): partial sums, scores and int16 weights */
  size_t rows = (size_t)(m->padded_vocab > 4 * m->n_embd ? m->padded_vocab : 4 * m->n_embd);
  size_t T4 = (size_t)(m->n_ctx + 3) / 4 * 4;
  for (int i = 1; i < n; i++)
    if (!partials[i]) { /* one model per engine instance: allocated once */
      partials[i] = rt_alloc((2 * rows + 8) * 16, 64);
      scores[i] = rt_alloc(((size_t)m->n_ctx + 8) * 4, 64);
      weights16[i] = rt_alloc((T4 + 8) * 2, 64);
    }
  thread_count = n;
  return 0;
}

void browser_attend(gpt2_model *m, int layer, int T, int pos) {
  job j = {JOB_ATTEND, 0, 0, 0, 0, 0, layer, pos, T, m};
  dispatch(&j, 0);
}

void browser_linear_q8(float *out, const int8_t *w, const float *scale, const float *x, const float *bias, int rows,
                       int n, int T) {
  reserve((size_t)T * n, T);
  q8_quantize(xq, x_scales, x, n, T);
  job j = {JOB_Q8, out, w, scale, x, bias, rows, n, T};
  dispatch(&j, 0);
}

void browser_linear_f32(float *out, const float *w, const float *x, const float *bias, int rows, int n, int T,
                        v128_t *partial) {
  job j = {T == 1 ? JOB_F32_ROWS : JOB_F32_TOKENS, out, w, 0, x, bias, rows, n, T};
  dispatch(&j, partial);
}
