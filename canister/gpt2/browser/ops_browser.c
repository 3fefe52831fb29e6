/* ops_browser.c: ops.h for the icchat engine (and ops_browser.h). q8 products read the weight
 * file's int8 rows, widened in registers (kernels_browser.h: in the browser the cost is time and
 * memory traffic, not the IC's table), with each row's sum packed beside them for the relaxed
 * products; f32 products are the canister's kernels (or their row-major twin, matvec_f32_rows).
 *
 * Threads (the ENGINE_THREADS build: shared imported memory, web/engine-thread.js): helper i runs
 * engine_thread_main(i) in its own Web Worker, on its own instance of this module over the same
 * memory, with its own stack. For each matrix product the calling thread publishes a job, bumps
 * `generation` and wakes the helpers; the job's units — runs of rows (q8, f32 for one token), of
 * token batches of eight (f32 prompts) or (token, head) pairs (attention) — go to whichever
 * thread takes them next (take_units), and the caller waits until all are done. A row's sum, a
 * token's and a head's are computed by one thread exactly as with one thread, so the results do
 * not depend on the number of threads or on who computed what (tests/engine/test_engine_threads.py). */
#include "ops_browser.h"

#include "attention.h"
#include "buffer_plan.h"
#include "kernels.h"
#include "kernels_browser.h"
#include "ops.h"
#include "rt.h"

#define EXPORT(name) __attribute__((export_name(#name)))

static q8_activations xq; /* [T][n] quantized activations (and their planes), [T] scales */
static size_t xq_capacity, scales_capacity;

typedef enum { JOB_Q8, JOB_F32_ROWS, JOB_F32_TOKENS, JOB_ATTEND } job_kind;
typedef struct {
  job_kind kind;
  float *out;              /* [T][rows] */
  const void *w;           /* [rows][n]: int8 (JOB_Q8) or f32 */
  const float *scale;      /* JOB_Q8: [rows] */
  const float *x;          /* [T][n] (JOB_Q8: quantized into xq before the job) */
  const float *bias;       /* [rows] */
  const int32_t *row_sums; /* JOB_Q8: [rows] */
  int rows, n, T;
  gpt2_model *model; /* JOB_ATTEND: layer in rows, first position in n */
} job;

static job current;
static int thread_count = 1;             /* the caller included */
static v128_t *partials[MAX_THREADS];     /* each helper's matmul_f32 scratch [plan_partial_bytes] */
static float *scores[MAX_THREADS];        /* each helper's attention scratch [plan_scores_bytes] */
static int16_t *weights16[MAX_THREADS];   /* [plan_weights16_bytes] */

static void reserve(size_t elements, int T) {
  if (elements > xq_capacity) { /* bump memory: a smaller old block is dropped (grows to n_ctx · 4C) */
    xq.q = rt_alloc(elements * 2, 64);
#ifdef __wasm_relaxed_simd__
    xq.lo = rt_alloc(elements, 64);
    xq.hi = rt_alloc(elements, 64);
#endif
    xq_capacity = elements;
  }
  if ((size_t)T > scales_capacity) {
    xq.scales = rt_alloc((size_t)T * 4, 64);
    scales_capacity = (size_t)T;
  }
}

/* A job is cut into units, computed whole by one thread each: 4 rows (q8 and one-token f32
 * products), a batch of 8 tokens (f32 prompts) or one (token, head) pair (attention). */
static int unit_size(const job *j) { return j->kind == JOB_ATTEND ? 1 : j->kind == JOB_F32_TOKENS ? 8 : 4; }

static int unit_count(const job *j) {
  int count = j->kind == JOB_ATTEND ? j->T * j->model->n_head : j->kind == JOB_F32_TOKENS ? j->T : j->rows;
  return (count + unit_size(j) - 1) / unit_size(j);
}

/* Units [ua, ub) of job j on thread i (its own scratch: partial, or the model's for thread 0). */
static void run_units(const job *j, int ua, int ub, int i, v128_t *partial) {
  int step = unit_size(j), a = ua * step, b = ub * step;
  if (j->kind == JOB_Q8) {
    if (b > j->rows) b = j->rows;
    matmul_q8_rows(j->out, j->w, j->scale, j->row_sums, &xq, j->bias, j->rows, j->n, j->T, a, b);
  } else if (j->kind == JOB_F32_ROWS) { /* one token: rows a..b are a smaller matrix of their own */
    if (b > j->rows) b = j->rows;
    matvec_f32_rows(j->out + a, (const float *)j->w + (size_t)a * j->n, j->x, j->bias + a, b - a, j->n, partial);
  } else if (j->kind == JOB_ATTEND) {
    gpt2_model *m = j->model;
    float *s = i ? scores[i] : m->scores;
    int16_t *w16 = i ? weights16[i] : m->weights16;
    for (int u = a; u < b; u++) {
      int t = u / m->n_head, h = u % m->n_head;
      gpt2_attend_head(m, j->rows, m->qkv + (size_t)t * 3 * m->n_embd, j->n + t, h, m->att + (size_t)t * m->n_embd, s, w16);
    }
  } else { /* a prompt: batches of eight tokens; a token's sums do not depend on its batch */
    if (b > j->T) b = j->T;
    matmul_f32(j->out + (size_t)a * j->rows, j->w, j->x + (size_t)a * j->n, j->bias, j->rows, j->n, b - a, partial);
  }
}

#ifdef ENGINE_THREADS
/* Units are handed out while the job runs, a few at a time, to whichever thread asks next: a
 * thread the machine does not run for a while (the page drawing, another tab) delays the job by
 * the units it holds, not by a fixed share (a static split made every product wait for the
 * slowest thread: twice the time per token inside the chat page on 2 busy cores).
 * `ticket` packs (job number : 16 | units : 24 | next unit : 24): one compare-and-swap takes
 * units of the job it names, or fails if that job changed, so a late helper never takes units of
 * a job it did not read; `done` counts finished units, and the caller waits for all of them. */
static uint64_t ticket;
static int done;
static int generation; /* bumped once per job: helpers sleep on it */
#define SPINS 20000 /* spin this long (~10-50 µs) before sleeping: waking a sleeping thread costs tens of µs, spinning longer starves a busy machine */
#define TICKET(job_no, units, next) (((uint64_t)(job_no) << 48) | ((uint64_t)(units) << 24) | (uint64_t)(next))

static void wait_while(int *word, int value) {
  for (int s = 0; s < SPINS; s++)
    if (__atomic_load_n(word, __ATOMIC_ACQUIRE) != value) return;
  while (__atomic_load_n(word, __ATOMIC_ACQUIRE) == value) __builtin_wasm_memory_atomic_wait32(word, value, -1);
}

/* Take and run units of the current job until none are left (any thread, the caller included). */
static void take_units(int i, v128_t *partial) {
  uint64_t t = __atomic_load_n(&ticket, __ATOMIC_ACQUIRE);
  for (;;) {
    int units = (int)((t >> 24) & 0xffffff), next = (int)(t & 0xffffff);
    if (next >= units) return;
    int chunk = units / (8 * thread_count);
    if (chunk < 1) chunk = 1;
    if (next + chunk > units) chunk = units - next;
    if (!__atomic_compare_exchange_n(&ticket, &t, t + (uint64_t)chunk, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
      continue; /* t now holds the ticket's current value */
    run_units(&current, next, next + chunk, i, partial); /* `current` is this job's until its units are done */
    if (__atomic_add_fetch(&done, chunk, __ATOMIC_ACQ_REL) == units) __builtin_wasm_memory_atomic_notify(&done, 1);
    t = __atomic_load_n(&ticket, __ATOMIC_ACQUIRE);
  }
}

/* Helper i (1 ≤ i < thread count) never returns: it sleeps until a job, takes units, repeats. */
EXPORT(engine_thread_main) void engine_thread_main(int i) {
  int seen = 0;
  for (;;) {
    wait_while(&generation, seen);
    seen = __atomic_load_n(&generation, __ATOMIC_ACQUIRE);
    take_units(i, partials[i]);
  }
}

static void dispatch(const job *j, v128_t *partial) {
  int units = unit_count(j);
  if (thread_count == 1 || units == 1) {
    run_units(j, 0, units, 0, partial);
    return;
  }
  static unsigned job_no;
  current = *j;
  __atomic_store_n(&done, 0, __ATOMIC_RELAXED);
  __atomic_store_n(&ticket, TICKET(++job_no & 0xffff, units, 0), __ATOMIC_RELEASE); /* publishes current and done */
  __atomic_add_fetch(&generation, 1, __ATOMIC_ACQ_REL);
  __builtin_wasm_memory_atomic_notify(&generation, (unsigned)thread_count - 1);
  take_units(0, partial);
  for (int d; (d = __atomic_load_n(&done, __ATOMIC_ACQUIRE)) != units;) wait_while(&done, d);
}
#else
static void dispatch(const job *j, v128_t *partial) { run_units(j, 0, unit_count(j), 0, partial); }
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
  for (int i = 1; i < n; i++)
    if (!partials[i]) { /* one model per engine instance: allocated once, as large as the model's own */
      partials[i] = rt_alloc(plan_partial_bytes(m), 64);
      scores[i] = rt_alloc(plan_scores_bytes(m), 64);
      weights16[i] = rt_alloc(plan_weights16_bytes(m), 64);
    }
  thread_count = n;
  return 0;
}

int browser_select_q8_kernel(int kernel) {
#ifdef __wasm_relaxed_simd__
  if (kernel != Q8_WIDEN && kernel != Q8_RELAXED) return -1;
#else
  if (kernel != Q8_WIDEN) return -1;
#endif
  q8_kernel = kernel;
  return 0;
}

void browser_q8_probe(gpt2_model *m, int reps) {
  int C = m->n_embd, rows = m->fcw.rows;
  reserve((size_t)C, 1);
  q8_quantize(&xq, m->xn, C, 1);
  for (int i = 0; i < reps; i++)
    matmul_q8_rows(m->fc, m->fcw.q8, m->fcw.scale, m->fcw.packed, &xq, m->fcb, rows, C, 1, 0, rows);
}

size_t ops_packed_bytes(const matrix *w, int layers) { return (size_t)layers * w->rows * 4; }

void ops_pack_q8(matrix *w, int layers, void *into) {
  int32_t *row_sums = into; /* [layers][rows] */
  q8_row_sums(row_sums, w->q8, (size_t)layers * w->rows, w->cols);
  w->packed = row_sums;
}

void ops_embed_q8(float *out, const matrix *wte, int token) {
  const int8_t *row = wte->q8 + (size_t)token * wte->cols; /* [C] */
  for (int i = 0; i < wte->cols; i++) out[i] = row[i] * wte->scale[token]; /* quads_row's product */
}

void ops_attention(gpt2_model *m, int layer, int T, int pos) {
  job j = {JOB_ATTEND, .rows = layer, .n = pos, .T = T, .model = m};
  dispatch(&j, 0);
}

/* m's scratch is not used: the quantized activations are this file's (xq), read by every thread. */
void ops_matmul_q8(gpt2_model *m, const matrix *w, int layer, const float *bias, const float *x, float *out, int T) {
  size_t offset = (size_t)layer * w->rows * w->cols;
  const int32_t *row_sums = (const int32_t *)w->packed + (size_t)layer * w->rows;
  reserve((size_t)T * w->cols, T);
  q8_quantize(&xq, x, w->cols, T);
  job j = {JOB_Q8, out, w->q8 + offset, w->scale + (size_t)layer * w->rows, x, bias, row_sums, w->rows, w->cols, T};
  dispatch(&j, 0);
}

void ops_matmul_f32(gpt2_model *m, const matrix *w, int layer, const float *bias, const float *x, float *out, int T) {
  const float *weights = w->f + (size_t)layer * w->rows * w->cols;
  job j = {T == 1 ? JOB_F32_ROWS : JOB_F32_TOKENS, out, weights, 0, x, bias, 0, w->rows, w->cols, T};
  dispatch(&j, m->partial);
}
